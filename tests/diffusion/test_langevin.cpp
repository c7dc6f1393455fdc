#include "scorelift/diffusion/samplers/langevin.hpp"

#include <doctest/doctest.h>

#include "sampler_checks.hpp"

using namespace scorelift::diffusion;
using scorelift::index_t;
using scorelift::test::mixture_matrix;

TEST_CASE("annealed_langevin_sample: reproduces the mixture with the exact noisy score") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  index_t evaluations = 0;
  auto score = [&](const mixture_matrix& x, double sigma) {
    ++evaluations;
    return g.score(x, noise_level::variance_exploding(sigma));
  };
  scorelift::test::gaussian_noise noise(61);
  annealed_langevin_options options;
  options.sigmas = geometric_sigmas(3.0, 0.05, 10);
  options.steps_per_level = 100;
  options.step_scale = 0.003;
  const mixture_matrix x = annealed_langevin_sample(score, noise(mixture_matrix(scorelift::test::sample_count, 2)), noise, options);
  CHECK(evaluations == 10 * 100 + 1);
  // Unadjusted Langevin at step δ on N(μ, v) is stationary at variance v/(1 − δ/(4v)): with δ = 0.003 and
  // the narrowest component (v ≈ 0.04) that is a 2% bias, well inside the tolerances.
  scorelift::test::check_matches_mixture(x, g, "annealed langevin");
}

TEST_CASE("predictor_corrector_sample: reverse-diffusion predictor + Langevin corrector reproduce the mixture") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  index_t evaluations = 0;
  auto score = [&](const mixture_matrix& x, double sigma) {
    ++evaluations;
    return g.score(x, noise_level::variance_exploding(sigma));
  };
  scorelift::test::gaussian_noise noise(62);
  predictor_corrector_options options;
  options.sigmas = geometric_sigmas(10.0, 0.01, 200);
  const mixture_matrix x =
      predictor_corrector_sample(score, noise(mixture_matrix(scorelift::test::sample_count, 2)), noise, options);
  CHECK(evaluations == 199 * 2 + 1);
  scorelift::test::check_matches_mixture(x, g, "predictor-corrector");
}

TEST_CASE("langevin samplers: non-decreasing noise levels are refused") {
  auto score = [](const mixture_matrix& x, double) { return x; };
  scorelift::test::gaussian_noise noise(1);
  annealed_langevin_options options;
  options.sigmas = {1.0, 2.0};
  CHECK_THROWS_WITH_AS(annealed_langevin_sample(score, mixture_matrix(mixture_matrix::Zero(2, 2)), noise, options),
                       doctest::Contains("strictly decreasing"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(geometric_sigmas(1.0, 2.0, 5), doctest::Contains("sigma_max > sigma_min"),
                       scorelift::invalid_argument);
}

#include "scorelift/diffusion/samplers/ddim.hpp"

#include <doctest/doctest.h>

#include "sampler_checks.hpp"
#include "scorelift/diffusion/parameterisation.hpp"
#include "scorelift/diffusion/samplers/ddpm.hpp"

using namespace scorelift::diffusion;
using scorelift::index_t;
using scorelift::test::mixture_matrix;

namespace {
auto exact_epsilon(const gaussian_mixture& g, const discrete_schedule& schedule, index_t& evaluations) {
  return [&g, &schedule, &evaluations](const mixture_matrix& x, index_t t) {
    ++evaluations;
    return epsilon_from_score(g.score(x, schedule.level(t)), schedule.level(t));
  };
}
}  // namespace

TEST_CASE("ddim_sample: eta = 1 on every step is DDPM ancestral sampling (same draws, same result)") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  const discrete_schedule schedule = cosine_schedule(100);
  index_t n_ddim = 0, n_ddpm = 0;
  scorelift::test::gaussian_noise noise_a(8), noise_b(8);
  const mixture_matrix z = noise_a(mixture_matrix(50, 2));
  (void)noise_b(mixture_matrix(50, 2));  // keep the two streams aligned
  const mixture_matrix a = ddim_sample(schedule, exact_epsilon(g, schedule, n_ddim), z, noise_a, {100, 1.0});
  const mixture_matrix b = ddpm_sample(schedule, exact_epsilon(g, schedule, n_ddpm), z, noise_b);
  CHECK(n_ddim == 100);
  CHECK(n_ddpm == 100);
  CHECK((a - b).cwiseAbs().maxCoeff() < 1e-9);
}

TEST_CASE("ddim_sample: deterministic (eta = 0) and stochastic respaced sampling reproduce the mixture") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  const discrete_schedule schedule = cosine_schedule(1000);
  for (const double eta : {0.0, 0.5}) {
    CAPTURE(eta);
    index_t evaluations = 0;
    index_t draws = 0;
    scorelift::test::gaussian_noise source(31);
    auto noise = [&](const mixture_matrix& like) {
      ++draws;
      return source(like);
    };
    const mixture_matrix z = source(mixture_matrix(scorelift::test::sample_count, 2));
    const mixture_matrix x = ddim_sample(schedule, exact_epsilon(g, schedule, evaluations), z, noise, {100, eta});
    CHECK(evaluations == 100);
    CHECK(draws == (eta == 0.0 ? 0 : 99));  // no noise on the last step, none at all when η = 0
    scorelift::test::check_matches_mixture(x, g, "ddim");
  }
}

TEST_CASE("ddim_sample: bad options throw") {
  const discrete_schedule schedule = cosine_schedule(10);
  auto eps = [](const mixture_matrix& x, index_t) { return x; };
  scorelift::test::gaussian_noise noise(1);
  CHECK_THROWS_WITH_AS(ddim_sample(schedule, eps, mixture_matrix(mixture_matrix::Zero(2, 2)), noise, {20, 0.0}),
                       doctest::Contains("'sampling_steps' is 20"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(ddim_sample(schedule, eps, mixture_matrix(mixture_matrix::Zero(2, 2)), noise, {5, 1.5}),
                       doctest::Contains("'options.eta'"), scorelift::invalid_argument);
}

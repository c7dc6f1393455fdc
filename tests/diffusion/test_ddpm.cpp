#include "scorelift/diffusion/samplers/ddpm.hpp"

#include <doctest/doctest.h>

#include "sampler_checks.hpp"
#include "scorelift/diffusion/parameterisation.hpp"

using namespace scorelift::diffusion;
using scorelift::index_t;
using scorelift::test::mixture_matrix;

TEST_CASE("ddpm_sample: ancestral sampling with the exact noise prediction reproduces the mixture") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  const discrete_schedule schedule = cosine_schedule(500);
  for (const ddpm_variance variance : {ddpm_variance::posterior, ddpm_variance::beta}) {
    index_t evaluations = 0;
    // ε̂(x, t) = −σ_t ∇ log p_t(x): the Bayes-optimal noise prediction.
    auto epsilon = [&](const mixture_matrix& x, index_t t) {
      ++evaluations;
      return epsilon_from_score(g.score(x, schedule.level(t)), schedule.level(t));
    };
    scorelift::test::gaussian_noise noise(21);
    const mixture_matrix z = noise(mixture_matrix(scorelift::test::sample_count, 2));
    const mixture_matrix x = ddpm_sample(schedule, epsilon, z, noise, variance);
    CHECK(evaluations == 500);
    scorelift::test::check_matches_mixture(x, g, variance == ddpm_variance::posterior ? "posterior" : "beta");
  }
}

TEST_CASE("ddpm_sample: a wrong-signed model fails the same check (the check can fail)") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  const discrete_schedule schedule = cosine_schedule(200);
  auto wrong = [&](const mixture_matrix& x, index_t t) {
    return mixture_matrix(0.5 * epsilon_from_score(g.score(x, schedule.level(t)), schedule.level(t)));
  };
  scorelift::test::gaussian_noise noise(5);
  const mixture_matrix x = ddpm_sample(schedule, wrong, noise(mixture_matrix(1000, 2)), noise);
  const Eigen::MatrixXd cov = (x.rowwise() - x.colwise().mean()).transpose() * (x.rowwise() - x.colwise().mean()) / 999.0;
  // Half the noise prediction leaves far too much spread: the tolerance in check_matches_mixture is 0.15.
  CHECK((cov - g.covariance()).cwiseAbs().maxCoeff() > 0.5);
}

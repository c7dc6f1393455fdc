#include "scorelift/diffusion/edm.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "scorelift/diffusion/weighting.hpp"

using namespace scorelift::diffusion;

TEST_CASE("edm_preconditioning: closed forms and the unit-variance identities they were designed for") {
  const double sd = 0.5;
  for (double sigma : {0.002, 0.1, 0.5, 2.0, 80.0}) {
    CAPTURE(sigma);
    const auto c = edm_preconditioning::at(sigma, sd);
    const double total = sigma * sigma + sd * sd;
    CHECK(c.c_skip == doctest::Approx(sd * sd / total));
    CHECK(c.c_out == doctest::Approx(sigma * sd / std::sqrt(total)));
    CHECK(c.c_in == doctest::Approx(1.0 / std::sqrt(total)));
    CHECK(c.c_noise == doctest::Approx(0.25 * std::log(sigma)));
    // The network input c_in (y + σn) has unit variance when Var y = σ_d².
    CHECK(c.c_in * c.c_in * total == doctest::Approx(1.0));
    // The effective target (y − c_skip (y + σ n))/c_out has unit variance.
    const double target_var = ((1.0 - c.c_skip) * (1.0 - c.c_skip) * sd * sd + c.c_skip * c.c_skip * sigma * sigma) /
                              (c.c_out * c.c_out);
    CHECK(target_var == doctest::Approx(1.0));
    // λ(σ) c_out² = 1: the weighted loss on D equals the unweighted loss on F.
    CHECK(edm_loss_weight(sigma, sd) * c.c_out * c.c_out == doctest::Approx(1.0));
  }
  CHECK_THROWS_WITH_AS(edm_preconditioning::at(0.0), doctest::Contains("'sigma'"), scorelift::invalid_argument);
}

TEST_CASE("edm_sigma_steps: 18 steps from 80 to 0.002 with rho = 7, then 0") {
  const auto s = edm_sigma_steps(18);
  REQUIRE(s.size() == 19);
  CHECK(s[0] == doctest::Approx(80.0));
  CHECK(s[17] == doctest::Approx(0.002));
  CHECK(s[18] == 0.0);
  for (std::size_t i = 1; i < s.size(); ++i) CHECK(s[i] < s[i - 1]);
  // The ρ-th roots are evenly spaced.
  const double step = std::pow(s[1], 1.0 / 7.0) - std::pow(s[0], 1.0 / 7.0);
  CHECK(std::pow(s[10], 1.0 / 7.0) - std::pow(s[9], 1.0 / 7.0) == doctest::Approx(step));
  CHECK_THROWS_WITH_AS(edm_sigma_steps(1), doctest::Contains("'steps'"), scorelift::invalid_argument);
  // N + 1 entries: N = PTRDIFF_MAX would wrap to a negative size.
  CHECK_THROWS_WITH_AS(edm_sigma_steps(std::numeric_limits<scorelift::index_t>::max()),
                       doctest::Contains("edm_sigma_steps: steps + 1 = 9223372036854775807 + 1 overflows index_t"),
                       scorelift::invalid_argument);
}

TEST_CASE("edm_training_sigma: ln sigma ~ N(-1.2, 1.2^2), i.e. lambda = -2 ln sigma ~ N(2.4, 2.4^2)") {
  CHECK(edm_training_sigma(0.0) == doctest::Approx(std::exp(-1.2)));
  CHECK(std::log(edm_training_sigma(1.0)) == doctest::Approx(0.0));
  CHECK(-2.0 * std::log(edm_training_sigma(-1.0)) == doctest::Approx(2.4 + 2.4));
}

TEST_CASE("weighting: EDM weight in epsilon units (paper eq. 39) equals lambda(sigma) in x0 units") {
  for (double sigma_ve : {0.01, 0.3, 1.0, 7.0}) {
    const noise_level n = noise_level::variance_preserving_from_ve(sigma_ve);
    const double w_eps = edm_epsilon_weight(n.log_snr());
    CHECK(x0_weight_from_epsilon_weight(w_eps, n) == doctest::Approx(edm_loss_weight(sigma_ve)).epsilon(1e-10));
    CHECK(score_weight_from_epsilon_weight(w_eps, n) == doctest::Approx(n.sigma * n.sigma * w_eps));
  }
  CHECK(uniform_epsilon_weight(3.0) == 1.0);
  CHECK(edm_epsilon_weight(1e6) == doctest::Approx(1.0));  // clean end: weight → 1, finite
}

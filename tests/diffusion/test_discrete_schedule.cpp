#include "scorelift/diffusion/discrete_schedule.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numbers>

using namespace scorelift::diffusion;
using scorelift::index_t;

TEST_CASE("linear_schedule: betas, cumulative product and log-SNR against a direct computation") {
  const index_t T = 1000;
  const discrete_schedule s = linear_schedule(T);
  CHECK(s.steps() == T);
  CHECK(s.beta(1) == doctest::Approx(1e-4));
  CHECK(s.beta(T) == doctest::Approx(0.02));
  CHECK(s.beta(500) == doctest::Approx(1e-4 + 499.0 / 999.0 * (0.02 - 1e-4)));
  double product = 1.0;
  for (index_t t = 1; t <= T; ++t) {
    product *= 1.0 - s.beta(t);
    if (t % 97 == 0 || t == T) {
      CHECK(s.alpha_bar(t) == doctest::Approx(product).epsilon(1e-12));
      const noise_level n = s.level(t);
      CHECK(n.alpha * n.alpha + n.sigma * n.sigma == doctest::Approx(1.0).epsilon(1e-14));
      CHECK(s.log_snr(t) == doctest::Approx(std::log(product / (1.0 - product))).epsilon(1e-9));
      CHECK(n.log_snr() == doctest::Approx(s.log_snr(t)).epsilon(1e-9));
    }
  }
  // Rescaled by 1000/T: T = 4000 has β_1 = 2.5e-5.
  CHECK(linear_schedule(4000).beta(1) == doctest::Approx(2.5e-5));
}

TEST_CASE("cosine_schedule: alpha_bar follows f(t)/f(0) until the clip, for T = 4000") {
  const index_t T = 4000;
  const double s = 0.008;
  const discrete_schedule sched = cosine_schedule(T, s);
  auto f = [&](double t) {
    const double c = std::cos(std::numbers::pi / 2.0 * (t / T + s) / (1.0 + s));
    return c * c;
  };
  index_t clipped = 0;
  for (index_t t = 1; t <= T; ++t) {
    if (sched.beta(t) >= 0.999) {
      ++clipped;
      continue;
    }
    if (clipped == 0 && t % 250 == 0) CHECK(sched.alpha_bar(t) == doctest::Approx(f(t) / f(0)).epsilon(1e-10));
  }
  // Only the last step is clipped (f(T) = 0 would give β_T = 1).
  CHECK(clipped == 1);
  CHECK(sched.beta(T) == 0.999);
  // Closed-form log-SNR before the clip: λ = log(ᾱ/(1 − ᾱ)).
  const double abar = f(1234) / f(0);
  CHECK(sched.log_snr(1234) == doctest::Approx(std::log(abar / (1.0 - abar))).epsilon(1e-9));
  // σ_1 is accurate where 1 − ᾱ ≈ β_1 is tiny.
  CHECK(sched.one_minus_alpha_bar(1) == doctest::Approx(sched.beta(1)).epsilon(1e-12));
}

TEST_CASE("discrete schedules: no NaN and monotone from t = 0 to t = T") {
  for (const discrete_schedule& s : {linear_schedule(1000), cosine_schedule(4000), cosine_schedule(10)}) {
    CHECK(s.alpha_bar(0) == 1.0);
    CHECK(s.level(0).sigma == 0.0);
    CHECK(s.log_snr(0) == std::numeric_limits<double>::infinity());
    for (index_t t = 1; t <= s.steps(); ++t) {
      const noise_level n = s.level(t);
      REQUIRE(std::isfinite(n.alpha));
      REQUIRE(std::isfinite(n.sigma));
      REQUIRE(std::isfinite(s.log_snr(t)));
      REQUIRE(std::isfinite(s.posterior_variance(t)));
      REQUIRE(s.log_snr(t) < s.log_snr(t - 1));
    }
    CHECK(s.alpha_bar(s.steps()) > 0.0);
  }
}

TEST_CASE("posterior_variance equals the closed form beta_t (1 - abar_{t-1})/(1 - abar_t)") {
  const discrete_schedule s = cosine_schedule(100);
  for (index_t t : {1, 2, 50, 100}) {
    const double expected = s.beta(t) * (1.0 - s.alpha_bar(t - 1)) / (1.0 - s.alpha_bar(t));
    CHECK(s.posterior_variance(t) == doctest::Approx(expected).epsilon(1e-10));
  }
  CHECK(s.posterior_variance(1) == 0.0);  // q(x_0 | x_1, x_0) is a point mass
}

TEST_CASE("respaced_timesteps: increasing, distinct, evenly spread, ending at T") {
  const auto taus = respaced_timesteps(1000, 50);
  REQUIRE(taus.size() == 50);
  CHECK(taus.front() == 20);
  CHECK(taus.back() == 1000);
  for (std::size_t i = 1; i < taus.size(); ++i) CHECK(taus[i] - taus[i - 1] == 20);
  const auto uneven = respaced_timesteps(10, 3);  // ⌈10/3⌉, ⌈20/3⌉, 10
  CHECK(uneven == std::vector<index_t>{4, 7, 10});
  const auto all = respaced_timesteps(7, 7);
  for (index_t i = 0; i < 7; ++i) CHECK(all[static_cast<std::size_t>(i)] == i + 1);
  // The overflow-free form i·q + ⌈i·r/S⌉ agrees with ⌈i·T/S⌉ = (i·T + S − 1)/S wherever i·T fits.
  for (index_t T = 1; T <= 64; ++T)
    for (index_t S = 1; S <= T; ++S) {
      const auto taus_ts = respaced_timesteps(T, S);
      for (index_t i = 1; i <= S; ++i) CHECK(taus_ts[static_cast<std::size_t>(i - 1)] == (i * T + S - 1) / S);
    }
}

TEST_CASE("respaced_timesteps: T near PTRDIFF_MAX is exact, and a product that cannot fit is a clear error") {
  constexpr index_t T = std::numeric_limits<index_t>::max();  // i·T overflowed at i = 2 before
  CHECK(respaced_timesteps(T, 2) == std::vector<index_t>{T / 2 + 1, T});  // ⌈T/2⌉, T
  CHECK(respaced_timesteps(T, 3) == std::vector<index_t>{T / 3 + 1, 2 * (T / 3) + 1, T});  // T = 3q + 1
  CHECK(respaced_timesteps(T, 1) == std::vector<index_t>{T});
  // S = 2^32 + 1 leaves r = 2^31 and S·r > T: refused before 2^32 entries are allocated.
  CHECK_THROWS_WITH_AS(respaced_timesteps(T, (index_t{1} << 32) + 1),
                       doctest::Contains("respaced_timesteps: sampling_steps × (steps mod sampling_steps) = "
                                         "4294967297 × 2147483648 overflows index_t"),
                       scorelift::invalid_argument);
}

TEST_CASE("discrete schedules: bad input throws naming the argument") {
  CHECK_THROWS_WITH_AS(discrete_schedule({}), doctest::Contains("'betas'"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(discrete_schedule({0.1, 1.0}), doctest::Contains("beta_2"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(linear_schedule(0), doctest::Contains("'steps'"), scorelift::invalid_argument);
  const discrete_schedule s = linear_schedule(10);
  CHECK_THROWS_WITH_AS((void)s.beta(0), doctest::Contains("'t' is 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)s.alpha_bar(11), doctest::Contains("'t' is 11"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)s.log_snr(-1), doctest::Contains("'t' is -1"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(respaced_timesteps(10, 11), doctest::Contains("'sampling_steps'"), scorelift::invalid_argument);
}

#include "scorelift/diffusion/noise_level.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using scorelift::diffusion::noise_level;

TEST_CASE("noise_level: VP from log-SNR satisfies alpha^2 + sigma^2 = 1 and inverts log_snr") {
  for (double lambda : {-30.0, -5.0, -0.3, 0.0, 0.7, 4.0, 30.0}) {
    const noise_level n = noise_level::variance_preserving(lambda);
    CHECK(n.alpha * n.alpha + n.sigma * n.sigma == doctest::Approx(1.0).epsilon(1e-14));
    CHECK(n.log_snr() == doctest::Approx(lambda).epsilon(1e-12));
    // σ_VE = exp(−λ/2)
    CHECK(n.ve_sigma() == doctest::Approx(std::exp(-lambda / 2.0)).epsilon(1e-12));
  }
  // λ = 0: α = σ = 1/√2.
  CHECK(noise_level::variance_preserving(0.0).alpha == doctest::Approx(std::sqrt(0.5)));
}

TEST_CASE("noise_level: the ends are infinite, never NaN") {
  const double inf = std::numeric_limits<double>::infinity();
  const noise_level clean = noise_level::variance_preserving(inf);
  CHECK(clean.alpha == 1.0);
  CHECK(clean.sigma == 0.0);
  CHECK(clean.log_snr() == inf);
  CHECK(clean.ve_sigma() == 0.0);
  const noise_level pure = noise_level::variance_preserving(-inf);
  CHECK(pure.alpha == 0.0);
  CHECK(pure.sigma == 1.0);
  CHECK(pure.log_snr() == -inf);
  CHECK(pure.ve_sigma() == inf);
  CHECK(noise_level::variance_preserving_from_ve(inf).alpha == 0.0);
  CHECK(noise_level::variance_preserving_from_ve(0.0).sigma == 0.0);
}

TEST_CASE("noise_level: VE <-> VP describe the same channel up to the scale alpha") {
  for (double s : {0.002, 0.5, 1.0, 80.0}) {
    const noise_level vp = noise_level::variance_preserving_from_ve(s);
    CHECK(vp.alpha * vp.alpha + vp.sigma * vp.sigma == doctest::Approx(1.0));
    CHECK(vp.ve_sigma() == doctest::Approx(s).epsilon(1e-13));
    CHECK(vp.log_snr() == doctest::Approx(noise_level::variance_exploding(s).log_snr()).epsilon(1e-12));
  }
}

TEST_CASE("noise_level: bad input throws naming the argument") {
  CHECK_THROWS_WITH_AS(noise_level::variance_preserving(std::nan("")), doctest::Contains("'lambda'"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(noise_level::variance_exploding(-1.0), doctest::Contains("'sigma'"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(noise_level::variance_preserving_from_ve(-0.1), doctest::Contains("'ve_sigma'"),
                       scorelift::invalid_argument);
}

#include "scorelift/diffusion/sample_metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace scorelift::diffusion;

namespace {
sample_matrix gaussian(scorelift::index_t n, scorelift::index_t d, double shift, std::mt19937_64& gen) {
  std::normal_distribution<double> normal;
  sample_matrix x = sample_matrix::NullaryExpr(n, d, [&] { return normal(gen); });
  x.array() += shift;
  return x;
}
}  // namespace

// For X ~ N(a, I_D), Y ~ N(b, I_D) and bandwidth h: E k = (h²/(h² + 2))^{D/2} exp(−‖a − b‖²/(2(h² + 2))),
// so MMD² = 2 (h²/(h² + 2))^{D/2} (1 − exp(−‖a − b‖²/(2(h² + 2)))).
TEST_CASE("mmd_squared: unbiased estimate matches the Gaussian closed form, ~0 for equal distributions") {
  std::mt19937_64 gen(5);
  const int D = 3;
  const double h = 1.5, shift = 0.5;
  const double delta2 = D * shift * shift;
  const double expected = 2.0 * std::pow(h * h / (h * h + 2.0), D / 2.0) * (1.0 - std::exp(-delta2 / (2.0 * (h * h + 2.0))));
  const sample_matrix x = gaussian(1500, D, 0.0, gen), y = gaussian(1500, D, shift, gen), z = gaussian(1500, D, 0.0, gen);
  // Standard error of MMD²_u at n = 1500 here is ≈ 0.003 (from repeated draws); 4 SE tolerance.
  CHECK(std::abs(mmd_squared(x, y, h) - expected) < 0.012);
  CHECK(std::abs(mmd_squared(x, z, h)) < 0.003);
  // x − z ~ N(0, 2I): the squared distance is 2χ²₃, whose median is 2 × 2.366.
  CHECK(median_bandwidth(x, z) == doctest::Approx(std::sqrt(2.0 * 2.366)).epsilon(0.05));
}

// N(0, I) vs N(μ, I): every 1-D projection has equal variance and mean gap θᵀμ, so SW₂² = E(θᵀμ)² = ‖μ‖²/D.
TEST_CASE("sliced_wasserstein: matches ||mu||^2 / D for shifted Gaussians") {
  std::mt19937_64 gen(9);
  const int D = 4;
  const double shift = 1.0;
  const sample_matrix x = gaussian(4000, D, 0.0, gen), y = gaussian(4000, D, shift, gen);
  const double sw = sliced_wasserstein(x, y, 400, gen);
  CHECK(sw * sw == doctest::Approx(D * shift * shift / D).epsilon(0.1));
  const sample_matrix z = gaussian(4000, D, 0.0, gen);
  CHECK(sliced_wasserstein(x, z, 100, gen) < 0.08);
}

TEST_CASE("sample metrics: bad input throws naming the arguments") {
  std::mt19937_64 gen(1);
  const sample_matrix a = sample_matrix::Zero(5, 2), b = sample_matrix::Zero(5, 3), c = sample_matrix::Zero(4, 2);
  CHECK_THROWS_WITH_AS(mmd_squared(a, b, 1.0), doctest::Contains("'y' has shape [5, 3]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(mmd_squared(a, a, 0.0), doctest::Contains("'h'"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sliced_wasserstein(a, c, 10, gen), doctest::Contains("equal sample sizes"),
                       scorelift::invalid_argument);
}

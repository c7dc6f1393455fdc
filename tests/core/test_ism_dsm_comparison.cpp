// compare_ism_dsm: per-sample terms and their moments by hand; the Gaussian closed forms of
// DESIGN.md within 3 standard errors; DSM's variance grows like 1/σ² as σ shrinks, ISM's does not.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "objective_test_support.hpp"
#include "scorelift/objectives/ism_dsm_comparison.hpp"

using scorelift::index_t;
using scorelift::test::convert;
using scorelift::test::host_matrix;

TEST_CASE_TEMPLATE("compare_ism_dsm: per-sample terms, unbiased variance and standard error", B,
                   SCORELIFT_TEST_BACKENDS) {
  // B = 3, D = 1: f = (1, 2, −1), t = (0, 1, 1), div = (0.5, 0, −1).
  // corrected DSM ½f² − tf = (0.5, 0, 1.5); ISM ½f² + div = (1, 2, −0.5); ½(f − t)² = (0.5, 0.5, 2).
  const auto f = convert<B>::matrix(host_matrix{3, 1, {1, 2, -1}});
  const auto t = convert<B>::matrix(host_matrix{3, 1, {0, 1, 1}});
  const auto r = scorelift::compare_ism_dsm<B>(f, t, convert<B>::vector({0.5, 0, -1}));
  CHECK(r.dsm.mean == doctest::Approx(2.0 / 3.0));
  CHECK(r.dsm.variance == doctest::Approx(((0.5 - 2.0 / 3) * (0.5 - 2.0 / 3) + 4.0 / 9 + (1.5 - 2.0 / 3) * (1.5 - 2.0 / 3)) / 2));
  CHECK(r.dsm.standard_error == doctest::Approx(std::sqrt(r.dsm.variance / 3)));
  CHECK(r.ism.mean == doctest::Approx(2.5 / 3));
  CHECK(r.ism.variance == doctest::Approx((1 + 4 + 0.25 - 3 * (2.5 / 3) * (2.5 / 3)) / 2));
  CHECK(r.dsm_uncorrected.mean == doctest::Approx(1.0));
  CHECK(r.dsm_uncorrected.variance == doctest::Approx((0.25 + 0.25 + 1.0) / 2));
  CHECK(r.dsm.samples == 3);

  CHECK_THROWS_WITH_AS(scorelift::compare_ism_dsm<B>(f, convert<B>::matrix(host_matrix{3, 2, {0, 0, 0, 0, 0, 0}}),
                                                     convert<B>::vector({0, 0, 0})),
                       doctest::Contains("argument 'target' has shape [3, 2] but 'f_noisy' has shape [3, 1]"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(scorelift::compare_ism_dsm<B>(f, t, convert<B>::vector({0, 0})),
                       doctest::Contains("argument 'divergence' has length 2"), scorelift::invalid_argument);
  const auto one = convert<B>::matrix(host_matrix{1, 1, {0}});
  CHECK_THROWS_WITH_AS(scorelift::compare_ism_dsm<B>(one, one, convert<B>::vector({0})),
                       doctest::Contains("a variance needs B >= 2"), scorelift::invalid_argument);
}

namespace {

struct noisy_gaussian_case {
  scorelift::ism_dsm_comparison result;
  double var_dsm = 0.0, var_ism = 0.0;  // closed-form per-sample variances
};

/// p = N(0, σ_d² I_D), x̃ = x + σε, the optimal f(x̃) = −x̃/s² (s² = σ_d² + σ²), exact tr ∇f = −D/s².
template <class B>
noisy_gaussian_case noisy_gaussian(double sigma, double sigma_d, index_t d, index_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> z;
  const double s2 = sigma_d * sigma_d + sigma * sigma;
  host_matrix f{n, d, std::vector<double>(static_cast<std::size_t>(n * d))}, t = f;
  for (std::size_t i = 0; i < f.values.size(); ++i) {
    const double x = sigma_d * z(gen), eps = z(gen);
    f.values[i] = -(x + sigma * eps) / s2;
    t.values[i] = -eps / sigma;
  }
  const auto fb = convert<B>::matrix(f);
  const auto tb = convert<B>::matrix(t);
  noisy_gaussian_case out;
  out.result = scorelift::compare_ism_dsm<B>(fb, tb, B::filled(n, -static_cast<double>(d) / s2, fb));
  // Per coordinate, with x = σ_d u: corrected DSM = α u ε + β ε² + γ u², u, ε iid N(0, 1), where
  // α = −σ_d³/(σ s⁴), β = −(σ_d² + σ²/2)/s⁴, γ = σ_d²/(2 s⁴); the three terms are uncorrelated, so
  // Var = D(α² + 2β² + 2γ²). ISM: ½‖x̃‖²/s⁴ with x̃ ~ N(0, s² I): Var = D/(2 s⁴).
  const double s4 = s2 * s2;
  const double alpha = -sigma_d * sigma_d * sigma_d / (sigma * s4);
  const double beta = -(sigma_d * sigma_d + 0.5 * sigma * sigma) / s4;
  const double gamma = sigma_d * sigma_d / (2 * s4);
  out.var_dsm = static_cast<double>(d) * (alpha * alpha + 2 * beta * beta + 2 * gamma * gamma);
  out.var_ism = static_cast<double>(d) / (2 * s4);
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("ISM and DSM on one scale reproduce the Gaussian closed forms, DSM variance ~ 1/σ²", B,
                   SCORELIFT_TEST_BACKENDS) {
  const double sigma_d = 1.0;
  const index_t d = 4, n = 40000;
  double var_dsm[2] = {}, var_ism[2] = {};
  const double sigmas[2] = {0.1, 0.05};
  for (int k = 0; k < 2; ++k) {
    const double sigma = sigmas[k], s2 = sigma_d * sigma_d + sigma * sigma;
    const auto c = noisy_gaussian<B>(sigma, sigma_d, d, n, 100 + static_cast<std::uint64_t>(k));
    const double j_ism = -static_cast<double>(d) / (2 * s2);
    const double j_dsm = static_cast<double>(d) * sigma_d * sigma_d / (2 * sigma * sigma * s2);
    INFO("sigma = ", sigma, ": DSM ", c.result.dsm.mean, " ± ", c.result.dsm.standard_error, ", ISM ",
         c.result.ism.mean, " ± ", c.result.ism.standard_error, ", J_ISM = ", j_ism);
    CHECK(std::abs(c.result.dsm.mean - j_ism) < 3 * c.result.dsm.standard_error);
    CHECK(std::abs(c.result.ism.mean - j_ism) < 3 * c.result.ism.standard_error);
    CHECK(std::abs(c.result.dsm_uncorrected.mean - j_dsm) < 3 * c.result.dsm_uncorrected.standard_error);
    // Sample variances of 40000 terms: relative standard error ~ sqrt((kurtosis − 1)/n) < 2%.
    CHECK(c.result.dsm.variance == doctest::Approx(c.var_dsm).epsilon(0.08));
    CHECK(c.result.ism.variance == doctest::Approx(c.var_ism).epsilon(0.08));
    var_dsm[k] = c.result.dsm.variance;
    var_ism[k] = c.result.ism.variance;
  }
  // Halving σ: the DSM variance grows ~4× (dominated by α² ∝ 1/σ²), the ISM variance barely moves.
  INFO("DSM variance ratio ", var_dsm[1] / var_dsm[0], ", ISM variance ratio ", var_ism[1] / var_ism[0]);
  CHECK(var_dsm[1] / var_dsm[0] > 3.5);
  CHECK(var_dsm[1] / var_dsm[0] < 4.5);
  CHECK(std::abs(var_ism[1] / var_ism[0] - 1.0) < 0.1);
}

// Bandwidth rules: the mean against a brute-force loop over the pairs, the scaled median against the
// median, and a kernel's rule taking the place of σ in a fit exactly (the default still the median).
#include <doctest/doctest.h>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/bandwidth_rule.hpp"
#include "scorelift/nonparametric/tikhonov.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

namespace {

/// Mean of ‖xᵢ − xⱼ‖ over i < j, written out.
double brute_force_mean(const rmat<>& x) {
  double total = 0;
  index_t pairs = 0;
  for (index_t i = 0; i < x.rows(); ++i)
    for (index_t j = i + 1; j < x.rows(); ++j, ++pairs) total += (x.row(i) - x.row(j)).norm();
  return total / static_cast<double>(pairs);
}

}  // namespace

TEST_CASE("mean_bandwidth is the mean pairwise distance (of the strided 1024-subset past N = 1024)") {
  const rmat<> x = test::standard_normal(40, 3, 201);
  CHECK(mean_bandwidth<double>(x) == doctest::Approx(brute_force_mean(x)).epsilon(1e-12));
  // N = 1500: rows ⌊i·1500/1024⌋, i = 0..1023, as the median takes them.
  const rmat<> many = test::standard_normal(1500, 2, 202);
  rmat<> subset(1024, 2);
  for (index_t i = 0; i < 1024; ++i) subset.row(i) = many.row(i * 1500 / 1024);
  CHECK(mean_bandwidth<double>(many) == doctest::Approx(brute_force_mean(subset)).epsilon(1e-12));
  // float: summed in double, so as close as float's distances allow.
  const rmat<float> xf = x.cast<float>();
  CHECK(mean_bandwidth<float>(xf) == doctest::Approx(brute_force_mean(x)).epsilon(1e-6));
  // Scale covariance across the range (the distances are taken on a power-of-two-scaled copy).
  CHECK(mean_bandwidth<double>(rmat<>(x * 0x1p-600)) == doctest::Approx(brute_force_mean(x) * 0x1p-600).epsilon(1e-12));
}

TEST_CASE("scaled_median(c) is c times the median heuristic") {
  const rmat<> x = test::standard_normal(50, 4, 203);
  CHECK(scaled_median(1.5)(x) == 1.5 * median_bandwidth<double>(x));
}

TEST_CASE_TEMPLATE("a kernel's bandwidth rule sets sigma at fit, the default is the median, bit for bit", K,
                   diagonal_gaussian<double>, curl_free_imq<double>) {
  const rmat<> x = test::standard_normal(30, 2, 204), q = test::standard_normal(5, 2, 205);
  const auto fit_with = [&](const K& kernel) { return tikhonov_estimator<K>(kernel, {.lambda = 0.05}).fit(x).score(q); };
  const auto with_sigma = [](double sigma) {
    K kernel{};
    kernel.profile.sigma = sigma;
    return kernel;
  };
  CHECK(fit_with(K{}) == fit_with(with_sigma(median_bandwidth<double>(x))));
  K mean_kernel{};
  mean_kernel.bandwidth = mean_bandwidth<double>;
  CHECK(fit_with(mean_kernel) == fit_with(with_sigma(mean_bandwidth<double>(x))));
  K scaled{};
  scaled.bandwidth = scaled_median(1.5);
  CHECK(fit_with(scaled) == fit_with(with_sigma(1.5 * median_bandwidth<double>(x))));
  K fixed{};
  fixed.bandwidth = [](const matrix_view<double>&) { return 0.7; };  // any callable
  CHECK(fit_with(fixed) == fit_with(with_sigma(0.7)));
  // A σ > 0 given by the user wins over the rule.
  K given = with_sigma(0.9);
  given.bandwidth = mean_bandwidth<double>;
  CHECK(fit_with(given) == fit_with(with_sigma(0.9)));
}

TEST_CASE("aggregate initialisation of the kernels still reads {{sigma}} and takes a rule after the profile") {
  const rmat<> x = test::standard_normal(30, 2, 206);
  const diagonal_gaussian<double> plain{{0.0}};
  const diagonal_gaussian<double> with_rule{{0.0}, scaled_median(2.0)};
  CHECK(plain.bandwidth(x) == median_bandwidth<double>(x));
  CHECK(with_rule.bandwidth(x) == 2.0 * median_bandwidth<double>(x));
}

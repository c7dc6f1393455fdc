// Bad input: every estimator refuses, with a message naming the function and the argument, rather
// than returning garbage.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "np_test_support.hpp"
#include "scorelift/nonparametric.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

/// The Stein estimator with Li & Turner's extension, default-constructible for the template cases.
struct li_turner_stein : stein_gradient_estimator<diagonal_imq<>> {
  explicit li_turner_stein(diagonal_imq<> kernel = {})
      : stein_gradient_estimator<diagonal_imq<>>(std::move(kernel), {1.0, stein_extension::li_turner}) {}
};

TEST_CASE_TEMPLATE("estimators reject too few samples, non-finite samples and mismatched queries", E,
                   stein_gradient_estimator<>, ssge_estimator<>, ssge_estimator<curl_free_imq<>>,
                   li_turner_stein,
                   tikhonov_estimator<curl_free_gaussian<>>,
                   landweber_estimator<>, nu_method_estimator<curl_free_imq<>>) {
  E estimator;
  const rmat<> one = test::standard_normal(1, 3, 91);
  CHECK_THROWS_WITH_AS(estimator.fit(one), doctest::Contains("argument 'samples' has shape [1, 3]"),
                       scorelift::invalid_argument);
  rmat<> bad = test::standard_normal(10, 3, 92);
  bad(4, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(estimator.fit(bad), doctest::Contains("argument 'samples' (shape [10, 3]) contains NaN or Inf"),
                       scorelift::invalid_argument);
  bad(4, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(estimator.fit(bad), doctest::Contains("argument 'samples' (shape [10, 3]) contains NaN or Inf"),
                       scorelift::invalid_argument);

  CHECK_THROWS_WITH_AS(estimator.score(test::standard_normal(2, 3, 93)), doctest::Contains("before fit"),
                       scorelift::invalid_argument);
  estimator.fit(test::standard_normal(10, 3, 94));
  CHECK_THROWS_WITH_AS(estimator.score(test::standard_normal(2, 4, 95)),
                       doctest::Contains("argument 'x' has shape [2, 4] but the estimator was fitted on samples with 3"),
                       scorelift::invalid_argument);
  rmat<> query = test::standard_normal(2, 3, 96);
  query(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(estimator.score(query), doctest::Contains("argument 'x' (shape [2, 3]) contains NaN or Inf"),
                       scorelift::invalid_argument);
}

TEST_CASE("estimators reject invalid hyperparameters") {
  const rmat<> x = test::standard_normal(20, 2, 97);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, {.lambda = 0.0}).fit(x), doctest::Contains("lambda = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, {.lambda = -1.0}).fit(x), doctest::Contains("lambda = -1"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, {.nystrom_centres = 21}).fit(x), doctest::Contains("nystrom_centres = 21"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, {.solver = tikhonov_solver::conjugate_gradient, .tolerance = 2.0,
                                                 .nystrom_centres = 5}).fit(x),
                       doctest::Contains("conjugate gradients tolerance = 2"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(stein_gradient_estimator<>({}, {0.0}).fit(x), doctest::Contains("eta = 0 but"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(stein_gradient_estimator<>({}, {1.0, static_cast<stein_extension>(7)}).fit(x),
                       doctest::Contains("extension = 7"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(stein_gradient_estimator<curl_free_imq<>>({}, {1.0, stein_extension::li_turner}).fit(x),
                       doctest::Contains("extension = li_turner needs a diagonal kernel"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(stein_gradient_estimator<>({}, {0.0, stein_extension::li_turner}).fit(x),
                       doctest::Contains("stein_gradient_estimator::fit: eta = 0 but"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(ssge_estimator<>({}, spectral_cutoff<double>::threshold(0.0)).fit(x),
                       doctest::Contains("threshold tau = 0 but must lie in (0, 1]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(ssge_estimator<>({}, spectral_cutoff<double>::fraction(1.5)).fit(x),
                       doctest::Contains("kept fraction f = 1.5"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(landweber_estimator<>({}, {0}).fit(x), doctest::Contains("iterations = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(nu_method_estimator<>({}, {5, -1.0}).fit(x), doctest::Contains("nu = -1"),
                       scorelift::invalid_argument);
  for (const double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(landweber_estimator<>({}, {5, iteration_step<double>::on_gram(bad)}).fit(x),
                         doctest::Contains("step gamma (on K) = "), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(nu_method_estimator<>({}, {5, 1.0, iteration_step<double>::on_operator(bad)}).fit(x),
                         doctest::Contains("step eta (on K/N) = "), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(landweber_method<double>::from_lambda(bad), doctest::Contains("lambda = "),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(nu_method<double>::from_lambda(bad), doctest::Contains("lambda = "), scorelift::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(landweber_method<double>::from_lambda(1e-12), doctest::Contains("more than 1e9"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(landweber_estimator<>({}, {5, iteration_step<double>::on_gram(1e308)}).fit(x),
                       doctest::Contains("N·gamma finite"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>(diagonal_gaussian<>{{-0.5}}).fit(x), doctest::Contains("sigma = -0.5"),
                       scorelift::invalid_argument);
}

TEST_CASE("singular kernel systems are reported, not solved into garbage") {
  // Duplicated samples make the Gram matrix singular; a regulariser far below rounding level cannot
  // repair it, so the Cholesky pivot check fires.
  rmat<> x = test::standard_normal(20, 2, 98);
  x.row(7) = x.row(3);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, {.lambda = 1e-30}).fit(x), doctest::Contains("singular"),
                       scorelift::invalid_argument);
  // SSGE asked to keep every eigenpair of a rank-deficient Gram matrix.
  CHECK_THROWS_WITH_AS(ssge_estimator<>({}, spectral_cutoff<double>::fraction(1.0)).fit(x), doctest::Contains("singular"),
                       scorelift::invalid_argument);
  // More than half the samples identical: no median bandwidth.
  const rmat<> same = rmat<>::Ones(6, 2);
  CHECK_THROWS_WITH_AS(stein_gradient_estimator<>().fit(same),
                       doctest::Contains("the median pairwise distance of 'samples' (shape [6, 2]) is 0"),
                       scorelift::invalid_argument);
}

namespace {
/// A representable edge case (a bandwidth or regulariser far from the default, samples scaled by
/// 1e-40 … 1e150): the fit must be accepted, and its score at its own samples must be finite. (Every such
/// case used to be allowed a refusal instead, which would have let a sweep that refuses everything
/// assert nothing; all of them fit.)
template <class Estimator>
void check_fits_finite(Estimator estimator, const rmat<>& samples, const char* what) {
  CAPTURE(what);
  REQUIRE_NOTHROW(estimator.fit(samples));
  CHECK(estimator.score(samples).allFinite());
}
}  // namespace

TEST_CASE("IMQ power and conjugate-gradient parameters are checked where they enter") {
  const rmat<> x = test::standard_normal(20, 2, 101);
  for (const double power : {0.0, -0.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CAPTURE(power);
    CHECK_THROWS_WITH_AS(tikhonov_estimator<diagonal_imq<>>(diagonal_imq<>{{1.0, power}}).fit(x),
                         doctest::Contains("imq_profile power = "), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(nu_method_estimator<curl_free_imq<>>(curl_free_imq<>{{0.0, power}}).fit(x),
                         doctest::Contains("nu_method_estimator::fit: imq_profile power"), scorelift::invalid_argument);
  }
  using options = tikhonov_options<double>;
  constexpr auto cg = tikhonov_solver::conjugate_gradient;
  for (const double tolerance : {0.0, -1e-8, 1.0, 2.0, std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(tolerance);
    CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, options{.solver = cg, .tolerance = tolerance}).fit(x),
                         doctest::Contains("conjugate gradients tolerance = "), scorelift::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, options{.solver = cg, .max_iterations = 0}).fit(x),
                       doctest::Contains("conjugate gradients max_iterations = 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<curl_free_gaussian<>>({}, options{.solver = cg, .max_iterations = -3}).fit(x),
                       doctest::Contains("max_iterations = -3"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, options{.solver = static_cast<tikhonov_solver>(9)}).fit(x),
                       doctest::Contains("solver = 9"), scorelift::invalid_argument);
  // λ whose reciprocal overflows (a subnormal): α = 1/λ would be ∞.
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, options{.lambda = 1e-320}).fit(x), doctest::Contains("lambda = "),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(stein_gradient_estimator<>({}, {1e-320}).fit(x), doctest::Contains("eta = "),
                       scorelift::invalid_argument);
  spectral_cutoff<double> bad_rule;
  bad_rule.kind = static_cast<spectral_cutoff<double>::rule>(4);
  CHECK_THROWS_WITH_AS(ssge_estimator<>({}, bad_rule).fit(x), doctest::Contains("cut-off rule 4"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(ssge_estimator<>({}, {}, static_cast<ssge_eigensolver>(6)).fit(x),
                       doctest::Contains("eigensolver = 6"), scorelift::invalid_argument);
}

TEST_CASE_TEMPLATE("bandwidths whose 1/sigma^6 or sigma^2 overflow are refused naming sigma", E,
                   stein_gradient_estimator<>, ssge_estimator<>, ssge_estimator<curl_free_imq<>>,
                   li_turner_stein,
                   tikhonov_estimator<curl_free_gaussian<>>,
                   landweber_estimator<diagonal_imq<>>, nu_method_estimator<curl_free_imq<>>) {
  using kernel = std::remove_cvref_t<decltype(std::declval<E>().expansion().kernel())>;
  const rmat<> x = test::standard_normal(12, 2, 102);
  kernel tiny;
  tiny.profile.sigma = 1e-200;
  CHECK_THROWS_WITH_AS(E(tiny).fit(x), doctest::Contains("kernel bandwidth sigma = 1e-200 is too small"),
                       scorelift::invalid_argument);
  kernel huge;
  huge.profile.sigma = 1e200;
  CHECK_THROWS_WITH_AS(E(huge).fit(x), doctest::Contains("kernel bandwidth sigma = 1e+200 is too large"),
                       scorelift::invalid_argument);
  // Small but representable bandwidths: a finite estimate, never NaN or a refusal.
  for (const double sigma : {1e-30, 1e-8, 1e-3, 1e30}) {
    kernel k;
    k.profile.sigma = sigma;
    check_fits_finite(E(k), x, "small/large sigma");
  }
}

TEST_CASE_TEMPLATE("points ~1e160 apart are refused naming the cause, NaN medians name NaN", E, stein_gradient_estimator<>,
                   ssge_estimator<>, tikhonov_estimator<curl_free_gaussian<>>, landweber_estimator<>,
                   nu_method_estimator<curl_free_imq<>>) {
  const rmat<> x = test::standard_normal(12, 2, 103);
  CHECK_THROWS_WITH_AS(E().fit(rmat<>(x * 1e160)), doctest::Contains("whose squared distances overflow"),
                       scorelift::invalid_argument);
  E fitted;
  fitted.fit(x);
  CHECK_THROWS_WITH_AS(fitted.score(rmat<>(x * 1e160)), doctest::Contains("argument 'x' (shape [12, 2]) has entries up to"),
                       scorelift::invalid_argument);
  CHECK(fitted.score(rmat<>(x * 1e100)).allFinite());  // far from the samples, but representable: ŝ → 0
  // Points ~1e-170 apart: the squared distances underflow unless scaled; the median is then a σ whose
  // 1/σ⁶ overflows, which is named.
  CHECK_THROWS_WITH_AS(E().fit(rmat<>(x * 1e-170)), doctest::Contains("(bandwidth rule) is too small"),
                       scorelift::invalid_argument);
  for (const double scale : {1e-40, 1e40, 1e150})
    check_fits_finite(E(), rmat<>(x * scale), "scaled samples");
}

TEST_CASE("median_bandwidth: NaN, overflow and underflow get the real cause or a stable answer") {
  const rmat<> x = test::standard_normal(30, 3, 104);
  const double h = median_bandwidth<double>(x);
  // Stable under scaling by a power of two in both directions (the distances are taken on a scaled copy).
  CHECK(median_bandwidth<double>(rmat<>(x * 0x1p530)) == doctest::Approx(h * 0x1p530).epsilon(1e-12));
  CHECK(median_bandwidth<double>(rmat<>(x * 0x1p-565)) == doctest::Approx(h * 0x1p-565).epsilon(1e-12));
  rmat<> bad = x;
  bad(5, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(median_bandwidth<double>(bad), doctest::Contains("argument 'samples' (shape [30, 3]) contains NaN or Inf"),
                       scorelift::invalid_argument);
  try {
    (void)median_bandwidth<double>(bad);
  } catch (const scorelift::invalid_argument& e) {
    CHECK(std::string(e.what()).find("coincide") == std::string::npos);
  }
  bad(5, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(median_bandwidth<double>(bad), doctest::Contains("NaN or Inf"), scorelift::invalid_argument);
  // Near DBL_MAX the median distance itself is not representable: overflow is named.
  rmat<> spread(2, 1);
  spread << 1.5e308, -1.5e308;
  CHECK_THROWS_WITH_AS(median_bandwidth<double>(spread), doctest::Contains("overflows"), scorelift::invalid_argument);
  // Still the real cause for coinciding samples.
  CHECK_THROWS_WITH_AS(median_bandwidth<double>(rmat<>::Ones(6, 2)), doctest::Contains("coincide"),
                       scorelift::invalid_argument);
}

TEST_CASE("a regulariser at the edge of the range gives a finite fit") {
  const rmat<> x = test::standard_normal(20, 2, 105);
  for (const double lambda : {1e-300, 1e-200, 1e-100, 1e100, 1e300}) {
    CAPTURE(lambda);
    check_fits_finite(tikhonov_estimator<>({}, {.lambda = lambda}), x, "tikhonov cholesky");
    check_fits_finite(
        tikhonov_estimator<curl_free_gaussian<>>({}, {.lambda = lambda, .solver = tikhonov_solver::conjugate_gradient}), x,
        "tikhonov cg");
    check_fits_finite(tikhonov_estimator<>({}, {.lambda = lambda, .nystrom_centres = 8}), x, "nystrom");
    check_fits_finite(stein_gradient_estimator<>({}, {lambda}), x, "stein");
  }
}

TEST_CASE("bandwidth rules: an empty rule, a rule returning a bad sigma and a bad factor are refused") {
  const rmat<> x = test::standard_normal(20, 2, 106);
  diagonal_gaussian<> empty{};
  empty.bandwidth = nullptr;
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>(empty).fit(x), doctest::Contains("the rule is empty"),
                       scorelift::invalid_argument);
  for (const double bad : {-1.0, 0.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    curl_free_imq<> kernel{};
    kernel.bandwidth = [bad](const matrix_view<double>&) { return bad; };
    CHECK_THROWS_WITH_AS(tikhonov_estimator<curl_free_imq<>>(kernel).fit(x),
                         doctest::Contains("the bandwidth rule returned sigma = "), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(scaled_median(bad), doctest::Contains("factor = "), scorelift::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(mean_bandwidth<double>(rmat<>::Ones(6, 2)), doctest::Contains("all the samples coincide"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(mean_bandwidth<double>(rmat<>::Ones(1, 2)), doctest::Contains("argument 'samples' has shape [1, 2]"),
                       scorelift::invalid_argument);
}

TEST_CASE_TEMPLATE("kernel blocks refuse operands and coefficients of the wrong shape (never read past them)", K,
                   diagonal_gaussian<double>, curl_free_imq<double>) {
  const K kernel{{1.0}};
  const rmat<> x = test::standard_normal(6, 3, 107), y = test::standard_normal(4, 3, 108);
  CHECK_THROWS_WITH_AS(kernel.make_block(x, rmat<>(test::standard_normal(4, 2, 109))),
                       doctest::Contains("argument 'x' has shape [6, 3] but 'y' has shape [4, 2]"),
                       scorelift::invalid_argument);
  const auto block = kernel.make_block(x, y);
  CHECK(block.apply(rmat<>::Ones(4, 3)).rows() == 6);
  CHECK_THROWS_WITH_AS(block.apply(rmat<>::Ones(10, 3)), doctest::Contains("argument 'w' has shape [10, 3]"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(block.normal_matrix(rmat<>::Ones(2, 2)), doctest::Contains("argument 'p' has shape [2, 2]"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(kernel.value(x, y), doctest::Contains("one point each"), scorelift::invalid_argument);
  if constexpr (K::is_curl_free) {
    CHECK_THROWS_WITH_AS(block.apply(rmat<>::Ones(4, 2)), doctest::Contains("but [4, 3] was expected"),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(block.potential_apply(rmat<>::Ones(3, 3)), doctest::Contains("argument 'w' has shape [3, 3]"),
                         scorelift::invalid_argument);
  }
}

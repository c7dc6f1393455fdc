// Bad input: every estimator refuses, with a message naming the function and the argument, rather
// than returning garbage.
#include <doctest/doctest.h>

#include <limits>

#include "np_test_support.hpp"
#include "scorelift/nonparametric.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

TEST_CASE_TEMPLATE("estimators reject too few samples, non-finite samples and mismatched queries", E,
                   stein_gradient_estimator<>, ssge_estimator<>, tikhonov_estimator<curl_free_gaussian<>>,
                   landweber_estimator<>, nu_method_estimator<curl_free_imq<>>) {
  E estimator;
  const rmat<> one = test::standard_normal(1, 3, 91);
  CHECK_THROWS_WITH_AS(estimator.fit(one), doctest::Contains("argument 'samples' has shape [1, 3]"),
                       scorelift::invalid_argument);
  rmat<> bad = test::standard_normal(10, 3, 92);
  bad(4, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(estimator.fit(bad), doctest::Contains("NaN or Inf"), scorelift::invalid_argument);
  bad(4, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(estimator.fit(bad), scorelift::invalid_argument);

  CHECK_THROWS_WITH_AS(estimator.score(test::standard_normal(2, 3, 93)), doctest::Contains("before fit"),
                       scorelift::invalid_argument);
  estimator.fit(test::standard_normal(10, 3, 94));
  CHECK_THROWS_WITH_AS(estimator.score(test::standard_normal(2, 4, 95)),
                       doctest::Contains("argument 'x' has shape [2, 4] but the estimator was fitted on samples with 3"),
                       scorelift::invalid_argument);
  rmat<> query = test::standard_normal(2, 3, 96);
  query(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(estimator.score(query), scorelift::invalid_argument);
}

TEST_CASE("estimators reject invalid hyperparameters") {
  const rmat<> x = test::standard_normal(20, 2, 97);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, {.lambda = 0.0}).fit(x), doctest::Contains("lambda = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_AS(tikhonov_estimator<>({}, {.lambda = -1.0}).fit(x), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tikhonov_estimator<>({}, {.nystrom_centres = 21}).fit(x), doctest::Contains("nystrom_centres = 21"),
                       scorelift::invalid_argument);
  CHECK_THROWS_AS(stein_gradient_estimator<>({}, {0.0}).fit(x), scorelift::invalid_argument);
  CHECK_THROWS_AS(ssge_estimator<>({}, spectral_cutoff<double>::threshold(0.0)).fit(x), scorelift::invalid_argument);
  CHECK_THROWS_AS(ssge_estimator<>({}, spectral_cutoff<double>::fraction(1.5)).fit(x), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(landweber_estimator<>({}, {0}).fit(x), doctest::Contains("iterations = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_AS(nu_method_estimator<>({}, {5, -1.0}).fit(x), scorelift::invalid_argument);
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
  CHECK_THROWS_AS(stein_gradient_estimator<>().fit(same), scorelift::invalid_argument);
}

// Feature maps: Jacobians against central differences of the features, the polynomial monomials by
// hand, the exact divergence tr(W ∇φ) against differences of the model itself, column-major and
// expression inputs, the type-erased wrapper, and bad input.
#include <doctest/doctest.h>

#include <Eigen/Core>
#include <random>

#include "analysis_test_support.hpp"
#include "scorelift/analysis/any_feature_map.hpp"
#include "scorelift/analysis/polynomial_features.hpp"
#include "scorelift/analysis/random_fourier_features.hpp"
#include "scorelift/analysis/rbf_features.hpp"

using namespace scorelift::analysis;
using scorelift::index_t;

namespace {

/// max over entries of |∇φ(x) − central differences of φ| at a few random points.
template <class Phi>
double jacobian_error(const Phi& phi, std::mt19937_64& gen) {
  double worst = 0.0;
  const double h = 1e-6;
  for (int trial = 0; trial < 4; ++trial) {
    const Eigen::VectorXd x = test::standard_normal(phi.input_dim(), 1, gen);
    Eigen::MatrixXd numeric(phi.feature_count(), phi.input_dim());
    for (index_t d = 0; d < phi.input_dim(); ++d) {
      Eigen::VectorXd plus = x, minus = x;
      plus(d) += h;
      minus(d) -= h;
      const row_matrix fp = phi.features(row_matrix(plus.transpose()));
      const row_matrix fm = phi.features(row_matrix(minus.transpose()));
      numeric.col(d) = (fp - fm).transpose() / (2 * h);
    }
    worst = std::max(worst, (phi.jacobian(x) - numeric).cwiseAbs().maxCoeff());
  }
  return worst;
}

}  // namespace

TEST_CASE("feature maps: Jacobians equal central differences of the features") {
  std::mt19937_64 gen(1);
  const polynomial_features poly1(3, 1), poly2(3, 2), poly2_bare(3, 2, false), poly4(3, 4);
  const rbf_features rbf(test::standard_normal(5, 3, gen), 0.8);
  const random_fourier_features rff(3, 7, 1.3, 42);
  // Central differences of smooth features are accurate to ~h² ≈ 1e-12 times their third derivative,
  // plus rounding ~1e-16/h ≈ 1e-10.
  CHECK(jacobian_error(poly1, gen) < 1e-8);
  CHECK(jacobian_error(poly2, gen) < 1e-8);
  CHECK(jacobian_error(poly2_bare, gen) < 1e-8);
  CHECK(jacobian_error(poly4, gen) < 1e-7);  // quartic: larger third derivatives
  CHECK(jacobian_error(rbf, gen) < 1e-8);
  CHECK(jacobian_error(rff, gen) < 1e-8);
  CHECK(jacobian_error(any_feature_map(rbf), gen) < 1e-8);
  CHECK(poly1.feature_count() == 4);
  CHECK(poly2.feature_count() == 10);
  CHECK(poly2_bare.feature_count() == 9);
  CHECK(poly4.feature_count() == 35);  // C(3 + 4, 4): every monomial of degree <= 4 in 3 variables
}

TEST_CASE("polynomial features are the monomials in order: 1, x, x_i x_j (i <= j), x_i x_j x_k (i <= j <= k)") {
  const polynomial_features phi(2, 2);
  const row_matrix x{{2.0, -3.0}};
  const row_matrix f = phi.features(x);
  const std::vector<double> expected{1, 2, -3, 4, -6, 9};
  REQUIRE(f.cols() == 6);
  for (index_t k = 0; k < 6; ++k) CHECK(f(0, k) == expected[static_cast<std::size_t>(k)]);
  // ∂(x_1 x_2)/∂x = (x_2, x_1) = (−3, 2); ∂x_1²/∂x_1 = 2 x_1 = 4.
  const Eigen::MatrixXd jac = phi.jacobian(Eigen::Vector2d(2.0, -3.0));
  CHECK(jac(4, 0) == -3.0);
  // Degree 3 continues the order: x_1³, x_1²x_2, x_1x_2², x_2³; ∂(x_1²x_2)/∂x_1 = 2x_1x_2 = −12.
  const polynomial_features cubic(2, 3);
  const row_matrix f3 = cubic.features(x);
  REQUIRE(f3.cols() == 10);
  const std::vector<double> expected3{8, -12, 18, -27};
  for (index_t k = 0; k < 4; ++k) CHECK(f3(0, 6 + k) == expected3[static_cast<std::size_t>(k)]);
  CHECK(cubic.jacobian(Eigen::Vector2d(2.0, -3.0))(7, 0) == -12.0);
  CHECK(jac(4, 1) == 2.0);
  CHECK(jac(3, 0) == 4.0);
  CHECK(jac(5, 1) == -6.0);
}

TEST_CASE("RBF features: the value exp(-|x - c|^2 / (2 h^2)) at a hand-computed point") {
  const rbf_features phi(row_matrix{{0.0, 0.0}, {1.0, 2.0}}, 0.5);
  const row_matrix f = phi.features(row_matrix{{1.0, 1.0}});
  CHECK(f(0, 0) == doctest::Approx(std::exp(-2.0 / 0.5)));
  CHECK(f(0, 1) == doctest::Approx(std::exp(-1.0 / 0.5)));
}

TEST_CASE("random Fourier features approximate the Gaussian kernel: E[phi(x)^T phi(y)] = exp(-|x-y|^2/(2h^2))") {
  // K = 20000 features: φ(x)ᵀφ(y) is a mean of K terms cos(a)cos(b)·2, each of variance ≤ 1, so the
  // standard error is ≤ 1/√K ≈ 0.007; 4 standard errors = 0.03.
  const random_fourier_features phi(2, 20000, 0.7, 5);
  const row_matrix xy{{0.3, -0.2}, {0.9, 0.4}};
  const row_matrix f = phi.features(xy);
  const double kernel = std::exp(-(0.36 + 0.36) / (2 * 0.49));
  CHECK(std::abs(f.row(0).dot(f.row(1)) - kernel) < 0.03);
  CHECK(std::abs(f.row(0).squaredNorm() - 1.0) < 0.03);
}

TEST_CASE("divergence tr(W grad phi) equals central differences of the model W phi, for any input layout") {
  std::mt19937_64 gen(2);
  const rbf_features phi(test::standard_normal(6, 3, gen), 1.1);
  const Eigen::MatrixXd w = test::standard_normal(3, 6, gen);
  const row_matrix x = test::standard_normal(5, 3, gen);
  const Eigen::VectorXd div = divergence(phi, w, x);
  const double h = 1e-6;
  for (index_t b = 0; b < x.rows(); ++b) {
    double numeric = 0.0;
    for (index_t d = 0; d < 3; ++d) {
      row_matrix plus = x.row(b), minus = x.row(b);
      plus(0, d) += h;
      minus(0, d) -= h;
      numeric += (evaluate(phi, w, plus)(0, d) - evaluate(phi, w, minus)(0, d)) / (2 * h);
    }
    CHECK(div(b) == doctest::Approx(numeric).epsilon(1e-7));
  }
  // A column-major copy and an expression give the same values (eigen_view converts them once).
  const Eigen::MatrixXd column_major = x;
  CHECK((divergence(phi, w, column_major) - div).cwiseAbs().maxCoeff() == 0.0);
  CHECK((evaluate(phi, w, x * 1.0) - evaluate(phi, w, x)).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("feature maps refuse bad input, naming the argument and its shape") {
  using scorelift::invalid_argument;
  const polynomial_features phi(2, 2);
  CHECK_THROWS_WITH_AS(static_cast<void>(phi.features(row_matrix::Zero(3, 4))),
                       doctest::Contains("argument 'x' has shape [3, 4] but the feature map needs N >= 1 rows of D = 2"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(static_cast<void>(phi.jacobian(Eigen::VectorXd::Zero(3))), doctest::Contains("argument 'x' has length 3 but D = 2"),
                       invalid_argument);
  row_matrix bad = row_matrix::Zero(2, 2);
  bad(1, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(static_cast<void>(phi.features(bad)), doctest::Contains("contains NaN or Inf"), invalid_argument);
  CHECK_THROWS_WITH_AS(divergence(phi, Eigen::MatrixXd::Zero(2, 5), row_matrix::Zero(1, 2)),
                       doctest::Contains("argument 'weights' has shape [2, 5] but must be [D, K] = [2, 6]"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(polynomial_features(2, 0), doctest::Contains("argument 'degree' is 0"), invalid_argument);
  CHECK_THROWS_WITH_AS(polynomial_features(1000, 3), doctest::Contains("give more than 100000 monomials"), invalid_argument);
  CHECK_THROWS_WITH_AS(rbf_features(row_matrix::Zero(2, 2), 0.0), doctest::Contains("argument 'bandwidth' is 0"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(random_fourier_features(2, 0, 1.0, 1), doctest::Contains("'count' = 0"), invalid_argument);
}

namespace {
struct no_jacobian {
  index_t input_dim() const { return 1; }
  index_t feature_count() const { return 1; }
  row_matrix features(const sample_view& x) const { return x; }
};
}  // namespace

TEST_CASE("FeatureMap: a user type satisfies the concept exactly when it has all four members") {
  static_assert(!FeatureMap<no_jacobian>);
  static_assert(scorelift::analysis::detail::has_features<no_jacobian>);
  static_assert(!scorelift::analysis::detail::has_jacobian<no_jacobian>);
  static_assert(FeatureMap<any_feature_map>);
}

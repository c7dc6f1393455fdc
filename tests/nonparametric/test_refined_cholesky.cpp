// refined_cholesky_solve: a float factor refined in double reaches the double Cholesky solution to
// rounding on a well-conditioned kernel system, and declines (nullopt) an ill-conditioned one; the
// panelled factorisation it uses equals Eigen's LLT (with Eigen's panel steps and, when built with
// SCORELIFT_USE_BLAS, the BLAS's), and its blocked triangular solves equal Eigen's.
#include <doctest/doctest.h>

#include <Eigen/Cholesky>
#include <cmath>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/refined_cholesky.hpp"

using namespace scorelift;
using test::rmat;

namespace {

/// Gaussian Gram matrix of N(0, I₄) samples with bandwidth σ, plus η on the diagonal.
rmat<> regularised_gram(index_t n, double sigma, double eta) {
  const rmat<> x = test::standard_normal(n, 4, 21);
  rmat<> k = (-nonparametric::detail::squared_distances<double>(x, x) / (2 * sigma * sigma)).exp().matrix();
  k.diagonal().array() += eta;
  return k;
}

}  // namespace

TEST_CASE("refined_cholesky_solve matches the double Cholesky solution to rounding") {
  const index_t n = 300;
  const rmat<> a = regularised_gram(n, 1.5, 1.0);  // κ ≤ 1 + N/η ≈ 300
  const rmat<> b = test::standard_normal(n, 5, 22);
  const auto refined = nonparametric::detail::refined_cholesky_solve(a, b);
  REQUIRE(refined.has_value());
  const rmat<> expected = Eigen::MatrixXd(a).llt().solve(Eigen::MatrixXd(b));
  // Both are backward stable in double: they agree to κ·ε-level relative error.
  CHECK((*refined - expected).cwiseAbs().maxCoeff() <= 1e-13 * expected.cwiseAbs().maxCoeff());
  const rmat<> residual = b - a * *refined;
  CHECK(residual.cwiseAbs().maxCoeff() <= 4 * std::numeric_limits<double>::epsilon() *
                                              a.cwiseAbs().rowwise().sum().maxCoeff() * refined->cwiseAbs().maxCoeff());
}

TEST_CASE("refined_cholesky_solve's backward error is within 2x of a double LLT solve's, from narrow to wide kernels") {
  // Per column, ω_j = ‖b_j − A x_j‖∞ / (ε ‖A‖∞ ‖x_j‖∞). Narrow kernels make A nearly diagonal (the
  // corrections contract fastest, so the last one is taken on the predicted contraction, unverified);
  // wide ones with a small η are the hardest systems float still factors. Either way the accepted
  // solution must be as good a solution as a double Cholesky solve's, or at the rounding floor ω ≤ 4.
  for (const index_t d : {4, 16})
    for (const double width : {0.1, 0.3, 1.0})
      for (const double eta : {1.0, 1e-2}) {
        CAPTURE(d);
        CAPTURE(width);
        CAPTURE(eta);
        const index_t n = 400;
        const rmat<> x = test::standard_normal(n, d, 31);
        const double sigma2 = width * width * 2.0 * static_cast<double>(d);
        rmat<> a = (-nonparametric::detail::squared_distances<double>(x, x) / (2 * sigma2)).exp().matrix();
        a.diagonal().array() += eta;
        const rmat<> b = test::standard_normal(n, 16, 32);
        const auto refined = nonparametric::detail::refined_cholesky_solve(a, b);
        REQUIRE(refined.has_value());
        const rmat<> direct = Eigen::MatrixXd(a).llt().solve(Eigen::MatrixXd(b));
        const double scale = std::numeric_limits<double>::epsilon() * a.cwiseAbs().rowwise().sum().maxCoeff();
        const auto omega = [&](const rmat<>& solution) {
          const Eigen::ArrayXd residual = (b - a * solution).cwiseAbs().colwise().maxCoeff().transpose();
          return (residual / (scale * solution.cwiseAbs().colwise().maxCoeff().transpose().array())).eval();
        };
        const Eigen::ArrayXd refined_omega = omega(*refined), direct_omega = omega(direct);
        CHECK((refined_omega <= direct_omega.max(2.0) * 2.0).all());
      }
}

TEST_CASE("refined_cholesky_solve declines a system float cannot resolve") {
  // A wide Gaussian kernel on 300 points is numerically of low rank: with η = 1e-9, κ ≈ 1e11 ≫ 1/ε_f.
  const rmat<> a = regularised_gram(300, 20.0, 1e-9);
  const rmat<> b = test::standard_normal(300, 3, 23);
  CHECK_FALSE(nonparametric::detail::refined_cholesky_solve(a, b).has_value());
}

/// blocked_cholesky with the given panel steps equals Eigen's LLT, for several panel widths, and reports
/// a negative pivot.
template <class Steps>
void check_blocked_cholesky() {
  const index_t n = 300;
  const Eigen::MatrixXd a = regularised_gram(n, 1.5, 0.5);
  const Eigen::MatrixXd expected = a.llt().matrixL();
  for (index_t panel : {64, 97, 300, 384}) {  // several panels, a ragged last one, exactly one, fewer than one
    Eigen::MatrixXd factor = a;
    factor.triangularView<Eigen::StrictlyUpper>().setConstant(std::nan(""));  // never read
    REQUIRE(nonparametric::detail::blocked_cholesky<double, Steps>(factor, panel));
    const Eigen::MatrixXd lower = factor.triangularView<Eigen::Lower>();
    CHECK((lower - expected).cwiseAbs().maxCoeff() <= 1e-12);
  }
  Eigen::MatrixXd indefinite = a;
  indefinite(250, 250) = -1.0;  // a negative pivot in the third panel of 97
  CHECK_FALSE(nonparametric::detail::blocked_cholesky<double, Steps>(indefinite, 97));
  // float, as the refined solve uses it: within float rounding of the double factor
  Eigen::MatrixXf single = a.cast<float>();
  REQUIRE(nonparametric::detail::blocked_cholesky<float, Steps>(single, 97));
  const Eigen::MatrixXd single_lower = single.cast<double>().triangularView<Eigen::Lower>();
  CHECK((single_lower - expected).cwiseAbs().maxCoeff() <= 1e-5 * expected.cwiseAbs().maxCoeff());
}

TEST_CASE("blocked_cholesky equals Eigen's LLT factor across panel boundaries, and reports a failed pivot") {
  SUBCASE("Eigen's panel steps") { check_blocked_cholesky<nonparametric::detail::eigen_panel_steps>(); }
#if defined(SCORELIFT_USE_BLAS)
  SUBCASE("the BLAS's panel steps") { check_blocked_cholesky<nonparametric::detail::blas_panel_steps>(); }
#endif
}

TEST_CASE("cholesky_solve_in_place equals Eigen's two triangular solves across block boundaries") {
  const index_t n = 300;
  const Eigen::MatrixXd factor = Eigen::MatrixXd(regularised_gram(n, 1.5, 0.5)).llt().matrixL();
  const rmat<> y = test::standard_normal(n, 16, 24);
  rmat<> expected = y;
  factor.triangularView<Eigen::Lower>().solveInPlace(expected);
  factor.transpose().triangularView<Eigen::Upper>().solveInPlace(expected);
  for (index_t block : {64, 97, 300, 512}) {  // several blocks, a ragged last one, exactly one, fewer than one
    rmat<> got = y;
    nonparametric::detail::cholesky_solve_in_place<double>(factor, got, block);
    CHECK((got - expected).cwiseAbs().maxCoeff() <= 1e-12 * expected.cwiseAbs().maxCoeff());
  }
  // Only L's lower triangle is read: garbage above the diagonal changes nothing.
  Eigen::MatrixXd dirty = factor;
  dirty.triangularView<Eigen::StrictlyUpper>().setConstant(1e30);
  rmat<> got = y;
  nonparametric::detail::cholesky_solve_in_place<double>(dirty, got, 97);
  CHECK((got - expected).cwiseAbs().maxCoeff() <= 1e-12 * expected.cwiseAbs().maxCoeff());
}

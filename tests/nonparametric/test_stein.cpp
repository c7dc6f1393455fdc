// Stein gradient estimator: at the samples it is Li & Turner's Ĝ = −(K + ηI)⁻¹ ∇K, here written out
// by hand for the Gaussian kernel, (∇K)ᵢ = Σⱼ k(xᵢ, xⱼ)(xᵢ − xⱼ)/σ².
#include <doctest/doctest.h>

#include <Eigen/Cholesky>
#include <Eigen/LU>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/stein.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

TEST_CASE("stein_gradient_estimator matches Li & Turner's closed form at the samples") {
  const index_t n = 30, d = 3;
  const rmat<> x = test::standard_normal(n, d, 51);
  const double sigma = 1.4, eta = 0.3;
  Eigen::MatrixXd k(n, n);
  rmat<> grad_k = rmat<>::Zero(n, d);
  for (index_t i = 0; i < n; ++i) {
    for (index_t j = 0; j < n; ++j) {
      k(i, j) = std::exp(-(x.row(i) - x.row(j)).squaredNorm() / (2 * sigma * sigma));
      grad_k.row(i) += k(i, j) * (x.row(i) - x.row(j)) / (sigma * sigma);
    }
  }
  const Eigen::MatrixXd k_eta = k + eta * Eigen::MatrixXd::Identity(n, n);
  const rmat<> expected = -k_eta.fullPivLu().solve(grad_k);

  stein_gradient_estimator<diagonal_gaussian<double>> estimator({{sigma}}, {eta});
  estimator.fit(x);
  CHECK(test::relative_error(estimator.score(x), expected) < 1e-10);

  // Out of sample: ŝ(x) = −(1/η)[∇K(x) + Σᵢ k(x, xᵢ) Ĝᵢ].
  const rmat<> q = test::standard_normal(1, d, 52);
  rmat<> extension = rmat<>::Zero(1, d);
  for (index_t i = 0; i < n; ++i) {
    const double kq = std::exp(-(q - x.row(i)).squaredNorm() / (2 * sigma * sigma));
    extension -= (kq * (q - x.row(i)) / (sigma * sigma) + kq * expected.row(i)) / eta;
  }
  CHECK(test::relative_error(estimator.score(q), extension) < 1e-10);
}

TEST_CASE("stein_gradient_estimator at N = 1100 (float factor refined in double) equals the double solve") {
  // From N = 1024 on the Cholesky route factors in float and refines in double (refined_cholesky.hpp),
  // on the BLAS where the build has it, and the Gaussian's target goes through K (tikhonov.hpp): the
  // result must still be the double-precision closed form.
  const index_t n = 1100, d = 8;
  const rmat<> x = test::standard_normal(n, d, 53);
  const double sigma = 3.0, eta = 1.0;
  const auto s = nonparametric::detail::squared_distances<double>(x, x);
  const Eigen::MatrixXd k = (-s / (2 * sigma * sigma)).exp().matrix();
  const rmat<> grad_k = (k.rowwise().sum().asDiagonal() * x - k * x) / (sigma * sigma);
  const Eigen::MatrixXd k_eta = k + eta * Eigen::MatrixXd::Identity(n, n);
  const rmat<> expected = -k_eta.llt().solve(grad_k);

  stein_gradient_estimator<diagonal_gaussian<double>> estimator({{sigma}}, {eta});
  estimator.fit(x);
  CHECK(test::relative_error(estimator.score(x), expected) < 1e-11);
}

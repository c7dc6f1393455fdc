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

namespace {

/// Li & Turner's extension by its definition: append q to the samples, solve the (N+1)×(N+1) system
/// Ĝ' = −(K' + ηI)⁻¹∇K' densely (LU), read q's row. ∇K' row i = Σⱼ ∇_{x'ⱼ} k(x'ᵢ, x'ⱼ), here by central
/// differences of kernel.value (fd_divergence), so no closed form of the kernel's derivative enters.
template <class Kernel>
rmat<> refit_with_query(const Kernel& kernel, const rmat<>& x, const rmat<>& q, double eta) {
  const index_t n = x.rows(), d = x.cols();
  rmat<> out(q.rows(), d);
  for (index_t m = 0; m < q.rows(); ++m) {
    rmat<> augmented(n + 1, d);
    augmented << x, q.row(m);
    Eigen::MatrixXd k(n + 1, n + 1);
    rmat<> grad_k = rmat<>::Zero(n + 1, d);
    for (index_t i = 0; i <= n; ++i)
      for (index_t j = 0; j <= n; ++j) {
        k(i, j) = kernel.value(augmented.row(i), augmented.row(j))(0, 0);
        grad_k.row(i) += test::fd_divergence(kernel, augmented.row(i), augmented.row(j));
      }
    const rmat<> g = -(k + eta * Eigen::MatrixXd::Identity(n + 1, n + 1)).fullPivLu().solve(grad_k);
    out.row(m) = g.row(n);
  }
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("stein Li-Turner extension equals the refit with the query appended, computed densely", K,
                   diagonal_gaussian<double>, diagonal_imq<double>) {
  const index_t n = 30, d = 3;
  const rmat<> x = test::standard_normal(n, d, 54), q = test::standard_normal(5, d, 55);
  K kernel{};
  kernel.profile.sigma = 1.3;
  for (const double eta : {0.05, 1.0}) {
    CAPTURE(eta);
    stein_gradient_estimator<K> li_turner(kernel, {eta, stein_extension::li_turner});
    li_turner.fit(x);
    const rmat<> expected = refit_with_query(kernel, x, q, eta);
    CHECK(test::relative_error(li_turner.score(q), expected) < 1e-8);  // central differences: ~1e-10
    // At the samples both extensions keep Ĝ in their expansion; off them they differ.
    stein_gradient_estimator<K> tikhonov(kernel, {eta});
    tikhonov.fit(x);
    CHECK(test::relative_error(li_turner.expansion().score(x), tikhonov.score(x)) < 1e-10);
    CHECK(test::relative_error(li_turner.score(q), tikhonov.score(q)) > 1e-3);
  }
  // A sample as the query: the refit with it twice (finite, and not Ĝ).
  stein_gradient_estimator<K> at_sample(kernel, {0.3, stein_extension::li_turner});
  at_sample.fit(x);
  const rmat<> first = x.topRows(1);
  CHECK(test::relative_error(at_sample.score(first), refit_with_query(kernel, x, first, 0.3)) < 1e-8);
}

TEST_CASE("stein Li-Turner over more queries than one chunk (600 > 256) equals the query-by-query result") {
  const rmat<> x = test::standard_normal(50, 2, 56), q = test::standard_normal(600, 2, 57);
  stein_gradient_estimator<diagonal_gaussian<double>> estimator({{0.9}}, {0.2, stein_extension::li_turner});
  estimator.fit(x);
  const rmat<> all = estimator.score(q);
  for (const index_t row : {index_t(0), index_t(255), index_t(256), index_t(599)})
    CHECK((all.row(row) - estimator.score(rmat<>(q.row(row)))).norm() <= 1e-13 * all.row(row).norm());
}

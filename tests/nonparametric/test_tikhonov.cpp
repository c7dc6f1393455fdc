// Tikhonov estimator: the fit is a stationary point of its regularised objective
//   J(f) = (1/N) Σᵢ [‖f(xᵢ)‖² + 2 div f(xᵢ)] + λ‖f‖²_H
// (the score-matching loss plus the RKHS penalty) in every direction g = K(·, c) eₐ, which checks
// the Stein-identity target, its sign and the 1/λ extension all at once, with div g from finite
// differences of the kernel. Then: CG = Cholesky, Nyström stationarity within its subspace, the
// energy's gradient is the score, and float agrees with double.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/tikhonov.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

namespace {

/// ∂J(f + t g)/∂t at t = 0 for g = K(·, c) eₐ, where ⟨f, g⟩_H = fₐ(c):
///   (2/N) Σᵢ [f(xᵢ)ᵀ K(xᵢ, c) eₐ + (div_y K(c, y)|_{y=xᵢ})ₐ] + 2λ fₐ(c),
/// returned relative to the sum of the magnitudes of its terms.
template <class Estimator, class Kernel>
double relative_stationarity(const Estimator& estimator, const Kernel& kernel, const rmat<>& samples, double lambda,
                             const rmat<>& c, index_t a) {
  const double n = static_cast<double>(samples.rows());
  const rmat<> f = estimator.score(samples);
  double data = 0, divergence = 0, scale = 0;
  for (index_t i = 0; i < samples.rows(); ++i) {
    const double fg = f.row(i).dot(kernel.value(samples.row(i), c).col(a).transpose());
    const double dg = test::fd_divergence(kernel, c, samples.row(i))(0, a);
    data += fg;
    divergence += dg;
    scale += std::abs(fg) + std::abs(dg);
  }
  const double penalty = 2 * lambda * estimator.score(c)(0, a);
  const double derivative = 2 / n * (data + divergence) + penalty;
  return std::abs(derivative) / (2 / n * scale + std::abs(penalty));
}

template <class Kernel>
Kernel fixed(double sigma) {
  Kernel kernel;
  kernel.profile.sigma = sigma;
  return kernel;
}

/// The Nyström weights by the dense construction (the estimator's algorithm before normal_matrix and
/// centres_basis): K_ZZ = V μ Vᵀ, P = V_r μ_r^(−1/2) over μ > n·ε·μ_max, Φ = K_XZ P with the explicit
/// K_XZ (ND×MD, or N×M shared by the coordinates), θ = (ΦᵀΦ + NλI)⁻¹ N Pᵀ ζ̂(Z), weights P θ.
template <class Kernel>
rmat<> dense_nystrom_weights(const Kernel& kernel, const rmat<>& x, const rmat<>& z, double lambda) {
  const double n = static_cast<double>(x.rows());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(kernel.make_block(z, z).dense().matrix());
  const Eigen::VectorXd& mu = eigen.eigenvalues();
  const auto size = mu.size();
  const index_t rank = (mu.array() > static_cast<double>(size) * 2.220446049250313e-16 * mu(size - 1)).count();
  const Eigen::MatrixXd p = eigen.eigenvectors().rightCols(rank) * mu.tail(rank).cwiseSqrt().cwiseInverse().asDiagonal();
  const Eigen::MatrixXd phi = kernel.make_block(x, z).dense().matrix() * p;
  Eigen::MatrixXd gram = phi.transpose() * phi;
  gram.diagonal().array() += n * lambda;
  const rmat<> zeta_z = nonparametric::detail::stein_target(kernel.make_block(z, x), x.rows());
  const index_t cols = Kernel::is_curl_free ? 1 : zeta_z.cols();
  const Eigen::MatrixXd zeta = Eigen::Map<const rmat<>>(zeta_z.data(), zeta_z.size() / cols, cols);
  const Eigen::MatrixXd a = p * gram.llt().solve(n * p.transpose() * zeta);
  rmat<> weights(z.rows(), z.cols());
  if (Kernel::is_curl_free)
    weights = Eigen::Map<const rmat<>>(a.data(), z.rows(), z.cols());
  else
    weights = a;
  return weights;
}

}  // namespace

TEST_CASE_TEMPLATE("tikhonov (Cholesky) is stationary for its objective in sample and off-sample directions", K,
                   diagonal_gaussian<double>, diagonal_imq<double>, curl_free_gaussian<double>, curl_free_imq<double>) {
  const rmat<> x = test::standard_normal(40, 3, 41);
  const rmat<> off_sample = test::standard_normal(1, 3, 42);
  const K kernel = fixed<K>(1.3);
  const double lambda = 0.02;
  tikhonov_estimator<K> estimator(kernel, {.lambda = lambda});
  estimator.fit(x);
  CHECK(relative_stationarity(estimator, kernel, x, lambda, x.row(3), 0) < 1e-7);
  CHECK(relative_stationarity(estimator, kernel, x, lambda, x.row(17), 2) < 1e-7);
  CHECK(relative_stationarity(estimator, kernel, x, lambda, off_sample, 1) < 1e-7);
  // A wrong sign of the Stein target or of the extension would leave O(1) residuals:
  tikhonov_estimator<K> other(kernel, {.lambda = 2 * lambda});
  other.fit(x);
  CHECK(relative_stationarity(other, kernel, x, lambda, x.row(3), 0) > 1e-3);
}

TEST_CASE_TEMPLATE("tikhonov conjugate gradients agree with the Cholesky solve", K, diagonal_gaussian<double>,
                   curl_free_gaussian<double>, curl_free_imq<double>) {
  const rmat<> x = test::standard_normal(80, 4, 43), q = test::standard_normal(20, 4, 44);
  tikhonov_estimator<K> direct({}, {.lambda = 5e-3});
  tikhonov_estimator<K> iterative({}, {.lambda = 5e-3, .solver = tikhonov_solver::conjugate_gradient, .tolerance = 1e-12});
  const rmat<> expected = direct.fit(x).score(q);
  const rmat<> got = iterative.fit(x).score(q);
  CHECK(iterative.solver_report().converged);
  CHECK(iterative.solver_report().iterations < 80 * 4);
  CHECK(test::relative_error(got, expected) < 1e-8);
  // The report describes the last fit: a Cholesky refit of the same estimator leaves none.
  iterative.options().solver = tikhonov_solver::cholesky;
  iterative.fit(x);
  CHECK(iterative.solver_report().iterations == 0);
  CHECK(!iterative.solver_report().converged);
}

TEST_CASE_TEMPLATE("tikhonov with Nystrom centres is stationary within the span of its centres", K,
                   diagonal_gaussian<double>, curl_free_gaussian<double>) {
  const rmat<> x = test::standard_normal(60, 2, 45);
  const K kernel = fixed<K>(0.9);
  const double lambda = 0.01;
  tikhonov_estimator<K> estimator(kernel, {.lambda = lambda, .nystrom_centres = 12, .seed = 7});
  estimator.fit(x);
  const rmat<>& z = estimator.expansion().centres();
  REQUIRE(z.rows() == 12);
  CHECK(relative_stationarity(estimator, kernel, x, lambda, z.row(0), 0) < 1e-7);
  CHECK(relative_stationarity(estimator, kernel, x, lambda, z.row(11), 1) < 1e-7);
  // …but not in a direction outside that span (a sample that is not a centre).
  index_t outside = 0;
  while ((z.rowwise() - x.row(outside)).rowwise().squaredNorm().minCoeff() == 0) ++outside;
  CHECK(relative_stationarity(estimator, kernel, x, lambda, x.row(outside), 0) > 1e-4);
}

TEST_CASE("tikhonov energy: its finite-difference gradient is the score (curl-free kernels, full and Nystrom)") {
  const rmat<> x = test::standard_normal(50, 3, 46), q = test::standard_normal(5, 3, 47);
  tikhonov_estimator<curl_free_imq<double>> full({}, {.lambda = 1e-2});
  tikhonov_estimator<curl_free_gaussian<double>> nystrom({}, {.lambda = 1e-2, .nystrom_centres = 20});
  full.fit(x);
  nystrom.fit(x);
  for (index_t i = 0; i < q.rows(); ++i) {
    for (index_t a = 0; a < 3; ++a) {
      const rmat<> p = q.row(i);
      const double g_full = test::central_difference([&](const rmat<>& y) { return full.energy(y)(0); }, p, a);
      const double g_nys = test::central_difference([&](const rmat<>& y) { return nystrom.energy(y)(0); }, p, a);
      CHECK(g_full == doctest::Approx(full.score(p)(0, a)).epsilon(1e-6));
      CHECK(g_nys == doctest::Approx(nystrom.score(p)(0, a)).epsilon(1e-6));
    }
  }
}

TEST_CASE("tikhonov in float agrees with double") {
  const rmat<> x = test::standard_normal(64, 3, 48), q = test::standard_normal(16, 3, 49);
  tikhonov_estimator<diagonal_gaussian<double>> d({}, {.lambda = 1e-2});
  tikhonov_estimator<curl_free_gaussian<float>> cf_f({}, {.lambda = 1e-2f});
  tikhonov_estimator<curl_free_gaussian<double>> cf_d({}, {.lambda = 1e-2});
  tikhonov_estimator<diagonal_gaussian<float>> f({}, {.lambda = 1e-2f});
  const rmat<float> xf = x.cast<float>(), qf = q.cast<float>();
  CHECK(test::relative_error(f.fit(xf).score(qf).cast<double>(), d.fit(x).score(q)) < 1e-4);
  CHECK(test::relative_error(cf_f.fit(xf).score(qf).cast<double>(), cf_d.fit(x).score(q)) < 1e-4);
}

TEST_CASE_TEMPLATE("tikhonov with Nystrom centres equals its dense construction (full-rank and singular K_ZZ)", K,
                   diagonal_gaussian<double>, curl_free_gaussian<double>, curl_free_imq<double>) {
  const K kernel = fixed<K>(1.1);
  const double lambda = 0.01;
  SUBCASE("distinct samples: every eigenvalue of K_ZZ kept, P = L^-T") {
    const rmat<> x = test::standard_normal(60, 3, 50);
    tikhonov_estimator<K> estimator(kernel, {.lambda = lambda, .nystrom_centres = 12, .seed = 3});
    const auto& fitted = estimator.fit(x).expansion();
    const rmat<> expected = dense_nystrom_weights(kernel, x, fitted.centres(), lambda);
    CHECK(test::relative_error(fitted.weights(), expected) < 1e-10);
  }
  SUBCASE("every sample twice: coinciding centres make K_ZZ singular, the eigendecomposition drops its null space") {
    const rmat<> distinct = test::standard_normal(30, 3, 51);
    rmat<> x(60, 3);
    x << distinct, distinct;
    tikhonov_estimator<K> estimator(kernel, {.lambda = lambda, .nystrom_centres = 20, .seed = 4});
    const auto& fitted = estimator.fit(x).expansion();
    const rmat<>& z = fitted.centres();
    bool coincide = false;  // 20 of 30 pairs drawn: some pair is drawn twice
    for (index_t j = 0; j < z.rows(); ++j)
      for (index_t k = 0; k < j; ++k) coincide = coincide || z.row(j) == z.row(k);
    REQUIRE(coincide);
    const rmat<> expected = dense_nystrom_weights(kernel, x, z, lambda);
    CHECK(test::relative_error(fitted.weights(), expected) < 1e-10);
  }
}

TEST_CASE_TEMPLATE("tikhonov with Nystrom centres by conjugate gradients equals the Cholesky solve and the dense construction", K,
                   diagonal_gaussian<double>, curl_free_gaussian<double>, curl_free_imq<double>) {
  // The same system (ΦᵀΦ + NλI)θ = N Pᵀζ̂(Z), solved without forming ΦᵀΦ: at tolerance 1e-12 its weights
  // agree with the factorised solve; the error bound is the CG residual times the condition number
  // ‖ΦᵀΦ/N + λ‖/λ ≲ 1e3 here. Distinct samples, and every sample twice (singular K_ZZ).
  const K kernel = fixed<K>(1.1);
  const double lambda = 0.01;
  const rmat<> distinct = test::standard_normal(30, 3, 53);
  rmat<> doubled(60, 3);
  doubled << distinct, distinct;
  for (const rmat<>& x : {rmat<>(test::standard_normal(60, 3, 50)), doubled}) {
    tikhonov_estimator<K> cholesky(kernel, {.lambda = lambda, .nystrom_centres = 20, .seed = 4});
    tikhonov_estimator<K> cg(kernel, {.lambda = lambda, .solver = tikhonov_solver::conjugate_gradient,
                                      .tolerance = 1e-12, .nystrom_centres = 20, .seed = 4});
    const auto& by_cholesky = cholesky.fit(x).expansion();
    const auto& by_cg = cg.fit(x).expansion();
    REQUIRE(by_cg.centres() == by_cholesky.centres());
    CHECK(cg.solver_report().converged);
    CHECK(cg.solver_report().iterations > 1);
    CHECK(cg.solver_report().relative_residual <= 1e-12);
    CHECK(test::relative_error(by_cg.weights(), by_cholesky.weights()) < 1e-9);
    CHECK(test::relative_error(by_cg.weights(), dense_nystrom_weights(kernel, x, by_cg.centres(), lambda)) < 1e-9);
  }
  // Stopped early, the same rule as the full CG: ‖r‖ ≤ tolerance·‖b‖, and the report says where it stopped.
  tikhonov_estimator<K> loose(kernel, {.lambda = lambda, .solver = tikhonov_solver::conjugate_gradient,
                                       .tolerance = 1e-2, .nystrom_centres = 20, .seed = 4});
  loose.fit(test::standard_normal(60, 3, 50));
  CHECK(loose.solver_report().relative_residual <= 1e-2);
  tikhonov_estimator<K> capped(kernel, {.lambda = lambda, .solver = tikhonov_solver::conjugate_gradient,
                                        .tolerance = 1e-14, .max_iterations = 2, .nystrom_centres = 20, .seed = 4});
  capped.fit(test::standard_normal(60, 3, 50));
  CHECK(capped.solver_report().iterations == 2);
  CHECK_FALSE(capped.solver_report().converged);
}

TEST_CASE("centres_basis: P^T K P = I, by Cholesky for a nonsingular K and by eigenvectors for a singular one") {
  const rmat<> f = test::standard_normal(40, 40, 52);
  const Eigen::MatrixXd nonsingular = f.transpose() * f + 1e-3 * Eigen::MatrixXd::Identity(40, 40);
  const Eigen::MatrixXd singular = f.topRows(10).transpose() * f.topRows(10);  // rank 10
  for (const Eigen::MatrixXd& k : {nonsingular, singular}) {
    const double bound = k.cwiseAbs().rowwise().sum().maxCoeff();  // ≥ ‖K‖₂
    const rmat<> p = nonparametric::detail::centres_basis<double>(k, bound, "test");
    CHECK((p.transpose() * k * p - Eigen::MatrixXd::Identity(p.cols(), p.cols())).norm() < 1e-8);
    CHECK((k * p * p.transpose() * k - k).norm() < 1e-10 * k.norm());  // P spans K's range
  }
  const rmat<> full = nonparametric::detail::centres_basis<double>(nonsingular, nonsingular.cwiseAbs().rowwise().sum().maxCoeff(), "test");
  CHECK(full.cols() == 40);
  CHECK(full.triangularView<Eigen::StrictlyLower>().toDenseMatrix().norm() == 0.0);  // P = L⁻ᵀ, upper triangular
  CHECK(nonparametric::detail::centres_basis<double>(singular, singular.cwiseAbs().rowwise().sum().maxCoeff(), "test").cols() == 10);
}

// Landweber: at the samples, T iterations apply the spectral filter g_T(σ) = (1 − (1 − ησ)^T)/σ of
// L̂ = K/N to ζ̂(X) (checked through an eigendecomposition), and the energy's gradient is the score.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/landweber.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

TEST_CASE("landweber_estimator at the samples is the Landweber spectral filter of K/N applied to zeta") {
  const index_t n = 40, d = 2, iterations = 25;
  const rmat<> x = test::standard_normal(n, d, 71);
  const diagonal_gaussian<double> kernel{{0.8}};
  landweber_estimator<diagonal_gaussian<double>> estimator(kernel, {iterations});
  estimator.fit(x);

  const Eigen::MatrixXd gram = kernel.make_block(x, x).dense().matrix();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram / static_cast<double>(n));
  const double eta = estimator.step();
  CHECK(eta * eig.eigenvalues().maxCoeff() <= 1.0);  // the step keeps ηL̂ inside [0, 1]
  Eigen::VectorXd filter(n);
  for (index_t k = 0; k < n; ++k) {
    const double s = eig.eigenvalues()(k);
    filter(k) = s > 1e-300 ? (1 - std::pow(1 - eta * s, static_cast<double>(iterations))) / s : eta * iterations;
  }
  const rmat<> zeta = test::fd_zeta(kernel, x, x);
  const rmat<> expected = eig.eigenvectors() * filter.asDiagonal() * eig.eigenvectors().transpose() * zeta;
  CHECK(test::relative_error(estimator.score(x), expected) < 1e-7);
}

TEST_CASE("landweber energy: finite-difference gradient is the score (curl-free IMQ)") {
  const rmat<> x = test::standard_normal(40, 3, 72), q = test::standard_normal(3, 3, 73);
  landweber_estimator<curl_free_imq<double>> estimator({}, {15});
  estimator.fit(x);
  for (index_t i = 0; i < q.rows(); ++i)
    for (index_t a = 0; a < 3; ++a) {
      const rmat<> p = q.row(i);
      CHECK(test::central_difference([&](const rmat<>& y) { return estimator.energy(y)(0); }, p, a) ==
            doctest::Approx(estimator.score(p)(0, a)).epsilon(1e-6));
    }
}

// Landweber: at the samples, T iterations apply the spectral filter g_T(σ) = (1 − (1 − ησ)^T)/σ of
// L̂ = K/N to ζ̂(X) (checked through an eigendecomposition), and the energy's gradient is the score.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/landweber.hpp"
#include "scorelift/nonparametric/nu_method.hpp"

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

TEST_CASE("landweber with a step gamma on K: two iterations by hand, out of sample") {
  // η = Nγ on L̂: f₁ = ηζ̂, f₂ = f₁ + η(ζ̂ − L̂f₁) = 2ηζ̂ − η² (1/N) Σᵢ K(·, xᵢ) ζ̂(xᵢ), with ζ̂ and the
  // product from finite differences and explicit blocks (curl-free IMQ: both terms are D×D blocks).
  const index_t n = 25, d = 2;
  const rmat<> x = test::standard_normal(n, d, 74), q = test::standard_normal(4, d, 75);
  const curl_free_imq<double> kernel{{1.3}};
  const double gamma = 0.01, eta = n * gamma;
  landweber_estimator<curl_free_imq<double>> estimator(kernel, {2, iteration_step<double>::on_gram(gamma)});
  estimator.fit(x);
  CHECK(estimator.step() == doctest::Approx(eta).epsilon(1e-15));
  const rmat<> expected = 2 * eta * test::fd_zeta(kernel, q, x) -
                          eta * eta / n * test::naive_apply(kernel, q, x, test::fd_zeta(kernel, x, x));
  CHECK(test::relative_error(estimator.score(q), expected) < 1e-7);
  // The same step given on L̂ is the same fit.
  landweber_estimator<curl_free_imq<double>> on_operator(kernel, {2, iteration_step<double>::on_operator(eta)});
  CHECK(on_operator.fit(x).score(q) == estimator.score(q));
}

TEST_CASE("landweber with gamma on K is the filter (1 - (1 - gamma mu)^T) N / mu on K's spectrum, 2/||K|| is the limit") {
  // γ = 1.9/μ_max: past the Gershgorin-safe step (γ·bound > 2 is checked below), accepted after the power
  // iteration finds ηρ = 1.9 < 2. γ = 2.1/μ_max diverges and is refused.
  const index_t n = 40, d = 2, iterations = 30;
  const rmat<> x = test::standard_normal(n, d, 76);
  const diagonal_gaussian<double> kernel{{1.5}};
  const Eigen::MatrixXd gram = kernel.make_block(x, x).dense().matrix();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const double mu_max = eig.eigenvalues().maxCoeff(), gamma = 1.9 / mu_max;
  REQUIRE(gamma * kernel.make_block(x, x).norm_bound() > 2);
  landweber_estimator<diagonal_gaussian<double>> estimator(kernel, {iterations, iteration_step<double>::on_gram(gamma)});
  estimator.fit(x);
  Eigen::VectorXd filter(n);
  for (index_t k = 0; k < n; ++k) {
    const double mu = eig.eigenvalues()(k);
    filter(k) = mu > 1e-300 ? (1 - std::pow(1 - gamma * mu, static_cast<double>(iterations))) * n / mu
                            : n * gamma * iterations;
  }
  const rmat<> zeta = test::fd_zeta(kernel, x, x);
  const rmat<> expected = eig.eigenvectors() * filter.asDiagonal() * eig.eigenvectors().transpose() * zeta;
  CHECK(test::relative_error(estimator.score(x), expected) < 1e-7);

  landweber_estimator<diagonal_gaussian<double>> diverging(kernel, {iterations, iteration_step<double>::on_gram(2.1 / mu_max)});
  CHECK_THROWS_WITH_AS(diverging.fit(x), doctest::Contains("where the iteration diverges"), scorelift::invalid_argument);
}

TEST_CASE("iterations from lambda as kscore derives them: floor(1/lambda) + 1 and floor(1/sqrt(lambda)) + 1") {
  CHECK(landweber_method<double>::from_lambda(0.1).iterations == 11);  // 1/0.1 is 10 as written
  CHECK(landweber_method<double>::from_lambda(0.3).iterations == 4);
  CHECK(landweber_method<float>::from_lambda(0.1f).iterations == 11);
  CHECK(landweber_method<double>::from_lambda(2.0).iterations == 1);
  CHECK(nu_method<double>::from_lambda(0.01).iterations == 11);
  CHECK(nu_method<double>::from_lambda(0.02).iterations == 8);  // 1/√0.02 = 7.07
  CHECK(nu_method<double>::from_lambda(0.04, 0.5).nu == 0.5);
  const auto with_step = landweber_method<double>::from_lambda(0.5, iteration_step<double>::on_gram(0.01));
  CHECK(with_step.iterations == 3);
  CHECK(with_step.step.kind == iteration_step<double>::rule::on_gram);
}

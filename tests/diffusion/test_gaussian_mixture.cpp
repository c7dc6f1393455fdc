#include "scorelift/diffusion/gaussian_mixture.hpp"

#include <doctest/doctest.h>

#include <Eigen/LU>
#include <cmath>
#include <numbers>
#include <random>

#include "sampler_checks.hpp"

using namespace scorelift::diffusion;
using matrix = gaussian_mixture::matrix;

TEST_CASE("gaussian_mixture: one component is N(alpha mu, alpha^2 Sigma + sigma^2 I) in closed form") {
  Eigen::MatrixXd cov(2, 2);
  cov << 2.0, 0.6, 0.6, 0.5;
  matrix mu(1, 2);
  mu << 1.0, -2.0;
  const gaussian_mixture g(Eigen::VectorXd::Ones(1), mu, {cov});
  const noise_level n{0.8, 0.6};
  const Eigen::MatrixXd C = n.alpha * n.alpha * cov + n.sigma * n.sigma * Eigen::MatrixXd::Identity(2, 2);
  matrix x(2, 2);
  x << 0.3, 0.1, -1.0, 2.0;
  const matrix s = g.score(x, n);
  const Eigen::VectorXd m = n.alpha * mu.row(0).transpose();
  for (int b = 0; b < 2; ++b) {
    const Eigen::VectorXd d = x.row(b).transpose() - m;
    const Eigen::VectorXd expected = -C.inverse() * d;
    CHECK((s.row(b).transpose() - expected).norm() < 1e-12);
    const double logp = -0.5 * d.dot(C.inverse() * d) - 0.5 * std::log(C.determinant()) - std::log(2.0 * std::numbers::pi);
    CHECK(g.log_density(x, n)(b) == doctest::Approx(logp).epsilon(1e-12));
  }
}

TEST_CASE("gaussian_mixture: noisy score equals finite differences of the noisy log-density") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  std::mt19937_64 gen(3);
  const matrix x = g.sample(20, gen);
  for (const noise_level n : {noise_level{1.0, 0.0}, noise_level::variance_preserving(2.0),
                              noise_level::variance_preserving(-3.0), noise_level{1.0, 5.0}}) {
    const matrix s = g.score(x, n);
    const double h = 1e-5;
    for (int d = 0; d < 2; ++d) {
      matrix plus = x, minus = x;
      plus.col(d).array() += h;
      minus.col(d).array() -= h;
      const Eigen::VectorXd fd = (g.log_density(plus, n) - g.log_density(minus, n)) / (2 * h);
      CHECK((fd - s.col(d)).cwiseAbs().maxCoeff() < 1e-6 * (1.0 + s.col(d).cwiseAbs().maxCoeff()));
    }
  }
}

TEST_CASE("gaussian_mixture: Tweedie denoiser is E[x | x~], checked by Monte Carlo at one noisy point") {
  // E[x | x̃] for a mixture = Σ γ_k (μ_k + α Σ_k C_k⁻¹ (x̃ − α μ_k)); compare with the Tweedie form.
  const gaussian_mixture g = scorelift::test::reference_mixture();
  const noise_level n = noise_level::variance_preserving(0.5);
  matrix x(1, 2);
  x << 0.4, -0.7;
  const matrix gamma = g.responsibilities(x, n);
  Eigen::VectorXd expected = Eigen::VectorXd::Zero(2);
  for (int k = 0; k < g.components(); ++k) {
    const Eigen::MatrixXd& S = g.covariances()[static_cast<std::size_t>(k)];
    const Eigen::MatrixXd C = n.alpha * n.alpha * S + n.sigma * n.sigma * Eigen::MatrixXd::Identity(2, 2);
    const Eigen::VectorXd mu = g.means().row(k).transpose();
    expected += gamma(0, k) * (mu + n.alpha * S * C.inverse() * (x.row(0).transpose() - n.alpha * mu));
  }
  CHECK((g.denoised(x, n).row(0).transpose() - expected).norm() < 1e-12);
  CHECK(gamma.sum() == doctest::Approx(1.0));
}

TEST_CASE("gaussian_mixture: samples match the closed-form mean, covariance and weights") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  std::mt19937_64 gen(11);
  const matrix x = g.sample(scorelift::test::sample_count, gen);
  scorelift::test::check_matches_mixture(x, g, "exact samples");
}

TEST_CASE("gaussian_mixture: far-away points give the log-sum-exp values, not overflow") {
  // At (400, −300) every component's density underflows (log N_k ~ −10⁵), so a direct Σ_k w_k N_k is 0
  // and its score 0/0. Reference, component by component: l_k = log w_k + log N(x; μ_k, Σ_k),
  // log p = m + log Σ_k e^{l_k − m} with m = max l_k, ∇ log p = −Σ_k softmax(l)_k Σ_k⁻¹ (x − μ_k).
  const gaussian_mixture g = scorelift::test::reference_mixture();
  matrix x(1, 2);
  x << 400.0, -300.0;
  const int k_count = g.components();
  Eigen::VectorXd l(k_count);
  std::vector<Eigen::Vector2d> component_scores;
  for (int k = 0; k < k_count; ++k) {
    const Eigen::MatrixXd& S = g.covariances()[static_cast<std::size_t>(k)];
    const Eigen::Vector2d r = x.row(0).transpose() - g.means().row(k).transpose();
    const Eigen::Vector2d solved = S.inverse() * r;
    l(k) = std::log(g.weights()(k)) - std::log(2.0 * std::numbers::pi) - 0.5 * std::log(S.determinant()) -
           0.5 * r.dot(solved);
    component_scores.push_back(-solved);
  }
  REQUIRE(l.maxCoeff() < -700.0);  // far enough that exp(l_k) underflows
  const double m = l.maxCoeff();
  const Eigen::VectorXd responsibilities = (l.array() - m).exp() / (l.array() - m).exp().sum();
  Eigen::Vector2d expected_score = Eigen::Vector2d::Zero();
  for (int k = 0; k < k_count; ++k) expected_score += responsibilities(k) * component_scores[static_cast<std::size_t>(k)];
  const double expected_log_density = m + std::log((l.array() - m).exp().sum());
  CHECK((g.score(x, noise_level{1.0, 0.0}).row(0).transpose() - expected_score).norm() <= 1e-12 * expected_score.norm());
  CHECK(g.log_density(x, noise_level{1.0, 0.0})(0) == doctest::Approx(expected_log_density).epsilon(1e-12));
}

TEST_CASE("gaussian_mixture: bad input throws naming the argument and shape") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  CHECK_THROWS_WITH_AS((void)g.score(matrix::Zero(3, 4), noise_level{1.0, 0.1}), doctest::Contains("'x' has shape [3, 4]"),
                       scorelift::invalid_argument);
  matrix bad = matrix::Zero(2, 2);
  bad(1, 1) = std::nan("");
  CHECK_THROWS_WITH_AS((void)g.score(bad, noise_level{1.0, 0.1}), doctest::Contains("NaN"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)g.score(matrix::Zero(1, 2), noise_level{0.0, 0.0}), doctest::Contains("not both 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(gaussian_mixture(Eigen::VectorXd::Ones(2), matrix::Zero(3, 2),
                                        {Eigen::MatrixXd::Identity(2, 2), Eigen::MatrixXd::Identity(2, 2)}),
                       doctest::Contains("'means' has shape [3, 2]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(gaussian_mixture(Eigen::VectorXd::Ones(1), matrix::Zero(1, 2), {-Eigen::MatrixXd::Identity(2, 2)}),
                       doctest::Contains("positive-definite"), scorelift::invalid_argument);
}

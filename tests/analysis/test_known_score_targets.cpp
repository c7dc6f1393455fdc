// Tests for scorelift/analysis/known_score_targets.hpp: the score is ∇ log p (central differences of the
// log-density), and the samplers reproduce closed-form moments (fixed seeds, tolerances ≈ 5 standard errors).
#include <doctest/doctest.h>

#include <Eigen/Core>
#include <cmath>
#include <random>

#include "scorelift/analysis/known_score_targets.hpp"

namespace sa = scorelift::analysis;

namespace {
double column_mean(const Eigen::MatrixXd& x, int j) { return x.col(j).mean(); }
double column_variance(const Eigen::MatrixXd& x, int j) {
  return (x.col(j).array() - x.col(j).mean()).square().sum() / double(x.rows() - 1);
}
}  // namespace

TEST_CASE("banana_target: score is the gradient of the log-density") {
  const sa::banana_target p(1.5, 0.7);
  std::mt19937_64 gen(3);
  const Eigen::MatrixXd x = p.sample(20, gen);
  const Eigen::MatrixXd s = p.score(x);
  const double h = 1e-5;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double d1 = (p.log_density(x(i, 0) + h, x(i, 1)) - p.log_density(x(i, 0) - h, x(i, 1))) / (2 * h);
    const double d2 = (p.log_density(x(i, 0), x(i, 1) + h) - p.log_density(x(i, 0), x(i, 1) - h)) / (2 * h);
    CHECK(s(i, 0) == doctest::Approx(d1).epsilon(1e-6));
    CHECK(s(i, 1) == doctest::Approx(d2).epsilon(1e-6));
  }
}

TEST_CASE("banana_target: sampler moments") {
  // x₁ = a z₁, x₂ = z₂ + b(a² w² − a²): E x = 0, Var x₁ = a², Var x₂ = 1 + 2 b² a⁴ (Var w² = 2).
  const double a = 2.0, b = 0.25;
  const sa::banana_target p(a, b);
  std::mt19937_64 gen(11);
  const Eigen::MatrixXd x = p.sample(200000, gen);
  CHECK(std::abs(column_mean(x, 0)) < 0.025);  // SE 0.0045
  CHECK(std::abs(column_mean(x, 1)) < 0.02);   // SE 0.0039
  CHECK(column_variance(x, 0) == doctest::Approx(a * a).epsilon(0.02));
  CHECK(column_variance(x, 1) == doctest::Approx(1 + 2 * b * b * a * a * a * a).epsilon(0.04));
}

TEST_CASE("funnel_target: score is the gradient of the log-density") {
  const sa::funnel_target p(4, 1.2);
  std::mt19937_64 gen(5);
  const Eigen::MatrixXd x = p.sample(20, gen);
  const Eigen::MatrixXd s = p.score(x);
  const double h = 1e-5;
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      Eigen::VectorXd plus = x.row(i).transpose(), minus = plus;
      plus(j) += h;
      minus(j) -= h;
      const double fd = (p.log_density(plus) - p.log_density(minus)) / (2 * h);
      CHECK(s(i, j) == doctest::Approx(fd).epsilon(1e-6));
    }
}

TEST_CASE("funnel_target: sampler moments") {
  // v ~ N(0, τ²), and x_i e^{−v/2} ~ N(0, 1) independently of v.
  const double tau = 3.0;
  const sa::funnel_target p(3, tau);
  std::mt19937_64 gen(17);
  const Eigen::MatrixXd x = p.sample(200000, gen);
  CHECK(std::abs(column_mean(x, 0)) < 0.035);  // SE 0.0067
  CHECK(column_variance(x, 0) == doctest::Approx(tau * tau).epsilon(0.02));
  for (int j = 1; j < 3; ++j) {
    const Eigen::ArrayXd standardised = x.col(j).array() * (-0.5 * x.col(0).array()).exp();
    CHECK(std::abs(standardised.mean()) < 0.012);  // SE 0.0022
    CHECK(standardised.square().mean() == doctest::Approx(1.0).epsilon(0.02));
    CHECK(std::abs((standardised * x.col(0).array()).mean()) < 0.035);  // E[z v] = 0, SE 0.0067
  }
}

TEST_CASE("known-score targets: bad arguments throw naming them") {
  CHECK_THROWS_WITH_AS(sa::banana_target(0.0, 1.0), doctest::Contains("arguments 'a' = 0 and 'b' = 1"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sa::funnel_target(11, 3.0), doctest::Contains("argument 'dim' is 11"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sa::funnel_target(2, -1.0), doctest::Contains("argument 'tau' is -1"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sa::banana_target().score(Eigen::MatrixXd::Zero(4, 3)), doctest::Contains("[4, 3]"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sa::funnel_target(3).score(Eigen::MatrixXd::Zero(4, 2)),
                       doctest::Contains("analysis::funnel_target::score: argument 'x' has shape [4, 2] but the target has dimension 3"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sa::funnel_target(3).log_density(Eigen::VectorXd::Zero(1)),
                       doctest::Contains("argument 'x' has 1 entries but the funnel has D = 3"), scorelift::invalid_argument);
  std::mt19937_64 gen(1);
  CHECK_THROWS_WITH_AS(sa::banana_target().sample(-1, gen), doctest::Contains("argument 'n' is -1"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sa::funnel_target().sample(-3, gen), doctest::Contains("argument 'n' is -3"), scorelift::invalid_argument);
}

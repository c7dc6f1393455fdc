// Fréchet distance between feature moments: closed forms for Gaussians whose covariances commute,
// symmetry and the triangle-free identities, sample moments, and bad input.
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "scorelift/implicit/frechet_distance.hpp"

using scorelift::feature_moments;
using scorelift::frechet_distance;
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

feature_moments gaussian(const Eigen::VectorXd& mean, const Eigen::MatrixXd& covariance) {
  return feature_moments{mean, covariance, 1000};
}

Eigen::MatrixXd random_rotation(int d, std::mt19937_64& gen) {
  std::normal_distribution<double> normal;
  const Eigen::MatrixXd a = Eigen::MatrixXd::NullaryExpr(d, d, [&] { return normal(gen); });
  return Eigen::HouseholderQR<Eigen::MatrixXd>(a).householderQ();
}

}  // namespace

TEST_CASE("frechet_distance matches the closed form when the covariances commute") {
  // Same eigenvectors Q: FD = ‖Δμ‖² + Σ_i (√λ_i − √ν_i)².
  std::mt19937_64 gen(7);
  const int d = 6;
  const Eigen::MatrixXd q = random_rotation(d, gen);
  Eigen::VectorXd lambda(d), nu(d);
  lambda << 0.5, 1.0, 2.0, 3.0, 0.1, 4.0;
  nu << 1.5, 0.2, 2.0, 0.7, 0.9, 9.0;
  Eigen::VectorXd mu1 = Eigen::VectorXd::LinSpaced(d, -1.0, 1.0);
  Eigen::VectorXd mu2 = mu1;
  mu2(2) += 0.75;
  const auto a = gaussian(mu1, q * lambda.asDiagonal() * q.transpose());
  const auto b = gaussian(mu2, q * nu.asDiagonal() * q.transpose());
  const double expected = 0.75 * 0.75 + (lambda.cwiseSqrt() - nu.cwiseSqrt()).squaredNorm();
  CHECK(frechet_distance(a, b) == doctest::Approx(expected).epsilon(1e-10));
  CHECK(frechet_distance(a, a) == doctest::Approx(0.0).scale(1.0).epsilon(1e-10));
}

TEST_CASE("frechet_distance is symmetric and equals the 1-D formula in one dimension") {
  std::mt19937_64 gen(11);
  const int d = 5;
  std::normal_distribution<double> normal;
  const Eigen::MatrixXd g1 = Eigen::MatrixXd::NullaryExpr(d, d, [&] { return normal(gen); });
  const Eigen::MatrixXd g2 = Eigen::MatrixXd::NullaryExpr(d, d, [&] { return normal(gen); });
  const auto a = gaussian(Eigen::VectorXd::Zero(d), g1 * g1.transpose());
  const auto b = gaussian(Eigen::VectorXd::Ones(d), g2 * g2.transpose() + 0.1 * Eigen::MatrixXd::Identity(d, d));
  CHECK(frechet_distance(a, b) == doctest::Approx(frechet_distance(b, a)).epsilon(1e-9));
  CHECK(frechet_distance(a, b) > 0.0);

  // D = 1: (μ₁ − μ₂)² + (σ₁ − σ₂)².
  const auto p = gaussian(Eigen::VectorXd::Constant(1, 2.0), Eigen::MatrixXd::Constant(1, 1, 9.0));
  const auto r = gaussian(Eigen::VectorXd::Constant(1, -1.0), Eigen::MatrixXd::Constant(1, 1, 0.25));
  CHECK(frechet_distance(p, r) == doctest::Approx(9.0 + 2.5 * 2.5));
}

TEST_CASE("moments_of gives the sample mean and unbiased covariance") {
  RowMatrix x(4, 2);
  x << 1, 2, 3, 2, 5, 6, 7, 6;
  const auto m = scorelift::moments_of(x);
  CHECK(m.count == 4);
  CHECK(m.mean(0) == doctest::Approx(4.0));
  CHECK(m.mean(1) == doctest::Approx(4.0));
  // Centred: (-3,-2), (-1,-2), (1,2), (3,2): Σ x² = 20, Σ xy = 16, Σ y² = 16; divide by 3.
  CHECK(m.covariance(0, 0) == doctest::Approx(20.0 / 3.0));
  CHECK(m.covariance(0, 1) == doctest::Approx(16.0 / 3.0));
  CHECK(m.covariance(1, 1) == doctest::Approx(16.0 / 3.0));
}

TEST_CASE("moments_of and frechet_distance reject bad input") {
  CHECK_THROWS_WITH_AS(scorelift::moments_of(RowMatrix::Zero(1, 3)),
                       doctest::Contains("moments_of: argument 'features' has shape [1, 3]"), scorelift::invalid_argument);
  RowMatrix nan = RowMatrix::Zero(3, 2);
  nan(1, 1) = std::nan("");
  CHECK_THROWS_WITH_AS(scorelift::moments_of(nan),
                       doctest::Contains("argument 'features' of shape [3, 2] has non-finite entries"),
                       scorelift::invalid_argument);
  const auto a = gaussian(Eigen::VectorXd::Zero(2), Eigen::MatrixXd::Identity(2, 2));
  const auto b = gaussian(Eigen::VectorXd::Zero(3), Eigen::MatrixXd::Identity(3, 3));
  CHECK_THROWS_WITH_AS(frechet_distance(a, b),
                       doctest::Contains("frechet_distance: argument 'a' has mean [2] and covariance [2, 2]"),
                       scorelift::invalid_argument);
}

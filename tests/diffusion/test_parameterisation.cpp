#include "scorelift/diffusion/parameterisation.hpp"

#include <doctest/doctest.h>

#include <Eigen/Core>
#include <random>

using namespace scorelift::diffusion;
using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using matrixf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

TEST_CASE("parameterisation: conversions recover the true x0, eps, v and conditional score") {
  std::mt19937_64 gen(7);
  std::normal_distribution<double> normal;
  const matrix x0 = matrix::NullaryExpr(5, 3, [&] { return normal(gen); });
  const matrix eps = matrix::NullaryExpr(5, 3, [&] { return normal(gen); });
  // A VP channel, and a non-VP one (the v inversion must hold for any α, σ).
  for (const noise_level n : {noise_level::variance_preserving(0.8), noise_level{0.7, 2.5}}) {
    const matrix xt = n.alpha * x0 + n.sigma * eps;
    CHECK((x0_from_epsilon(xt, eps, n) - x0).norm() < 1e-12);
    CHECK((epsilon_from_x0(xt, x0, n) - eps).norm() < 1e-12);
    const matrix v = v_from_epsilon_x0(eps, x0, n);
    CHECK((v - (n.alpha * eps - n.sigma * x0)).norm() < 1e-14);
    CHECK((x0_from_v(xt, v, n) - x0).norm() < 1e-12);
    CHECK((epsilon_from_v(xt, v, n) - eps).norm() < 1e-12);
    // The conditional score ∇ log N(x̃; αx₀, σ²) = −ε/σ in every parameterisation.
    const matrix s = -eps / n.sigma;
    CHECK((score_from_epsilon(eps, n) - s).norm() < 1e-12);
    CHECK((score_from_x0(xt, x0, n) - s).norm() < 1e-12);
    CHECK((epsilon_from_score(s, n) - eps).norm() < 1e-12);
    CHECK((x0_from_score(xt, s, n) - x0).norm() < 1e-12);
    for (prediction kind : {prediction::epsilon, prediction::x0, prediction::v, prediction::score}) {
      const matrix predicted = kind == prediction::epsilon ? eps
                               : kind == prediction::x0    ? x0
                               : kind == prediction::v     ? v
                                                           : s;
      CHECK((to_epsilon(kind, xt, predicted, n) - eps).norm() < 1e-11);
      CHECK((to_x0(kind, xt, predicted, n) - x0).norm() < 1e-11);
      CHECK((to_score(kind, xt, predicted, n) - s).norm() < 1e-11);
    }
  }
}

TEST_CASE("parameterisation: float Eigen states work (coefficients cast to the state's scalar)") {
  const matrixf xt = matrixf::Constant(2, 2, 1.0f);
  const matrixf eps = matrixf::Constant(2, 2, 0.5f);
  const noise_level n = noise_level::variance_preserving(0.0);
  const matrixf x0 = x0_from_epsilon(xt, eps, n);
  CHECK(x0(0, 0) == doctest::Approx((1.0 - std::sqrt(0.5) * 0.5) / std::sqrt(0.5)).epsilon(1e-6));
}

TEST_CASE("parameterisation: division by a zero alpha or sigma is refused") {
  const matrix x = matrix::Ones(2, 2);
  CHECK_THROWS_WITH_AS(score_from_epsilon(x, noise_level{1.0, 0.0}), doctest::Contains("sigma = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(x0_from_epsilon(x, x, noise_level{0.0, 1.0}), doctest::Contains("alpha = 0"),
                       scorelift::invalid_argument);
}

TEST_CASE("parameterisation: a prediction kind outside the enumeration is an error naming it") {
  const matrix x = matrix::Ones(2, 2);
  const noise_level n = noise_level::variance_preserving(0.5);
  const auto bad = static_cast<prediction>(9);
  CHECK_THROWS_WITH_AS(to_epsilon(bad, x, x, n), doctest::Contains("to_epsilon: argument 'kind' is 9"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(to_x0(bad, x, x, n), doctest::Contains("to_x0: argument 'kind' is 9"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(to_score(bad, x, x, n), doctest::Contains("to_score: argument 'kind' is 9 which is not a prediction kind"),
                       scorelift::invalid_argument);
}

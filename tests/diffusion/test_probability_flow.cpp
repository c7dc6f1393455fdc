#include "scorelift/diffusion/samplers/probability_flow.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "sampler_checks.hpp"

using namespace scorelift::diffusion;
using scorelift::index_t;
using scorelift::test::mixture_matrix;

TEST_CASE("probability_flow_sample: Heun on the VP-linear ODE reproduces the mixture") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  const vp_linear_schedule schedule;
  index_t evaluations = 0;
  auto score = [&](const mixture_matrix& x, double t) {
    ++evaluations;
    return g.score(x, schedule.level(t));
  };
  scorelift::test::gaussian_noise noise(52);
  const mixture_matrix x = probability_flow_sample(schedule, score, noise(mixture_matrix(scorelift::test::sample_count, 2)),
                                                   {100, 1.0, 1e-3, ode_method::heun});
  CHECK(evaluations == 200);
  scorelift::test::check_matches_mixture(x, g, "pf-ode heun");
}

// Data N(0, s²): p_t = N(0, v(t)), v = α² s² + σ², and the flow is x(t) = x(1) √(v(t)/v(1)).
TEST_CASE("probability_flow_sample: convergence orders of Euler and Heun on a Gaussian, VP and VE") {
  const double s = 0.7;
  const Eigen::MatrixXd z = Eigen::MatrixXd::Ones(1, 1);
  auto check_orders = [&](const auto& schedule, const char* name) {
    CAPTURE(name);
    auto variance = [&](double t) {
      const noise_level n = schedule.level(t);
      return n.alpha * n.alpha * s * s + n.sigma * n.sigma;
    };
    auto score = [&](const Eigen::MatrixXd& x, double t) { return Eigen::MatrixXd(-x / variance(t)); };
    auto error = [&](index_t steps, ode_method method) {
      const noise_level start = schedule.level(1.0);
      const double x1 = std::hypot(start.alpha, start.sigma);
      const double exact = x1 * std::sqrt(variance(1e-3) / variance(1.0));
      return std::abs(probability_flow_sample(schedule, score, z, {steps, 1.0, 1e-3, method})(0, 0) - exact);
    };
    const double heun_ratio = error(100, ode_method::heun) / error(200, ode_method::heun);
    const double euler_ratio = error(400, ode_method::euler) / error(800, ode_method::euler);
    CAPTURE(heun_ratio);
    CAPTURE(euler_ratio);
    CHECK(heun_ratio > 3.5);
    CHECK(heun_ratio < 4.5);
    CHECK(euler_ratio > 1.8);
    CHECK(euler_ratio < 2.2);
  };
  check_orders(vp_linear_schedule{}, "vp linear");
  check_orders(ve_schedule{0.01, 10.0}, "ve");
}

TEST_CASE("probability_flow_sample: a singular start (cosine at t = 1) is refused, not integrated into NaN") {
  auto score = [](const Eigen::MatrixXd& x, double) { return x; };
  const Eigen::MatrixXd z = Eigen::MatrixXd::Ones(2, 2);
  CHECK_THROWS_WITH_AS(probability_flow_sample(vp_cosine_schedule{}, score, z, {10, 1.0, 1e-3, ode_method::euler}),
                       doctest::Contains("not finite at t = 1"), scorelift::invalid_argument);
  CHECK(probability_flow_sample(vp_cosine_schedule{}, score, z, {10, 0.99, 1e-3, ode_method::euler}).allFinite());
  CHECK_THROWS_WITH_AS(probability_flow_sample(vp_linear_schedule{}, score, z, {0, 1.0, 1e-3, ode_method::euler}),
                       doctest::Contains("'options.steps'"), scorelift::invalid_argument);
}

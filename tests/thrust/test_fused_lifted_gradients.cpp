// The fused kernels' gradients checked on their own, against central finite differences of the
// definition (double, CPP device system), so that they do not merely agree with the generic code:
//   ∂value/∂f_l is the semi-gradient: the derivative of L_l / L in f_l with f_1..f_{l−1} held fixed
//   (L_l depends on f_1..f_l only, so the FD of level_values[l] in f_l is exactly that);
//   ∂value/∂t and ∂value/∂div_l are full derivatives of the value.
// And the input checks: bad shapes, B < 2, L = 0, L above the fused limit, NaN/Inf, overflow.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "scorelift/thrust/fused_lifted_loss.hpp"
#include "thrust_convert.hpp"

using scorelift::index_t;
using scorelift::lifted_options;
using scorelift::test::backend_batch;
using scorelift::test::convert;
using scorelift::test::host_batch;
using T = scorelift::thrust_backend<double>;

namespace {

scorelift::objective_result<T> fused(const host_batch& h, const lifted_options& options) {
  const backend_batch<T> on_device(h);
  return scorelift::fused_lifted_residual_loss(on_device.batch, options);
}

/// B samples in D dimensions, L levels, targets or divergences, with weights and per-sample signs.
host_batch make_problem(index_t batch, index_t dim, index_t levels, bool divergence, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  return scorelift::test::random_batch({batch, dim, levels, !divergence, true, true}, gen);
}

/// Worst relative FD disagreement of every returned gradient (core/objective_test_support.hpp).
void check_gradients_by_finite_differences(const host_batch& h, const lifted_options& options) {
  const auto loss = [&options](const scorelift::score_batch<T>& batch) {
    return scorelift::fused_lifted_residual_loss(batch, options);
  };
  const scorelift::test::gradient_check<T, decltype(loss)> check(h, loss);
  CHECK(check.entries > 0);
  CHECK(check.modes < 1e-7);
  CHECK(check.target < 1e-7);
  CHECK(check.divergence < 1e-7);
}

}  // namespace

TEST_CASE("fused lifted gradients equal finite differences of the semi-gradient definition (target, odd B)") {
  check_gradients_by_finite_differences(make_problem(5, 3, 3, false, 11), {});
  check_gradients_by_finite_differences(make_problem(5, 3, 3, false, 12), {true, false});  // distance form
  check_gradients_by_finite_differences(make_problem(4, 2, 2, false, 13), {true, true});   // ÷ D²
}

TEST_CASE("fused lifted gradients equal finite differences in the divergence (LSE) form") {
  check_gradients_by_finite_differences(make_problem(7, 2, 3, true, 21), {});
}

TEST_CASE("fused lifted loss at the optimum: f = s gives L_1 = −½ (E‖s‖²)² and zero gradient") {
  // With a single level and t = f on every sample, c_h = G_h = mean_h ‖t‖², so L_1 = −c_A c_B + ½ G_A G_B
  // = −½ T_A T_B, and ∂/∂f_b = (−c_other t_b + G_other f_b)/(L n_own) = 0: f = s is stationary.
  host_batch p = make_problem(6, 4, 1, false, 31);
  p.target = p.modes[0];
  p.weights.reset();
  p.signs.clear();
  double t_a = 0, t_b = 0;
  for (index_t b = 0; b < 6; ++b)
    for (index_t j = 0; j < 4; ++j) (b < 3 ? t_a : t_b) += (*p.target)(b, j) * (*p.target)(b, j) / 3.0;
  const auto result = fused(p, {});
  CHECK(result.value == doctest::Approx(-0.5 * t_a * t_b).epsilon(1e-13));
  for (double g : convert<T>::host(result.grad_modes[0]).values) CHECK(std::abs(g) < 1e-14);
  // ... and the distance form turns the minimum into the distance itself: exactly 0.
  CHECK(std::abs(fused(p, {true, false}).value) < 1e-13);
}

TEST_CASE("fused lifted loss rejects bad input with the function, argument and shape named") {
  host_batch p = make_problem(5, 3, 2, false, 41);
  const auto fails_with = [&](const host_batch& q, const char* message) {
    CHECK_THROWS_AS(fused(q, {}), scorelift::invalid_argument);
    CHECK_THROWS_WITH(fused(q, {}), doctest::Contains(message));
  };
  {
    host_batch q = p;
    std::mt19937_64 gen(1);
    q.modes[1] = scorelift::test::random_matrix(5, 4, gen);
    fails_with(q, "fused_lifted_residual_loss: argument 'modes[1]' has shape [5, 4] but modes[0] has shape [5, 3]");
  }
  {
    host_batch q = make_problem(1, 3, 2, false, 42);
    fails_with(q, "needs a batch of at least B = 2 samples");
  }
  {
    host_batch q = p;
    q.modes.clear();
    q.signs.clear();
    fails_with(q, "(L = 0)");
  }
  {
    host_batch q = make_problem(5, 3, scorelift::fused::max_levels + 1, false, 43);
    fails_with(q, "the fused kernels handle at most L = 4");
  }
  {
    host_batch q = p;
    q.modes[0](2, 1) = std::numeric_limits<double>::quiet_NaN();
    fails_with(q, "argument 'modes[0]' contains NaN or Inf");
    q = p;
    (*q.target)(4, 2) = std::numeric_limits<double>::infinity();
    fails_with(q, "argument 'target' contains NaN or Inf");
  }
  {
    host_batch q = p;
    for (double& x : q.modes[0].values) x = 1e200;  // finite, but ‖f‖² is not
    fails_with(q, "the batch statistics overflowed");
  }
  CHECK_THROWS_WITH(fused(make_problem(4, 2, 1, true, 44), {true, false}),
                    doctest::Contains("the distance form needs argument 'target'"));
}

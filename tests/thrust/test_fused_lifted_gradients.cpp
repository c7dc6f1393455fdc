// The fused kernels' gradients checked on their own, against central finite differences of the
// definition (double, CPP device system), so that they do not merely agree with the generic code:
//   ∂value/∂f_l is the semi-gradient: the derivative of L_l / L in f_l with f_1..f_{l−1} held fixed
//   (L_l depends on f_1..f_l only, so the FD of level_values[l] in f_l is exactly that);
//   ∂value/∂t and ∂value/∂div_l are full derivatives of the value.
// And the input checks: bad shapes, B < 2, L = 0, L above the fused limit, NaN/Inf, overflow.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "scorelift/thrust/fused_lifted_loss.hpp"
#include "thrust_convert.hpp"

using scorelift::index_t;
using scorelift::lifted_options;
using scorelift::test::convert;
using scorelift::test::host_matrix;
using scorelift::test::random_matrix;
using T = scorelift::thrust_backend<double>;

namespace {

struct host_problem {
  std::vector<host_matrix> modes;
  host_matrix target;
  std::vector<std::vector<double>> divergence;  // used instead of target when non-empty
  std::vector<double> weights;
  std::vector<std::vector<double>> signs;
};

scorelift::objective_result<T> evaluate(const host_problem& p, const lifted_options& options) {
  std::vector<T::matrix_type> modes;
  for (const auto& m : p.modes) modes.push_back(convert<T>::matrix(m));
  const T::matrix_type target = convert<T>::matrix(p.target);
  scorelift::score_batch<T> batch;
  for (const auto& m : modes) batch.modes.emplace_back(m);
  if (p.divergence.empty()) {
    batch.target.emplace(target);
  } else {
    for (const auto& d : p.divergence) batch.divergence.push_back(convert<T>::vector(d));
  }
  batch.weights = convert<T>::vector(p.weights);
  for (const auto& k : p.signs) batch.signs.push_back(convert<T>::vector(k));
  return scorelift::fused_lifted_residual_loss(batch, options);
}

host_problem make_problem(index_t batch, index_t dim, int levels, bool divergence, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> uniform(0.5, 2.0);
  host_problem p;
  for (int l = 0; l < levels; ++l) p.modes.push_back(random_matrix(batch, dim, gen));
  p.target = random_matrix(batch, dim, gen);
  for (index_t b = 0; b < batch; ++b) p.weights.push_back(uniform(gen));
  for (int l = 0; l < levels; ++l) {
    std::vector<double> kappa;
    for (index_t b = 0; b < batch; ++b) kappa.push_back((b + l) % 3 == 0 ? -1.0 : 1.0);
    p.signs.push_back(kappa);
    if (divergence) p.divergence.push_back(random_matrix(1, batch, gen).values);
  }
  return p;
}

/// Central difference of `f` in the scalar `x` (restored afterwards); error O(h²) ~ 1e-10 here.
double central_difference(double& x, const std::function<double()>& f) {
  const double h = 1e-5;
  const double saved = x;
  x = saved + h;
  const double up = f();
  x = saved - h;
  const double down = f();
  x = saved;
  return (up - down) / (2 * h);
}

void check_gradients_by_finite_differences(host_problem p, const lifted_options& options) {
  const auto result = evaluate(p, options);
  const auto levels = p.modes.size();
  const double tol = 1e-7;
  for (std::size_t l = 0; l < levels; ++l) {
    const host_matrix grad = convert<T>::host(result.grad_modes[l]);
    for (std::size_t i = 0; i < p.modes[l].values.size(); ++i) {
      const double fd = central_difference(p.modes[l].values[i], [&] {
        return evaluate(p, options).level_values[l] / static_cast<double>(levels);
      });
      CHECK(grad.values[i] == doctest::Approx(fd).epsilon(tol).scale(1.0));
    }
  }
  const auto value = [&] { return evaluate(p, options).value; };
  if (p.divergence.empty()) {
    const host_matrix grad = convert<T>::host(*result.grad_target);
    for (std::size_t i = 0; i < p.target.values.size(); ++i)
      CHECK(grad.values[i] == doctest::Approx(central_difference(p.target.values[i], value)).epsilon(tol).scale(1.0));
  } else {
    for (std::size_t l = 0; l < levels; ++l) {
      const auto grad = convert<T>::host_vector(result.grad_divergence[l]);
      for (std::size_t b = 0; b < grad.size(); ++b)
        CHECK(grad[b] == doctest::Approx(central_difference(p.divergence[l][b], value)).epsilon(tol).scale(1.0));
    }
  }
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
  host_problem p = make_problem(6, 4, 1, false, 31);
  p.target = p.modes[0];
  p.weights.assign(6, 1.0);
  p.signs.clear();
  double t_a = 0, t_b = 0;
  for (index_t b = 0; b < 6; ++b)
    for (index_t j = 0; j < 4; ++j) (b < 3 ? t_a : t_b) += p.target(b, j) * p.target(b, j) / 3.0;
  const auto result = evaluate(p, {});
  CHECK(result.value == doctest::Approx(-0.5 * t_a * t_b).epsilon(1e-13));
  for (double g : convert<T>::host(result.grad_modes[0]).values) CHECK(std::abs(g) < 1e-14);
  // ... and the distance form turns the minimum into the distance itself: exactly 0.
  CHECK(std::abs(evaluate(p, {true, false}).value) < 1e-13);
}

TEST_CASE("fused lifted loss rejects bad input with the function, argument and shape named") {
  host_problem p = make_problem(5, 3, 2, false, 41);
  const auto fails_with = [&](const host_problem& q, const char* message) {
    CHECK_THROWS_AS(evaluate(q, {}), scorelift::invalid_argument);
    CHECK_THROWS_WITH(evaluate(q, {}), doctest::Contains(message));
  };
  {
    host_problem q = p;
    std::mt19937_64 gen(1);
    q.modes[1] = random_matrix(5, 4, gen);
    fails_with(q, "fused_lifted_residual_loss: argument 'modes[1]' has shape [5, 4] but modes[0] has shape [5, 3]");
  }
  {
    host_problem q = make_problem(1, 3, 2, false, 42);
    fails_with(q, "needs a batch of at least B = 2 samples");
  }
  {
    host_problem q = p;
    q.modes.clear();
    q.signs.clear();
    fails_with(q, "(L = 0)");
  }
  {
    host_problem q = make_problem(5, 3, scorelift::fused::max_levels + 1, false, 43);
    fails_with(q, "the fused kernels handle at most L = 4");
  }
  {
    host_problem q = p;
    q.modes[0](2, 1) = std::numeric_limits<double>::quiet_NaN();
    fails_with(q, "argument 'modes[0]' contains NaN or Inf");
    q = p;
    q.target(4, 2) = std::numeric_limits<double>::infinity();
    fails_with(q, "argument 'target' contains NaN or Inf");
  }
  {
    host_problem q = p;
    for (double& x : q.modes[0].values) x = 1e200;  // finite, but ‖f‖² is not
    fails_with(q, "the batch statistics overflowed");
  }
  CHECK_THROWS_WITH(evaluate(make_problem(4, 2, 1, true, 44), {true, false}),
                    doctest::Contains("the distance form needs argument 'target'"));
}

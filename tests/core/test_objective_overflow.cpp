// Finite inputs whose products overflow the scalar type: every objective and score_estimate throws
// an error that says so (instead of returning an infinite loss or NaN gradients), while large inputs
// that do not overflow still give finite results.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"
#include "scorelift/objectives/sliced_score_matching.hpp"
#include "scorelift/residual/score_estimate.hpp"

using namespace scorelift;

namespace {
template <class S>
typename eigen_backend<S>::matrix_type filled(S value, index_t rows = 6, index_t cols = 3) {
  typename eigen_backend<S>::matrix_type m(rows, cols);
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = value * static_cast<S>(1 + i % 3);
  return m;
}
}  // namespace

TEST_CASE_TEMPLATE("objectives refuse inputs whose squared norms overflow, naming the overflow", S, double, float) {
  using E = eigen_backend<S>;
  const S huge = std::is_same_v<S, double> ? S(1e300) : S(1e30);  // its square overflows
  const S large = std::is_same_v<S, double> ? S(1e70) : S(1e8);  // its fourth power does not
  const auto f_huge = filled<S>(huge), t = filled<S>(S(1)), f_large = filled<S>(large);
  CHECK_THROWS_WITH_AS(lifted_residual_loss(score_batch<E>{.modes = {f_huge}, .target = t}),
                       doctest::Contains("lifted_residual_loss: the loss overflows although every input is finite"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(residual_score_matching_loss(score_batch<E>{.modes = {f_huge}, .target = t}),
                       doctest::Contains("residual_score_matching_loss: the loss overflows"), invalid_argument);
  const std::vector<typename E::vector_type> h{E::filled(6, 1.0, t)}, p{E::filled(6, static_cast<double>(huge), t)};
  CHECK_THROWS_WITH_AS(sliced_score_matching_loss<E>(h, p), doctest::Contains("the loss overflows"), invalid_argument);

  // Large but representable: the closed form, no error (the lifted products are ~|f|⁴). Every row is
  // f_b = a v, t_b = v with v = (1, 2, 3), |v|² = 14, so each pair term ½(f_b·f_b')² − (f_b·t_b)(f_b'·t_b')
  // is ½(14a²)² − (14a)², L = 98a⁴ − 196a², and ∂L/∂f_b = (2/B)(14a² · a v − 14a v) = (14/3)(a³ − a) v.
  const auto result = lifted_residual_loss(score_batch<E>{.modes = {f_large}, .target = t});
  const double a = large, tolerance = 100 * std::numeric_limits<S>::epsilon();
  CHECK(result.value == doctest::Approx(98 * std::pow(a, 4) - 196 * a * a).epsilon(tolerance));
  const auto expected_gradient = filled<double>(14.0 / 3.0 * (a * a * a - a));
  for (index_t i = 0; i < expected_gradient.size(); ++i)
    CHECK(static_cast<double>(result.grad_modes[0].data()[i]) == doctest::Approx(expected_gradient.data()[i]).epsilon(tolerance));
}

TEST_CASE("score_estimate refuses a sum of finite modes that overflows") {
  using E = eigen_backend<double>;
  const auto big = filled<double>(1e308 / 3.0);
  const std::vector<E::matrix_view> modes{big, big};
  CHECK_THROWS_WITH_AS(score_estimate<E>(modes, std::vector<double>{1.0, 1.0}),
                       doctest::Contains("the sum of the modes overflows"), invalid_argument);
  CHECK(score_estimate<E>(modes, std::vector<double>{1.0, -1.0}).cwiseAbs().maxCoeff() == 0.0);  // cancels exactly
}

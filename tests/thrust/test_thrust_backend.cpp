// The Thrust adapter computes what the Eigen adapter computes: every Backend operation on the same
// random batch, compared element by element (double: 1e-12; float: 1e-5 relative to the row norms,
// Thrust accumulating in double and Eigen in float).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/backends/thrust.hpp"
#include "thrust_convert.hpp"

using scorelift::eigen_backend;
using scorelift::index_t;
using scorelift::thrust_backend;
using scorelift::test::convert;
using scorelift::test::host_matrix;
using scorelift::test::random_matrix;

namespace {

template <class S>
double tolerance() {
  return std::is_same_v<S, double> ? 1e-12 : 1e-5;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double scale = 1.0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(std::abs(got[i] - want[i]) <= tol * scale);
}

}  // namespace

TEST_CASE_TEMPLATE("thrust backend operations match the Eigen backend", S, double, float) {
  using T = thrust_backend<S>;
  using E = eigen_backend<double>;
  std::mt19937_64 gen(7);
  const index_t rows = 9, cols = 1031;  // odd sizes: no chunk or vector width divides them
  const host_matrix hx = random_matrix(rows, cols, gen, true);
  const host_matrix hy = random_matrix(rows, cols, gen, true);
  const auto tx = convert<T>::matrix(hx);
  const auto ty = convert<T>::matrix(hy);
  const auto ex = convert<E>::matrix(hx);
  const auto ey = convert<E>::matrix(hy);
  const std::vector<double> hv{0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 3.0, -2.0, 1.0};
  const auto tv = convert<T>::vector(hv);
  const auto ev = convert<E>::vector(hv);

  // Row dots have |value| ~ sqrt(D) but their terms sum to ~ D: compare relative to D.
  const auto dots = convert<T>::host_vector(T::row_dot(tx, ty));
  const auto want_dots = convert<E>::host_vector(E::row_dot(ex, ey));
  for (std::size_t i = 0; i < dots.size(); ++i) CHECK(std::abs(dots[i] - want_dots[i]) <= tolerance<S>() * cols);

  CHECK(T::sum(tv, 2, 7) == doctest::Approx(E::sum(ev, 2, 7)).epsilon(tolerance<S>()));
  check_close(convert<T>::host_vector(T::axpby(2.0, tv, -3.0, T::multiply(tv, tv))),
              convert<E>::host_vector(E::axpby(2.0, ev, -3.0, E::multiply(ev, ev))), tolerance<S>());
  check_close(convert<T>::host_vector(T::split_filled(5, 2, 1.5, -2.0, tx)), {1.5, 1.5, -2.0, -2.0, -2.0}, 0.0);
  check_close(convert<T>::host_vector(T::filled(3, 0.25, tx)), {0.25, 0.25, 0.25}, 0.0);

  auto tout = T::scaled_rows(tv, tx);
  T::add_scaled_rows(tout, tv, ty);
  typename E::matrix_type eout = E::scaled_rows(ev, ex);
  E::add_scaled_rows(eout, ev, ey);
  check_close(convert<T>::host(tout).values, convert<E>::host(eout).values, tolerance<S>());
  check_close(convert<T>::host(T::zeros_like(tx)).values, std::vector<double>(rows * cols, 0.0), 0.0);

  const auto half = T::slice_rows(tx, 4, 9);
  CHECK(T::rows(half) == 5);
  CHECK(T::cols(half) == cols);
  CHECK(convert<T>::host(half)(0, 3) == hx(4, 3));
  CHECK(T::shape_string(tx) == "[9, 1031]");
  CHECK_THROWS_WITH_AS(T::slice_rows(tx, 4, 10), "thrust_backend::slice_rows: rows [4, 10) are outside [0, 9)",
                       scorelift::invalid_argument);

  // A view of a temporary keeps it alive, and so does a slice of that view.
  typename T::matrix_view kept = T::slice_rows(convert<T>::matrix(hx), 4, 9);
  CHECK(convert<T>::host(kept)(0, 3) == static_cast<double>(static_cast<S>(hx(4, 3))));
}

TEST_CASE_TEMPLATE("thrust backend finiteness checks see NaN and Inf anywhere", S, double, float) {
  using T = thrust_backend<S>;
  host_matrix h{3, 4, std::vector<double>(12, 1.0)};
  CHECK(T::all_finite(convert<T>::matrix(h)));
  h(2, 3) = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(T::all_finite(convert<T>::matrix(h)));
  h(2, 3) = -std::numeric_limits<double>::infinity();
  CHECK_FALSE(T::all_finite(convert<T>::matrix(h)));
  CHECK(T::all_finite_vector(convert<T>::vector({1.0, -2.0})));
  CHECK_FALSE(T::all_finite_vector(convert<T>::vector({1.0, std::numeric_limits<double>::infinity()})));
}

TEST_CASE("thrust backend probes are the Eigen backend's draws for the same seed") {
  using T = thrust_backend<double>;
  using E = eigen_backend<double>;
  const host_matrix like{1, 1, {0.0}};
  T::generator_type gen_t(99);
  E::generator_type gen_e(99);
  check_close(convert<T>::host(T::gaussian(4, 7, gen_t, convert<T>::matrix(like))).values,
              convert<E>::host(E::gaussian(4, 7, gen_e, convert<E>::matrix(like))).values, 0.0);
  check_close(convert<T>::host(T::rademacher(3, 70, gen_t, convert<T>::matrix(like))).values,
              convert<E>::host(E::rademacher(3, 70, gen_e, convert<E>::matrix(like))).values, 0.0);
}

TEST_CASE("thrust backend from_host rejects a value count that does not match the shape") {
  CHECK_THROWS_AS(thrust_backend<double>::from_host(2, 3, std::vector<double>(5)), scorelift::invalid_argument);
  CHECK_THROWS_WITH(thrust_backend<double>::from_host(2, 3, std::vector<double>(5)),
                    doctest::Contains("thrust_backend::from_host: argument 'host' has 5 values but the shape is [2, 3]"));
}

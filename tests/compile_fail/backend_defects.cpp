// Negative compile tests: one adapter per mistake a backend author makes, each rejected *at the
// concept* with a diagnostic naming the operation (tests/CMakeLists.txt builds this file once per
// SCORELIFT_DEFECT_* macro and matches the compiler's output). Each adapter is a template on
// `defective`; the twin with defective = false is the same adapter done right, and the positive
// control (no macro) checks that every twin is a Backend and runs an objective with it, so a
// rejection cannot come from an unrelated mistake in the test adapter.
//
// The holes (issue 20), in order:
//   non_const_shape    rows(matrix_view&): the library passes const views;
//   no_default_vector  a vector_type without a default constructor (score_estimate declares one);
//   unassignable_vector a vector_type without copy assignment (running_residual assigns);
//   owned_matrix       row_dot callable with views only: the library passes its own matrix_type
//                      results (residuals, probes);
//   view_not_assignable Eigen::Ref as matrix_view: `batch.target = t` cannot compile;
//   sphere_probes      draw_probes<probe_kind::sphere, B> on a Backend without host vectors.
// And the opposite hole — an unused requirement — is checked by the positive control: an adapter
// without slice_rows is a Backend.
#include <Eigen/Core>
#include <cmath>
#include <random>
#include <type_traits>
#include <utility>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/probes.hpp"
#include "scorelift/residual/score_estimate.hpp"

namespace {

using base = scorelift::eigen_backend<double>;
using scorelift::index_t;

/// Shape functions that take a *non-const* view (they compile on their own, but the library
/// passes `const matrix_view&`).
template <bool defective>
struct shape_backend : base {
  using view_argument = std::conditional_t<defective, matrix_view&, const matrix_view&>;
  static index_t rows(view_argument m) { return m.rows(); }
};
using non_const_shape_backend = shape_backend<true>;

/// A per-sample vector wrapping Eigen's, with or without a default constructor / copy assignment.
template <bool default_constructible, bool assignable>
struct wrapped_vector {
  Eigen::VectorXd values;
  explicit wrapped_vector(Eigen::VectorXd v) : values(std::move(v)) {}
  wrapped_vector()
    requires default_constructible
  = default;
  wrapped_vector(const wrapped_vector&) = default;
  wrapped_vector& operator=(const wrapped_vector&)
    requires assignable
  = default;
};

/// The Eigen adapter with its vector operations over `Vector` (every other operation inherited).
template <class Vector>
struct vector_backend : base {
  using vector_type = Vector;
  static index_t size(const vector_type& v) { return v.values.size(); }
  static vector_type row_dot(const matrix_view& x, const matrix_view& y) { return vector_type(base::row_dot(x, y)); }
  static double sum(const vector_type& v, index_t begin, index_t end) { return base::sum(v.values, begin, end); }
  static vector_type filled(index_t n, double value, const matrix_view& like) { return vector_type(base::filled(n, value, like)); }
  static vector_type split_filled(index_t n, index_t n_first, double first, double second, const matrix_view& like) {
    return vector_type(base::split_filled(n, n_first, first, second, like));
  }
  static vector_type multiply(const vector_type& u, const vector_type& v) { return vector_type(base::multiply(u.values, v.values)); }
  static vector_type axpby(double a, const vector_type& u, double b, const vector_type& v) {
    return vector_type(base::axpby(a, u.values, b, v.values));
  }
  static matrix_type scaled_rows(const vector_type& v, const matrix_view& x) { return base::scaled_rows(v.values, x); }
  static void add_scaled_rows(matrix_type& out, const vector_type& v, const matrix_view& x) {
    base::add_scaled_rows(out, v.values, x);
  }
  static bool all_finite_vector(const vector_type& v) { return base::all_finite_vector(v.values); }
  static void vector_from_host() = delete;  // not a HostVectorBackend: the vector type is the point here
  static void vector_to_host() = delete;
};
using no_default_vector_backend = vector_backend<wrapped_vector<false, true>>;
using unassignable_vector_backend = vector_backend<wrapped_vector<true, false>>;
using good_vector_backend = vector_backend<wrapped_vector<true, true>>;

/// row_dot written for views only (a constrained template: no conversion from matrix_type applies).
template <bool defective>
struct row_dot_backend : base {
  template <class X, class Y>
    requires(!defective || (std::same_as<X, matrix_view> && std::same_as<Y, matrix_view>))
  static vector_type row_dot(const X& x, const Y& y) {
    return base::row_dot(x, y);
  }
};
using owned_matrix_backend = row_dot_backend<true>;

/// Eigen::Ref as the view: copyable on paper, but its copy assignment does not compile.
template <bool defective>
struct view_backend : base {
  using matrix_view = std::conditional_t<defective, Eigen::Ref<const matrix_type>, scorelift::eigen_view<double>>;
};
using view_not_assignable_backend = view_backend<true>;

/// A Backend without host vectors (as a device-only adapter would be).
struct device_only_backend : base {
  static void vector_from_host() = delete;
  static void vector_to_host() = delete;
};

/// An adapter without slice_rows: the library never slices, so it is a Backend.
struct no_slice_rows_backend : base {
  static void slice_rows() = delete;
};

template <scorelift::Backend B>
int needs_backend() {
  return 0;
}

/// LDSE on a 5×2 batch through B: the twin adapters compute what the Eigen adapter computes.
template <scorelift::Backend B>
int runs_like_eigen() {
  base::matrix_type f(5, 2), t(5, 2);
  f << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  t << 1, 0, 0, 1, 1, 1, -1, 2, 0.5, 0.25;
  const auto expected = scorelift::lifted_residual_loss<base>({.modes = {f}, .target = t}).value;
  scorelift::score_batch<B> batch{.modes = {f}};
  batch.target = t;  // assigns the optional view
  const auto got = scorelift::lifted_residual_loss<B>(batch).value;
  return std::abs(got - expected) <= 1e-12 * std::abs(expected) ? 0 : 1;
}

}  // namespace

int main() {
#if defined(SCORELIFT_DEFECT_NON_CONST_SHAPE)
  return needs_backend<non_const_shape_backend>();
#elif defined(SCORELIFT_DEFECT_NO_DEFAULT_VECTOR)
  return needs_backend<no_default_vector_backend>();
#elif defined(SCORELIFT_DEFECT_UNASSIGNABLE_VECTOR)
  return needs_backend<unassignable_vector_backend>();
#elif defined(SCORELIFT_DEFECT_OWNED_MATRIX)
  return needs_backend<owned_matrix_backend>();
#elif defined(SCORELIFT_DEFECT_VIEW_NOT_ASSIGNABLE)
  return needs_backend<view_not_assignable_backend>();
#elif defined(SCORELIFT_DEFECT_SPHERE_PROBES)
  std::mt19937_64 gen(1);
  const base::matrix_type like = base::matrix_type::Zero(2, 2);
  return static_cast<int>(
      scorelift::draw_probes<scorelift::probe_kind::sphere, device_only_backend>(1, 2, 2, gen, like).size());
#else
  // Positive control: every twin done right is a Backend and computes what eigen_backend computes.
  static_assert(scorelift::Backend<shape_backend<false>> && scorelift::Backend<good_vector_backend> &&
                scorelift::Backend<row_dot_backend<false>> && scorelift::Backend<view_backend<false>> &&
                scorelift::Backend<device_only_backend> && !scorelift::HostVectorBackend<device_only_backend>);
  static_assert(scorelift::Backend<no_slice_rows_backend>, "slice_rows is not required: the library never slices");
  static_assert(!scorelift::draws_probe<device_only_backend>(scorelift::probe_kind::sphere) &&
                scorelift::draws_probe<device_only_backend>(scorelift::probe_kind::rademacher) &&
                scorelift::draws_probe<base>(scorelift::probe_kind::sphere));
  int failures = runs_like_eigen<shape_backend<false>>() + runs_like_eigen<good_vector_backend>() +
                 runs_like_eigen<row_dot_backend<false>>() + runs_like_eigen<view_backend<false>>() +
                 runs_like_eigen<device_only_backend>() + runs_like_eigen<no_slice_rows_backend>();
  // score_estimate default-constructs a vector_type; the wrapped vectors must serve there too.
  const base::matrix_type f = base::matrix_type::Ones(3, 2);
  failures += scorelift::score_estimate<good_vector_backend>({f}, std::vector<good_vector_backend::vector_type>{})
                      .isApprox(f)
                  ? 0
                  : 1;
  // Sphere probes on a device-only Backend: the compile-time overload refuses them (the
  // SCORELIFT_DEFECT_SPHERE_PROBES build); the run-time kind is refused with an exception.
  std::mt19937_64 gen(1);
  (void)scorelift::draw_probes<scorelift::probe_kind::rademacher, device_only_backend>(1, 3, 2, gen, f);
  try {
    (void)scorelift::draw_probes<device_only_backend>(scorelift::probe_kind::sphere, 1, 3, 2, gen, f);
    ++failures;
  } catch (const scorelift::invalid_argument&) {
  }
  return failures;
#endif
}

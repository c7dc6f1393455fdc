// scorelift/concepts.hpp — what a tensor backend adapter must provide.
//
// Every objective in scorelift depends on the model only through a few batch statistics of its
// outputs (per-sample inner products, their means over the two halves of a batch), and returns its
// gradients as per-sample combinations of the same rows. So a backend needs very little: row-wise
// inner products, range sums, elementwise products of per-sample vectors, row scaling, and random
// draws for probes. The concept states exactly what the generic code (objectives/, probes.hpp,
// residual/) uses, and nothing more: one `requires` clause per operation, called the way the
// library calls it (const views, owning matrices where the library passes its own results), so the
// compiler names the operation that is missing or has the wrong signature. tests/compile_fail/ has
// one adapter per kind of mistake; scorelift/testing/backend_conformance.hpp checks the values.
//
// Conventions shared by all adapters:
//   * a batch of B vectors in R^D is a B×D matrix, one sample per row (row-major);
//   * `matrix_type` owns a batch (the gradients, probes and residuals the library computes);
//   * `matrix_view` is a cheap read-only view an objective reads and may keep: score_batch stores
//     views (`std::vector<matrix_view> modes`, `std::optional<matrix_view> target`), so a view must
//     be copyable *and copy-assignable* (`batch.target = t` assigns the optional), and it is built
//     implicitly from a `const matrix_type&` (and, where the adapter allows, from memory the user
//     owns). It must not dangle when copied: a view of a temporary, or of a conversion it had to
//     make, shares ownership of it (eigen_view, the xtensor and Thrust views);
//   * `vector_type` holds one scalar per sample (weights, signs, Hutchinson terms); the library
//     default-constructs one (score_estimate) and copy- and move-assigns them (running_residual);
//   * reductions return `double` on the host: the statistics are a handful of numbers.
// The library never slices a view: an adapter may offer `slice_rows` for its users, but the
// concept does not ask for it.
#pragma once

#include <concepts>
#include <string>
#include <vector>

#include "scorelift/errors.hpp"

// Eigen::Ref is declared here (with Eigen's own parameters) only to be recognised below.
namespace Eigen {
template <typename PlainObjectType, int Options, typename StrideType>
class Ref;
}  // namespace Eigen

namespace scorelift {

namespace detail {
template <class T>
inline constexpr bool is_eigen_ref = false;
template <class P, int O, class S>
inline constexpr bool is_eigen_ref<Eigen::Ref<P, O, S>> = true;
}  // namespace detail

/// A view type that can be copied and copy-assigned: what `batch.target = t` and a
/// `std::vector<matrix_view>` need. `Eigen::Ref` declares a copy assignment whose body does not
/// compile (no trait can see that), so it is refused by name: use scorelift::eigen_view.
template <class V>
concept assignable_view = std::copyable<V> && !detail::is_eigen_ref<V>;

template <class B>
concept Backend =
    // The five member types.
    requires {
      typename B::scalar_type;     // float or double: what the adapter computes in
      typename B::matrix_type;     // an owning B×D batch
      typename B::matrix_view;     // a read-only B×D view (see above)
      typename B::vector_type;     // B per-sample scalars
      typename B::generator_type;  // the random engine the probe draws take by reference
    } &&
    std::floating_point<typename B::scalar_type> &&
    // Views are stored and reassigned in score_batch (`batch.target = t`).
    assignable_view<typename B::matrix_view> &&
    // An owning matrix is passed wherever a view is expected (`matrix_view(residual)`, a gradient
    // handed to an objective), implicitly.
    std::convertible_to<const typename B::matrix_type&, typename B::matrix_view> &&
    // Results are moved into objective_result and std::optional<matrix_type>.
    std::movable<typename B::matrix_type> &&
    // score_estimate declares an empty vector; running_residual and average_over_probes assign.
    std::default_initializable<typename B::vector_type> && std::copyable<typename B::vector_type> &&
    // m: a view, o: an owning matrix, both const (the library never writes through them);
    // out: an owning matrix the library accumulates into; v: a per-sample vector; n: a count or an
    // index; s: a scalar coefficient; gen: the probe generator.
    requires(const typename B::matrix_view& m, const typename B::matrix_type& o, typename B::matrix_type& out,
             const typename B::vector_type& v, index_t n, double s, typename B::generator_type& gen) {
      // Shapes of views and of owning matrices (probes, gradients): rows B, columns D, length of a
      // per-sample vector, and "[B, D]" for messages.
      { B::rows(m) } -> std::convertible_to<index_t>;
      { B::cols(m) } -> std::convertible_to<index_t>;
      { B::rows(o) } -> std::convertible_to<index_t>;
      { B::cols(o) } -> std::convertible_to<index_t>;
      { B::size(v) } -> std::convertible_to<index_t>;
      { B::shape_string(m) } -> std::convertible_to<std::string>;
      { B::shape_string(o) } -> std::convertible_to<std::string>;
      // row_dot(x, y)[b] = ⟨x_b, y_b⟩, rows of equal shape; x and y may be views or owning matrices
      // (a residual or a probe against a view of the modes).
      { B::row_dot(m, m) } -> std::same_as<typename B::vector_type>;
      { B::row_dot(o, m) } -> std::same_as<typename B::vector_type>;
      { B::row_dot(o, o) } -> std::same_as<typename B::vector_type>;
      // sum(v, begin, end) = Σ_{b ∈ [begin, end)} v_b in double.
      { B::sum(v, n, n) } -> std::convertible_to<double>;
      // filled(n, value, like): n entries equal to value, in the dtype/device of `like`.
      { B::filled(n, s, m) } -> std::same_as<typename B::vector_type>;
      // split_filled(n, n_first, first, second, like): n entries, the first n_first equal to
      // `first` and the other n − n_first equal to `second` (0 <= n_first <= n), like `like`.
      { B::split_filled(n, n, s, s, m) } -> std::same_as<typename B::vector_type>;
      // multiply(u, v)[b] = u_b v_b; axpby(a, u, b, v) = a·u + b·v (a, b doubles), equal lengths.
      { B::multiply(v, v) } -> std::same_as<typename B::vector_type>;
      { B::axpby(s, v, s, v) } -> std::same_as<typename B::vector_type>;
      // scaled_rows(v, x): row b is v_b x_b (a new matrix); add_scaled_rows(out, v, x): out_b += v_b x_b
      // in place. x is a view or an owning matrix.
      { B::scaled_rows(v, m) } -> std::same_as<typename B::matrix_type>;
      { B::scaled_rows(v, o) } -> std::same_as<typename B::matrix_type>;
      { B::add_scaled_rows(out, v, m) };
      { B::add_scaled_rows(out, v, o) };
      // zeros_like(x): a zero matrix of the shape (and dtype/device) of x.
      { B::zeros_like(m) } -> std::same_as<typename B::matrix_type>;
      // all_finite(x) / all_finite_vector(v): no NaN or ±Inf (the NaN/Inf policy of validate.hpp).
      { B::all_finite(m) } -> std::convertible_to<bool>;
      { B::all_finite(o) } -> std::convertible_to<bool>;
      { B::all_finite_vector(v) } -> std::convertible_to<bool>;
      // Probe draws: gaussian(rows, cols, gen, like) has N(0, 1) entries and rademacher(rows, cols,
      // gen, like) entries ±1 with probability ½ each; a rows × cols matrix like `like`, drawn from gen.
      { B::gaussian(n, n, gen, m) } -> std::same_as<typename B::matrix_type>;
      { B::rademacher(n, n, gen, m) } -> std::same_as<typename B::matrix_type>;
    };

/// Optional capability: per-sample vectors copied to and from host memory (doubles). Only what must
/// be decided per sample on the host needs it — sphere probes (a square root per row: draw_probes
/// with probe_kind::sphere) and per-noise-level signs (sign_tracker::signs_for with levels);
/// everything else uses `Backend` alone.
template <class B>
concept HostVectorBackend =
    Backend<B> &&
    requires(const std::vector<double>& host, const typename B::vector_type& v, const typename B::matrix_view& like) {
      // vector_from_host(host, like): host.size() entries in the dtype/device of `like`.
      { B::vector_from_host(host, like) } -> std::same_as<typename B::vector_type>;
      // vector_to_host(v): the entries of v as doubles, in order.
      { B::vector_to_host(v) } -> std::same_as<std::vector<double>>;
    };

/// The scalar type of a backend.
template <Backend B>
using scalar_t = typename B::scalar_type;

}  // namespace scorelift

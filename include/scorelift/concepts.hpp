// scorelift/concepts.hpp — what a tensor backend adapter must provide.
//
// Every objective in scorelift depends on the model only through a few batch statistics of its
// outputs (per-sample inner products, their means over the two halves of a batch), and returns its
// gradients as per-sample combinations of the same rows. So a backend needs very little: row-wise
// inner products, range sums, elementwise products of per-sample vectors, row scaling, and random
// draws for probes. One `requires` clause per operation lets the compiler name the one that is
// missing (see tests/compile_fail/not_a_backend.cpp for the diagnostic a user sees).
//
// Conventions shared by all adapters:
//   * a batch of B vectors in R^D is a B×D matrix, one sample per row (row-major);
//   * `matrix_view` is a cheap view an objective reads and may keep (score_batch stores views): built
//     implicitly from `matrix_type` and, where the library allows, from memory the user owns
//     (Eigen::Map). It must not dangle when copied: a view of a temporary, or of a conversion it
//     had to make, shares ownership of it (eigen_view, the xtensor and Thrust views);
//   * `vector_type` holds one scalar per sample (weights, signs, Hutchinson terms);
//   * reductions return `double` on the host: the statistics are a handful of numbers.
#pragma once

#include <concepts>
#include <string>
#include <vector>

#include "scorelift/errors.hpp"

namespace scorelift {

template <class B>
concept Backend =
    requires {
      typename B::scalar_type;
      typename B::matrix_type;
      typename B::matrix_view;
      typename B::vector_type;
      typename B::generator_type;
    } &&
    std::floating_point<typename B::scalar_type> &&
    std::convertible_to<const typename B::matrix_type&, typename B::matrix_view> &&
    requires(typename B::matrix_view m, typename B::matrix_type& out, const typename B::vector_type& v,
             index_t n, double s, typename B::generator_type& gen) {
      // Shapes.
      { B::rows(m) } -> std::convertible_to<index_t>;
      { B::cols(m) } -> std::convertible_to<index_t>;
      { B::size(v) } -> std::convertible_to<index_t>;
      { B::shape_string(m) } -> std::convertible_to<std::string>;
      // Batch-half views: rows [begin, end) without a copy.
      { B::slice_rows(m, n, n) } -> std::convertible_to<typename B::matrix_view>;
      // Contractions and reductions.
      { B::row_dot(m, m) } -> std::same_as<typename B::vector_type>;  // [b] = <x_b, y_b>
      { B::sum(v, n, n) } -> std::convertible_to<double>;              // sum of v[begin:end)
      // Per-sample vectors.
      { B::filled(n, s, m) } -> std::same_as<typename B::vector_type>;  // dtype/device of m
      { B::split_filled(n, n, s, s, m) } -> std::same_as<typename B::vector_type>;
      { B::multiply(v, v) } -> std::same_as<typename B::vector_type>;
      { B::axpby(s, v, s, v) } -> std::same_as<typename B::vector_type>;
      // Elementwise over rows: out_b = v_b x_b, and out_b += v_b x_b.
      { B::scaled_rows(v, m) } -> std::same_as<typename B::matrix_type>;
      { B::add_scaled_rows(out, v, m) };
      { B::zeros_like(m) } -> std::same_as<typename B::matrix_type>;
      // Value checks (NaN/Inf policy) and random draws for Hutchinson probes.
      { B::all_finite(m) } -> std::convertible_to<bool>;
      { B::all_finite_vector(v) } -> std::convertible_to<bool>;
      { B::gaussian(n, n, gen, m) } -> std::same_as<typename B::matrix_type>;
      { B::rademacher(n, n, gen, m) } -> std::same_as<typename B::matrix_type>;
    };

/// Optional capability: per-sample vectors copied to and from host memory (doubles). Only what must
/// be decided per sample on the host needs it — sphere probes (a square root per row) and
/// per-noise-level signs (a table lookup per sample); everything else uses `Backend` alone.
template <class B>
concept HostVectorBackend =
    Backend<B> && requires(const std::vector<double>& host, const typename B::vector_type& v, typename B::matrix_view like) {
      { B::vector_from_host(host, like) } -> std::same_as<typename B::vector_type>;  // dtype/device of like
      { B::vector_to_host(v) } -> std::same_as<std::vector<double>>;
    };

/// The scalar type of a backend.
template <Backend B>
using scalar_t = typename B::scalar_type;

}  // namespace scorelift

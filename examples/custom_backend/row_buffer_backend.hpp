// row_buffer_backend.hpp — a complete scorelift Backend adapter over memory the user owns: a plain
// std::vector<double> holding a row-major matrix with a row stride (rows may be padded), and a
// pointer + shape + stride view of it. Everything scorelift asks of a backend is here, each
// operation with the meaning scorelift/concepts.hpp gives it; nothing else is needed.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"

namespace custom {

using scorelift::index_t;

/// The user's matrix: rows × cols doubles, row r starting at values[r · stride] (stride >= cols;
/// the entries between cols and stride are padding nobody reads).
struct row_buffer {
  index_t rows = 0;
  index_t cols = 0;
  index_t stride = 0;
  std::vector<double> values;

  row_buffer() = default;
  row_buffer(index_t n_rows, index_t n_cols, index_t row_stride = 0)
      : rows(n_rows), cols(n_cols), stride(row_stride > 0 ? row_stride : n_cols),
        values(static_cast<std::size_t>(n_rows * stride), 0.0) {}

  double& operator()(index_t r, index_t c) { return values[static_cast<std::size_t>(r * stride + c)]; }
  double operator()(index_t r, index_t c) const { return values[static_cast<std::size_t>(r * stride + c)]; }
};

/// The diffusion samplers move a batch of points through a·x + b·y (scorelift::diffusion::diffusion_state:
/// a copyable type with `scalar * x` and `x + y`, the scalar being `X::Scalar` if it names one, double
/// otherwise). These two operators make a row_buffer such a state; the results are dense (stride = cols).
inline row_buffer operator*(double a, const row_buffer& x) {
  row_buffer out(x.rows, x.cols);
  for (index_t r = 0; r < x.rows; ++r)
    for (index_t c = 0; c < x.cols; ++c) out(r, c) = a * x(r, c);
  return out;
}
inline row_buffer operator+(const row_buffer& x, const row_buffer& y) {
  scorelift::detail::require(x.rows == y.rows && x.cols == y.cols, "row_buffer::operator+", "shapes ",
                             scorelift::detail::shape_string({x.rows, x.cols}), " and ",
                             scorelift::detail::shape_string({y.rows, y.cols}), " differ");
  row_buffer out(x.rows, x.cols);
  for (index_t r = 0; r < x.rows; ++r)
    for (index_t c = 0; c < x.cols; ++c) out(r, c) = x(r, c) + y(r, c);
  return out;
}

/// A read-only view: a pointer, a shape and a row stride. It owns nothing — like std::span, the
/// memory it points at must outlive it — so it is cheap to copy and to reassign (score_batch keeps
/// views and `batch.target = t` reassigns one: the concept asks for std::copyable).
struct strided_view {
  const double* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t stride = 0;

  strided_view() = default;
  /// Memory the user owns, e.g. a block of a larger buffer.
  strided_view(const double* pointer, index_t n_rows, index_t n_cols, index_t row_stride)
      : data(pointer), rows(n_rows), cols(n_cols), stride(row_stride) {}
  /// A whole row_buffer, implicitly: the library passes its own matrix_type results (residuals,
  /// gradients, probes) where a view is expected.
  strided_view(const row_buffer& m)  // NOLINT(google-explicit-constructor): a view
      : data(m.values.data()), rows(m.rows), cols(m.cols), stride(m.stride) {}
  /// A view of a temporary would dangle as soon as the statement ends: refused at compile time.
  strided_view(row_buffer&&) = delete;

  double operator()(index_t r, index_t c) const { return data[r * stride + c]; }
};

struct row_buffer_backend {
  using scalar_type = double;
  using matrix_type = row_buffer;       // what the library returns (gradients, probes, residuals)
  using matrix_view = strided_view;     // what it reads
  using vector_type = std::vector<double>;  // one value per sample (weights, signs, traces)
  using generator_type = std::mt19937_64;   // probe draws

  static constexpr const char* name = "row_buffer";

  // ---- Shapes. The library calls them with const views and with its own const matrices; a
  // matrix converts to a view, so one overload taking `const matrix_view&` serves both. ----
  static index_t rows(const matrix_view& m) { return m.rows; }
  static index_t cols(const matrix_view& m) { return m.cols; }
  static index_t size(const vector_type& v) { return static_cast<index_t>(v.size()); }
  static std::string shape_string(const matrix_view& m) { return scorelift::detail::shape_string({m.rows, m.cols}); }

  // ---- Reductions. ----
  /// row_dot(x, y)[b] = ⟨x_b, y_b⟩.
  static vector_type row_dot(const matrix_view& x, const matrix_view& y) {
    vector_type out(static_cast<std::size_t>(x.rows), 0.0);
    for (index_t r = 0; r < x.rows; ++r)
      for (index_t c = 0; c < x.cols; ++c) out[static_cast<std::size_t>(r)] += x(r, c) * y(r, c);
    return out;
  }
  /// sum(v, begin, end) = Σ_{b ∈ [begin, end)} v_b.
  static double sum(const vector_type& v, index_t begin, index_t end) {
    double total = 0.0;
    for (index_t b = begin; b < end; ++b) total += v[static_cast<std::size_t>(b)];
    return total;
  }

  // ---- Per-sample vectors. `like` says where a new vector lives (dtype/device); host memory
  // here, so it is unused. ----
  /// filled(n, value, like): n copies of value.
  static vector_type filled(index_t n, double value, const matrix_view& /*like*/) {
    return vector_type(static_cast<std::size_t>(n), value);
  }
  /// split_filled(n, n_first, first, second, like): `first` on [0, n_first), `second` on [n_first, n)
  /// — the lifted losses' "other half's mean over own half's size" per sample.
  static vector_type split_filled(index_t n, index_t n_first, double first, double second, const matrix_view& /*like*/) {
    vector_type v(static_cast<std::size_t>(n), second);
    for (index_t b = 0; b < n_first; ++b) v[static_cast<std::size_t>(b)] = first;
    return v;
  }
  /// multiply(u, v)[b] = u_b v_b.
  static vector_type multiply(const vector_type& u, const vector_type& v) {
    vector_type out(u.size());
    for (std::size_t b = 0; b < u.size(); ++b) out[b] = u[b] * v[b];
    return out;
  }
  /// axpby(a, u, b, v) = a·u + b·v (the coefficient comes before its vector).
  static vector_type axpby(double a, const vector_type& u, double b, const vector_type& v) {
    vector_type out(u.size());
    for (std::size_t i = 0; i < u.size(); ++i) out[i] = a * u[i] + b * v[i];
    return out;
  }

  // ---- Row scaling. ----
  /// scaled_rows(v, x): row b is v_b x_b, in a new (unpadded) matrix.
  static matrix_type scaled_rows(const vector_type& v, const matrix_view& x) {
    matrix_type out(x.rows, x.cols);
    add_scaled_rows(out, v, x);
    return out;
  }
  /// add_scaled_rows(out, v, x): out_b += v_b x_b, in place.
  static void add_scaled_rows(matrix_type& out, const vector_type& v, const matrix_view& x) {
    for (index_t r = 0; r < x.rows; ++r)
      for (index_t c = 0; c < x.cols; ++c) out(r, c) += v[static_cast<std::size_t>(r)] * x(r, c);
  }
  /// zeros_like(x): a zero matrix of x's shape.
  static matrix_type zeros_like(const matrix_view& x) { return matrix_type(x.rows, x.cols); }

  // ---- The NaN/Inf policy: inputs with a non-finite entry are refused by the objectives. ----
  static bool all_finite(const matrix_view& x) {
    for (index_t r = 0; r < x.rows; ++r)
      for (index_t c = 0; c < x.cols; ++c)
        if (!std::isfinite(x(r, c))) return false;
    return true;
  }
  static bool all_finite_vector(const vector_type& v) {
    for (double x : v)
      if (!std::isfinite(x)) return false;
    return true;
  }

  // ---- Hutchinson probes: (rows, cols, generator, like), rows × cols entries. ----
  static matrix_type gaussian(index_t rows, index_t cols, generator_type& gen, const matrix_view& /*like*/) {
    std::normal_distribution<double> normal;
    matrix_type out(rows, cols);
    for (double& x : out.values) x = normal(gen);
    return out;
  }
  static matrix_type rademacher(index_t rows, index_t cols, generator_type& gen, const matrix_view& /*like*/) {
    std::bernoulli_distribution coin;
    matrix_type out(rows, cols);
    for (double& x : out.values) x = coin(gen) ? 1.0 : -1.0;
    return out;
  }

  // ---- Optional (HostVectorBackend): per-sample vectors to and from host doubles, for sphere
  // probes and per-noise-level signs. Vectors already live on the host here. ----
  static vector_type vector_from_host(const std::vector<double>& host, const matrix_view& /*like*/) { return host; }
  static std::vector<double> vector_to_host(const vector_type& v) { return v; }
};

/// The conformance kit's converter (scorelift/testing/backend_conformance.hpp): host values into a
/// row_buffer whose rows are padded (stride = cols + 3, so every view the kit reads is strided), and back.
struct padded_converter {
  row_buffer matrix(index_t rows, index_t cols, std::span<const double> row_major) const {
    row_buffer m(rows, cols, cols + 3);
    for (index_t r = 0; r < rows; ++r)
      for (index_t c = 0; c < cols; ++c) m(r, c) = row_major[static_cast<std::size_t>(r * cols + c)];
    return m;
  }
  std::vector<double> to_host(const row_buffer& m) const {
    std::vector<double> out;
    for (index_t r = 0; r < m.rows; ++r)
      for (index_t c = 0; c < m.cols; ++c) out.push_back(m(r, c));
    return out;
  }
};

static_assert(scorelift::Backend<row_buffer_backend>);
static_assert(scorelift::HostVectorBackend<row_buffer_backend>);

}  // namespace custom

// scorelift/backends/xtensor.hpp — the xtensor adapter: `xt::xtensor<S, 2>` batches (row-major),
// `xt::xtensor<S, 1>` per-sample vectors.
//
// `matrix_view` is a pointer and a shape over contiguous row-major memory: it is built implicitly
// from an `xt::xtensor<S, 2>` (no copy) or explicitly from a pointer the user owns, and is turned
// into an `xt::adapt` expression where an operation needs one, so every operation is one fused
// xtensor expression over the caller's memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"

namespace scorelift {

template <class Scalar = double>
struct xtensor_backend {
  using scalar_type = Scalar;
  using matrix_type = xt::xtensor<Scalar, 2>;
  using vector_type = xt::xtensor<Scalar, 1>;
  using generator_type = std::mt19937_64;

  /// Row-major view: `data` points at rows × cols contiguous scalars. A view of a temporary (a
  /// matrix returned by value) keeps it alive in `owned`, shared by every copy and slice of the view,
  /// so a view stored in a score_batch cannot dangle; views of lvalues and pointers own nothing.
  struct matrix_view {
    const Scalar* data = nullptr;
    index_t rows = 0;
    index_t cols = 0;
    std::shared_ptr<const matrix_type> owned{};

    matrix_view(const Scalar* pointer, index_t n_rows, index_t n_cols, std::shared_ptr<const matrix_type> keep = {})
        : data(pointer), rows(n_rows), cols(n_cols), owned(std::move(keep)) {}
    matrix_view(const matrix_type& m)  // NOLINT(google-explicit-constructor): a view, like Eigen::Ref
        : data(m.data()), rows(static_cast<index_t>(m.shape()[0])), cols(static_cast<index_t>(m.shape()[1])) {}
    matrix_view(matrix_type&& temporary)  // NOLINT(google-explicit-constructor)
        : matrix_view(std::make_shared<const matrix_type>(std::move(temporary))) {}
    explicit matrix_view(std::shared_ptr<const matrix_type> keep) : matrix_view(*keep) { owned = std::move(keep); }

    /// The view as an xtensor expression (no copy).
    auto expression() const {
      std::array<std::size_t, 2> shape{static_cast<std::size_t>(rows), static_cast<std::size_t>(cols)};
      return xt::adapt(data, static_cast<std::size_t>(rows * cols), xt::no_ownership(), shape);
    }
  };

  static constexpr const char* name = "xtensor";

  static index_t rows(const matrix_view& m) { return m.rows; }
  static index_t cols(const matrix_view& m) { return m.cols; }
  static index_t size(const vector_type& v) { return static_cast<index_t>(v.size()); }
  static std::string shape_string(const matrix_view& m) { return detail::shape_string({m.rows, m.cols}); }

  static matrix_view slice_rows(const matrix_view& m, index_t begin, index_t end) {
    detail::require_row_range(begin, end, m.rows, "xtensor_backend::slice_rows");
    return matrix_view(m.data + begin * m.cols, end - begin, m.cols, m.owned);
  }

  static vector_type row_dot(const matrix_view& x, const matrix_view& y) {
    return xt::sum(x.expression() * y.expression(), {1});
  }
  static double sum(const vector_type& v, index_t begin, index_t end) {
    double total = 0.0;
    for (index_t i = begin; i < end; ++i) total += static_cast<double>(v(static_cast<std::size_t>(i)));
    return total;
  }

  static vector_type filled(index_t n, double value, const matrix_view& /*like*/) {
    vector_type v = xt::empty<Scalar>({static_cast<std::size_t>(n)});
    v.fill(static_cast<Scalar>(value));
    return v;
  }
  static vector_type split_filled(index_t n, index_t n_first, double first, double second,
                                  const matrix_view& /*like*/) {
    vector_type v = xt::empty<Scalar>({static_cast<std::size_t>(n)});
    for (index_t i = 0; i < n; ++i) v(static_cast<std::size_t>(i)) = static_cast<Scalar>(i < n_first ? first : second);
    return v;
  }
  static vector_type multiply(const vector_type& u, const vector_type& v) { return u * v; }
  static vector_type axpby(double a, const vector_type& u, double b, const vector_type& v) {
    return static_cast<Scalar>(a) * u + static_cast<Scalar>(b) * v;
  }

  static matrix_type scaled_rows(const vector_type& v, const matrix_view& x) {
    return xt::view(v, xt::all(), xt::newaxis()) * x.expression();
  }
  static void add_scaled_rows(matrix_type& out, const vector_type& v, const matrix_view& x) {
    out += xt::view(v, xt::all(), xt::newaxis()) * x.expression();
  }
  static matrix_type zeros_like(const matrix_view& m) {
    return xt::zeros<Scalar>({static_cast<std::size_t>(m.rows), static_cast<std::size_t>(m.cols)});
  }

  static vector_type vector_from_host(const std::vector<double>& host, const matrix_view& /*like*/) {
    vector_type v = xt::empty<Scalar>({host.size()});
    for (std::size_t i = 0; i < host.size(); ++i) v(i) = static_cast<Scalar>(host[i]);
    return v;
  }
  static std::vector<double> vector_to_host(const vector_type& v) { return std::vector<double>(v.begin(), v.end()); }

  static bool all_finite(const matrix_view& m) { return xt::all(xt::isfinite(m.expression())); }
  static bool all_finite_vector(const vector_type& v) { return xt::all(xt::isfinite(v)); }

  static matrix_type gaussian(index_t rows, index_t cols, generator_type& gen, const matrix_view& /*like*/) {
    std::normal_distribution<Scalar> normal;
    matrix_type out = xt::empty<Scalar>({static_cast<std::size_t>(rows), static_cast<std::size_t>(cols)});
    for (auto& x : out) x = normal(gen);
    return out;
  }
  static matrix_type rademacher(index_t rows, index_t cols, generator_type& gen, const matrix_view& /*like*/) {
    matrix_type out = xt::empty<Scalar>({static_cast<std::size_t>(rows), static_cast<std::size_t>(cols)});
    std::uint64_t bits = 0;
    int left = 0;
    for (auto& x : out) {
      if (left == 0) {
        bits = gen();
        left = 64;
      }
      x = (bits & 1U) ? Scalar(1) : Scalar(-1);
      bits >>= 1U;
      --left;
    }
    return out;
  }
};

static_assert(Backend<xtensor_backend<double>>);
static_assert(Backend<xtensor_backend<float>>);
static_assert(HostVectorBackend<xtensor_backend<double>>);

}  // namespace scorelift

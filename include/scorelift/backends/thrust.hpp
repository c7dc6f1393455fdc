// scorelift/backends/thrust.hpp — the Thrust adapter: batches live in `thrust::device_vector`s of
// Thrust's device system, so the same code runs on a CUDA GPU (nvcc, THRUST_DEVICE_SYSTEM=CUDA) and
// as plain C++ on the CPU (THRUST_DEVICE_SYSTEM=CPP or OMP — what the tests use).
//
// `matrix_view` is a raw pointer into that device memory plus a shape: it is built implicitly from
// a `matrix_type` and explicitly from memory the user owns (a CUDA tensor's data pointer), so an
// objective never copies its inputs. Every operation is one Thrust algorithm over the elements;
// reductions accumulate in double whatever the scalar type (the concept returns sums as double).
//
// The generic objectives run on this backend as they are; `scorelift/thrust/fused_lifted_loss.hpp`
// evaluates the lifted loss in two fused passes instead (scorelift/cuda/lifted_kernels.cuh).
#pragma once

#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/copy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/logical.h>
#include <thrust/reduce.h>
#include <thrust/transform.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/cuda/config.cuh"
#include "scorelift/errors.hpp"

namespace scorelift {
namespace detail::thrust_ops {

// Functors rather than lambdas: nvcc needs no --extended-lambda flag, and they read as formulas.

/// i ↦ row of the i-th element of a row-major matrix with `cols` columns.
struct row_of {
  index_t cols;
  SCORELIFT_HOST_DEVICE index_t operator()(index_t i) const { return i / cols; }
};

/// i ↦ x_i y_i in double: the terms of a row-wise inner product.
template <class Scalar>
struct product_at {
  const Scalar* x;
  const Scalar* y;
  SCORELIFT_HOST_DEVICE double operator()(index_t i) const {
    return static_cast<double>(x[i]) * static_cast<double>(y[i]);
  }
};

template <class To>
struct cast_to {
  template <class From>
  SCORELIFT_HOST_DEVICE To operator()(From x) const { return static_cast<To>(x); }
};

/// (u, v) ↦ a u + b v.
template <class Scalar>
struct axpby {
  Scalar a, b;
  SCORELIFT_HOST_DEVICE Scalar operator()(Scalar u, Scalar v) const { return a * u + b * v; }
};

/// out_i (+)= v_{row(i)} x_i over a row-major matrix.
template <class Scalar, bool Accumulate>
struct scale_rows_into {
  Scalar* out;
  const Scalar* v;
  const Scalar* x;
  index_t cols;
  SCORELIFT_HOST_DEVICE void operator()(index_t i) const {
    const Scalar term = v[i / cols] * x[i];
    if constexpr (Accumulate) {
      out[i] += term;
    } else {
      out[i] = term;
    }
  }
};

/// x is finite iff x − x == 0: NaN − NaN and ∞ − ∞ are NaN. Needs no <cmath> in device code.
struct is_finite {
  template <class Scalar>
  SCORELIFT_HOST_DEVICE bool operator()(Scalar x) const { return x - x == Scalar(0); }
};

}  // namespace detail::thrust_ops

template <class Scalar = double>
struct thrust_backend {
  using scalar_type = Scalar;
  using vector_type = thrust::device_vector<Scalar>;
  using generator_type = std::mt19937_64;

  /// An owning rows × cols row-major batch in device memory.
  struct matrix_type {
    thrust::device_vector<Scalar> values;
    index_t rows = 0;
    index_t cols = 0;

    matrix_type() = default;
    matrix_type(index_t n_rows, index_t n_cols, Scalar fill = Scalar(0))
        : values(static_cast<std::size_t>(n_rows * n_cols), fill), rows(n_rows), cols(n_cols) {}
    Scalar* data() { return thrust::raw_pointer_cast(values.data()); }
    const Scalar* data() const { return thrust::raw_pointer_cast(values.data()); }
  };

  /// A view of rows × cols contiguous row-major scalars in device memory. A view of a temporary (a
  /// batch returned by value) keeps it alive in `owned`, shared by every copy and slice of the view,
  /// so a view stored in a score_batch cannot dangle; views of lvalues and pointers own nothing.
  struct matrix_view {
    const Scalar* data = nullptr;
    index_t rows = 0;
    index_t cols = 0;
    std::shared_ptr<const matrix_type> owned{};

    matrix_view(const Scalar* device_pointer, index_t n_rows, index_t n_cols, std::shared_ptr<const matrix_type> keep = {})
        : data(device_pointer), rows(n_rows), cols(n_cols), owned(std::move(keep)) {}
    matrix_view(const matrix_type& m)  // NOLINT(google-explicit-constructor): a view, like Eigen::Ref
        : data(m.data()), rows(m.rows), cols(m.cols) {}
    matrix_view(matrix_type&& temporary)  // NOLINT(google-explicit-constructor)
        : matrix_view(std::make_shared<const matrix_type>(std::move(temporary))) {}
    explicit matrix_view(std::shared_ptr<const matrix_type> keep) : matrix_view(*keep) { owned = std::move(keep); }
  };

  static constexpr const char* name = "thrust";

  static index_t rows(const matrix_view& m) { return m.rows; }
  static index_t cols(const matrix_view& m) { return m.cols; }
  static index_t size(const vector_type& v) { return static_cast<index_t>(v.size()); }
  // (Not {m.rows, m.cols}: nvcc 13's front end mistranslates that braced list here.)
  static std::string shape_string(const matrix_view& m) { return detail::shape_string({rows(m), cols(m)}); }

  static matrix_view slice_rows(const matrix_view& m, index_t begin, index_t end) {
    detail::require_row_range(begin, end, m.rows, "thrust_backend::slice_rows");
    return matrix_view(m.data + begin * m.cols, end - begin, m.cols, m.owned);
  }

  /// [b] = Σ_j x_bj y_bj: one segmented reduction over all B·D products (keys = row index), so a
  /// GPU spreads a row over many threads; accumulated in double, then rounded to Scalar.
  static vector_type row_dot(const matrix_view& x, const matrix_view& y) {
    vector_type out(static_cast<std::size_t>(x.rows), Scalar(0));
    if (x.rows == 0 || x.cols == 0) return out;
    thrust::device_vector<double> sums(static_cast<std::size_t>(x.rows));
    const thrust::counting_iterator<index_t> index(0);
    thrust::reduce_by_key(thrust::device,
                          thrust::make_transform_iterator(index, detail::thrust_ops::row_of{x.cols}),
                          thrust::make_transform_iterator(index + x.rows * x.cols, detail::thrust_ops::row_of{x.cols}),
                          thrust::make_transform_iterator(index, detail::thrust_ops::product_at<Scalar>{x.data, y.data}),
                          thrust::make_discard_iterator(), sums.begin());
    thrust::transform(sums.begin(), sums.end(), out.begin(), detail::thrust_ops::cast_to<Scalar>{});
    return out;
  }
  static double sum(const vector_type& v, index_t begin, index_t end) {
    return thrust::reduce(v.begin() + begin, v.begin() + end, 0.0);
  }

  static vector_type filled(index_t n, double value, const matrix_view& /*like*/) {
    return vector_type(static_cast<std::size_t>(n), static_cast<Scalar>(value));
  }
  static vector_type split_filled(index_t n, index_t n_first, double first, double second,
                                  const matrix_view& /*like*/) {
    vector_type v(static_cast<std::size_t>(n), static_cast<Scalar>(second));
    thrust::fill(v.begin(), v.begin() + n_first, static_cast<Scalar>(first));
    return v;
  }
  static vector_type multiply(const vector_type& u, const vector_type& v) {
    vector_type out(u.size());
    thrust::transform(u.begin(), u.end(), v.begin(), out.begin(), thrust::multiplies<Scalar>());
    return out;
  }
  static vector_type axpby(double a, const vector_type& u, double b, const vector_type& v) {
    vector_type out(u.size());
    thrust::transform(u.begin(), u.end(), v.begin(), out.begin(),
                      detail::thrust_ops::axpby<Scalar>{static_cast<Scalar>(a), static_cast<Scalar>(b)});
    return out;
  }

  static matrix_type scaled_rows(const vector_type& v, const matrix_view& x) {
    matrix_type out(x.rows, x.cols);
    for_each_element(x, detail::thrust_ops::scale_rows_into<Scalar, false>{out.data(), raw(v), x.data, x.cols});
    return out;
  }
  static void add_scaled_rows(matrix_type& out, const vector_type& v, const matrix_view& x) {
    for_each_element(x, detail::thrust_ops::scale_rows_into<Scalar, true>{out.data(), raw(v), x.data, x.cols});
  }
  static matrix_type zeros_like(const matrix_view& m) { return matrix_type(m.rows, m.cols); }

  static vector_type vector_from_host(const std::vector<double>& host, const matrix_view& /*like*/) {
    const std::vector<Scalar> narrowed(host.begin(), host.end());
    return vector_type(narrowed.begin(), narrowed.end());
  }
  static std::vector<double> vector_to_host(const vector_type& v) {
    std::vector<Scalar> host(v.size());
    thrust::copy(v.begin(), v.end(), host.begin());
    return std::vector<double>(host.begin(), host.end());
  }

  static bool all_finite(const matrix_view& m) {
    return thrust::all_of(thrust::device, m.data, m.data + m.rows * m.cols, detail::thrust_ops::is_finite{});
  }
  static bool all_finite_vector(const vector_type& v) {
    return thrust::all_of(v.begin(), v.end(), detail::thrust_ops::is_finite{});
  }

  // Probes are drawn on the host with the same generator as the other backends (so a seed means
  // the same draws everywhere) and copied to the device once.
  static matrix_type gaussian(index_t rows, index_t cols, generator_type& gen, const matrix_view& /*like*/) {
    std::normal_distribution<Scalar> normal;
    std::vector<Scalar> host(static_cast<std::size_t>(rows * cols));
    for (Scalar& x : host) x = normal(gen);
    return from_host(rows, cols, host);
  }
  static matrix_type rademacher(index_t rows, index_t cols, generator_type& gen, const matrix_view& /*like*/) {
    std::vector<Scalar> host(static_cast<std::size_t>(rows * cols));
    std::uint64_t bits = 0;
    int left = 0;
    for (Scalar& x : host) {  // one random bit per entry, 64 per draw
      if (left == 0) {
        bits = gen();
        left = 64;
      }
      x = (bits & 1U) ? Scalar(1) : Scalar(-1);
      bits >>= 1U;
      --left;
    }
    return from_host(rows, cols, host);
  }

  /// A device copy of rows × cols row-major host values.
  static matrix_type from_host(index_t rows, index_t cols, const std::vector<Scalar>& host) {
    detail::require(static_cast<index_t>(host.size()) == rows * cols, "thrust_backend::from_host",
                    "argument 'host' has ", host.size(), " values but the shape is ", detail::shape_string({rows, cols}));
    matrix_type m;
    m.values.assign(host.begin(), host.end());
    m.rows = rows;
    m.cols = cols;
    return m;
  }

  static Scalar* raw(vector_type& v) { return thrust::raw_pointer_cast(v.data()); }
  static const Scalar* raw(const vector_type& v) { return thrust::raw_pointer_cast(v.data()); }

 private:
  template <class Function>
  static void for_each_element(const matrix_view& x, Function f) {
    const thrust::counting_iterator<index_t> index(0);
    thrust::for_each(thrust::device, index, index + x.rows * x.cols, f);
  }
};

static_assert(Backend<thrust_backend<double>>);
static_assert(Backend<thrust_backend<float>>);
static_assert(HostVectorBackend<thrust_backend<double>>);

}  // namespace scorelift

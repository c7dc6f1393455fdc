// The backends every generic test body runs on, and host <-> backend conversions for tests.
// A test written as TEST_CASE_TEMPLATE(..., B, SCORELIFT_TEST_BACKENDS) runs once per backend.
#pragma once

#include <cstddef>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#ifdef SCORELIFT_TEST_XTENSOR
#include "scorelift/backends/xtensor.hpp"
#define SCORELIFT_TEST_BACKENDS scorelift::eigen_backend<double>, scorelift::xtensor_backend<double>
#else
#define SCORELIFT_TEST_BACKENDS scorelift::eigen_backend<double>
#endif

namespace scorelift::test {

/// A row-major host matrix: rows × cols values.
struct host_matrix {
  index_t rows = 0;
  index_t cols = 0;
  std::vector<double> values;
  double operator()(index_t r, index_t c) const { return values[static_cast<std::size_t>(r * cols + c)]; }
  double& operator()(index_t r, index_t c) { return values[static_cast<std::size_t>(r * cols + c)]; }
};

template <class B>
struct convert;

template <class S>
struct convert<eigen_backend<S>> {
  using B = eigen_backend<S>;
  static typename B::matrix_type matrix(const host_matrix& h) {
    typename B::matrix_type m(h.rows, h.cols);
    for (index_t i = 0; i < h.rows * h.cols; ++i) m.data()[i] = static_cast<S>(h.values[static_cast<std::size_t>(i)]);
    return m;
  }
  static typename B::vector_type vector(const std::vector<double>& v) {
    typename B::vector_type out(static_cast<index_t>(v.size()));
    for (std::size_t i = 0; i < v.size(); ++i) out(static_cast<index_t>(i)) = static_cast<S>(v[i]);
    return out;
  }
  static host_matrix host(const typename B::matrix_view& m) {
    host_matrix h{m.rows(), m.cols(), std::vector<double>(static_cast<std::size_t>(m.size()))};
    for (index_t r = 0; r < m.rows(); ++r)
      for (index_t c = 0; c < m.cols(); ++c) h(r, c) = static_cast<double>(m(r, c));
    return h;
  }
  static std::vector<double> host_vector(const typename B::vector_type& v) {
    return std::vector<double>(v.data(), v.data() + v.size());
  }
};

#ifdef SCORELIFT_TEST_XTENSOR
template <class S>
struct convert<xtensor_backend<S>> {
  using B = xtensor_backend<S>;
  static typename B::matrix_type matrix(const host_matrix& h) {
    typename B::matrix_type m = xt::empty<S>({static_cast<std::size_t>(h.rows), static_cast<std::size_t>(h.cols)});
    for (std::size_t i = 0; i < h.values.size(); ++i) m.data()[i] = static_cast<S>(h.values[i]);
    return m;
  }
  static typename B::vector_type vector(const std::vector<double>& v) {
    typename B::vector_type out = xt::empty<S>({v.size()});
    for (std::size_t i = 0; i < v.size(); ++i) out(i) = static_cast<S>(v[i]);
    return out;
  }
  static host_matrix host(const typename B::matrix_view& m) {
    return host_matrix{m.rows, m.cols, std::vector<double>(m.data, m.data + m.rows * m.cols)};
  }
  static std::vector<double> host_vector(const typename B::vector_type& v) { return std::vector<double>(v.begin(), v.end()); }
};
#endif

}  // namespace scorelift::test

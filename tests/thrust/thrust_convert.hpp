// Host <-> Thrust conversions for the tests (the counterpart of backends_under_test.hpp's convert<>),
// and random batches shared by the Thrust test files.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

#include "backends_under_test.hpp"
#include "scorelift/backends/thrust.hpp"

namespace scorelift::test {

template <class S>
struct convert<thrust_backend<S>> {
  using B = thrust_backend<S>;
  static typename B::matrix_type matrix(const host_matrix& h) {
    return B::from_host(h.rows, h.cols, std::vector<S>(h.values.begin(), h.values.end()));
  }
  static typename B::vector_type vector(const std::vector<double>& v) { return B::vector_from_host(v, {nullptr, 0, 0}); }
  static host_matrix host(const typename B::matrix_view& m) {
    const thrust::device_vector<S> copy(thrust::device_pointer_cast(m.data),
                                        thrust::device_pointer_cast(m.data + m.rows * m.cols));
    std::vector<S> values(copy.size());
    thrust::copy(copy.begin(), copy.end(), values.begin());
    return host_matrix{m.rows, m.cols, std::vector<double>(values.begin(), values.end())};
  }
  static std::vector<double> host_vector(const typename B::vector_type& v) { return B::vector_to_host(v); }
};

/// rows × cols standard normal values, optionally rounded to float (so that float and double
/// backends see the same numbers).
inline host_matrix random_matrix(index_t rows, index_t cols, std::mt19937_64& gen, bool round_to_float = false) {
  std::normal_distribution<double> normal;
  host_matrix m{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols))};
  for (double& x : m.values) x = round_to_float ? static_cast<double>(static_cast<float>(normal(gen))) : normal(gen);
  return m;
}

}  // namespace scorelift::test

// Host <-> Thrust conversions for the tests (the counterpart of backends_under_test.hpp's convert<>),
// so that the shared objective test helpers (core/objective_test_support.hpp) run on Thrust too.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

#include "backends_under_test.hpp"
#include "core/objective_test_support.hpp"  // random batches, backend_batch, gradient_check
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

}  // namespace scorelift::test

// Shared helpers of the LibTorch tests: float64 tensor options and the relative gap used to compare a
// hand-written result with LibTorch's own.
#pragma once

#include <torch/torch.h>

#include <algorithm>

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

namespace scorelift::test {

inline const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

/// max |a − b| / max(1, max |b|).
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a - b).abs().max().item<double>() / std::max(1.0, b.abs().max().item<double>());
}

}  // namespace scorelift::test

// Shared helpers of the LibTorch tests: float64 tensor options, the relative gap used to compare a
// hand-written result with LibTorch's own, and exact comparisons of parameter lists.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <vector>

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

namespace scorelift::test {

inline const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

/// max |a − b| / max(1, max |b|).
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a - b).abs().max().item<double>() / std::max(1.0, b.abs().max().item<double>());
}

/// Detached copies of `tensors` (a module's parameters or buffers as they are now).
inline std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> out;
  for (const auto& t : tensors) out.push_back(t.detach().clone());
  return out;
}

/// Same count, and each pair torch::equal (same shape, bit-identical values).
inline bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

}  // namespace scorelift::test

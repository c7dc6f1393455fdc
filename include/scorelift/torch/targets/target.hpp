// scorelift/torch/targets/target.hpp — what a known-score target provides, and the metric.
//
// A target is a distribution p on R^D we can sample and whose score s(x) = ∇ₓ log p(x) we know in
// closed form, so a learned estimate ŝ is judged by the Fisher divergence
//   F(ŝ) = E_p ‖ŝ(x) − s(x)‖²,
// estimated on held-out samples. Samples are drawn on the CPU from a seeded generator and then moved
// to the requested device: one seed gives the same data on every device.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <concepts>
#include <string>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::torch_ext {

template <class T>
concept KnownScoreTarget = requires(const T& target, index_t n, at::Generator& gen, torch::TensorOptions options,
                                    const torch::Tensor& x) {
  { target.name() } -> std::convertible_to<std::string>;
  { target.dim() } -> std::convertible_to<index_t>;
  { target.sample(n, gen, options) } -> std::same_as<torch::Tensor>;  // [n, D]
  { target.score(x) } -> std::same_as<torch::Tensor>;                 // [n, D]
};

/// Mean and standard error of a per-sample quantity.
struct mean_with_error {
  double mean = 0.0;
  double standard_error = 0.0;
};

/// F(ŝ) = mean_b ‖ŝ_b − s_b‖² over the rows, with its standard error (per-sample spread / √n).
inline mean_with_error fisher_divergence(const torch::Tensor& estimate, const torch::Tensor& truth) {
  scorelift::detail::require(estimate.dim() == 2 && estimate.sizes() == truth.sizes(), "fisher_divergence",
                             "argument 'estimate' has shape ", scorelift::detail::tensor_shape_string(estimate),
                             " but argument 'truth' has shape ", scorelift::detail::tensor_shape_string(truth),
                             " (both must be the same [B, D])");
  const auto per_sample = (estimate - truth).pow(2).sum(1).to(torch::kFloat64);
  const double n = static_cast<double>(per_sample.size(0));
  const double spread = n > 1 ? per_sample.std().item<double>() : 0.0;
  return {per_sample.mean().item<double>(), spread / std::sqrt(n)};
}

namespace detail {

/// Options for the CPU draws behind `sample`: the dtype asked for, on the CPU.
inline torch::TensorOptions cpu_like(const torch::TensorOptions& options) {
  return torch::TensorOptions().dtype(options.dtype()).device(torch::kCPU);
}

/// What sample(n, gen, options) can serve, checked before anything is drawn: a request refused after
/// the draw (an integer dtype, a CUDA device this build cannot reach) would have moved `gen` on.
inline void require_sample_request(index_t n, const torch::TensorOptions& options, const char* where) {
  scorelift::detail::require(n > 0, where, "argument 'n' is ", n, " but at least one sample is needed");
  scorelift::detail::require(options.dtype() == torch::kFloat32 || options.dtype() == torch::kFloat64, where,
                             "argument 'options' has dtype ", options.dtype(), " but float32 or float64 was expected");
  scorelift::detail::require(options.device().is_cpu() || (options.device().is_cuda() && torch::cuda::is_available()),
                             where, "argument 'options' names device ", options.device(), ", which this process cannot use");
}

inline void require_points(const torch::Tensor& x, index_t dim, const char* where) {
  scorelift::detail::require(x.defined() && x.dim() == 2 && x.size(1) == dim, where, "argument 'x' has shape ",
                             scorelift::detail::tensor_shape_string(x), " but points of shape [B, ", dim,
                             "] were expected");
}

}  // namespace detail
}  // namespace scorelift::torch_ext

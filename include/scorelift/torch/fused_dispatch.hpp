// scorelift/torch/fused_dispatch.hpp — the hook through which the LibTorch Functions hand a lifted
// loss to a fused CUDA kernel when one is compiled in.
//
// Contract (the CUDA branch must keep it):
//   template <class Scalar>
//   std::optional<objective_result<torch_backend<Scalar>>>
//   try_fused_lifted(const torch::Tensor& modes, const score_batch<torch_backend<Scalar>>& batch,
//                    const lifted_options& options);
//   * `modes` is the stacked [L, B, D] tensor the batch's `modes[l]` are views of (`modes.select(0, l)`),
//     already validated (shapes, dtype, device, finite values) by the caller; it may be non-contiguous.
//   * `batch.target` ([B, D]) xor `batch.divergence` (L × [B]); `batch.weights` ([B]) and `batch.signs`
//     (L × [B], global signs already broadcast per sample) are optional, exactly as for
//     `scorelift::lifted_residual_loss`.
//   * Return std::nullopt to decline (CPU tensors, a dtype or layout the kernel does not handle, ...);
//     the caller then runs the generic core. When it returns a value, every field must equal what
//     `scorelift::lifted_residual_loss(batch, options)` returns (value, level_values, grad_modes as L
//     tensors [B, D], grad_target or grad_divergence, residual_alignment), to rounding.
// Without SCORELIFT_WITH_FUSED_CUDA this stub always declines. With it (CMake defines it when
// LibTorch has CUDA and nvcc built `scorelift_fused_cuda`), CUDA tensors go to the two-pass kernels
// of scorelift/cuda/lifted_cuda.cuh on the current stream; non-finite statistics decline, so that
// the generic core's validation names the offending input.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>
#ifdef SCORELIFT_WITH_FUSED_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "scorelift/cuda/lifted_on_stream.cuh"
#endif

#include "scorelift/backends/torch.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift::torch_ext::detail {

template <class Scalar>
std::optional<objective_result<torch_backend<Scalar>>> try_fused_lifted(
    [[maybe_unused]] const torch::Tensor& modes, [[maybe_unused]] const score_batch<torch_backend<Scalar>>& batch,
    [[maybe_unused]] const lifted_options& options) {
#ifdef SCORELIFT_WITH_FUSED_CUDA
  const int64_t levels = modes.size(0), n = modes.size(1), dim = modes.size(2);
  if (!modes.is_cuda() || levels > fused::max_levels || n < 2 || dim < 1 || (options.distance_form && !batch.target))
    return std::nullopt;  // the generic core handles (or rejects) these
  const c10::cuda::CUDAGuard device_guard(modes.device());

  // Raw pointers into contiguous tensors (kept alive here: a stride-0 broadcast of signs, or a
  // non-contiguous stack, is materialised once).
  std::vector<torch::Tensor> alive;
  const auto pointer = [&](const torch::Tensor& t) {
    alive.push_back(t.contiguous());
    return alive.back().template data_ptr<Scalar>();
  };
  const torch::Tensor f = modes.contiguous();
  const torch::Tensor grad_modes = torch::empty_like(f);
  torch::Tensor grad_target, grad_divergence;
  fused::lifted_inputs<Scalar> in;
  fused::lifted_outputs<Scalar> out;
  in.batch = n;
  in.dim = dim;
  in.levels = static_cast<int>(levels);
  if (batch.target) {
    in.target = pointer(*batch.target);
    grad_target = torch::empty({n, dim}, f.options());
    out.target = grad_target.template data_ptr<Scalar>();
  } else {
    grad_divergence = torch::empty({levels, n}, f.options());
  }
  if (batch.weights) in.weights = pointer(*batch.weights);
  for (int64_t l = 0; l < levels; ++l) {
    const auto i = static_cast<std::size_t>(l);
    in.modes[i] = f.template data_ptr<Scalar>() + l * n * dim;
    out.modes[i] = grad_modes.template data_ptr<Scalar>() + l * n * dim;
    if (!batch.signs.empty()) in.signs[i] = pointer(batch.signs[i]);
    if (!batch.target) {
      in.divergence[i] = pointer(batch.divergence[i]);
      out.divergence[i] = grad_divergence.template data_ptr<Scalar>() + l * n;
    }
  }
  const torch::Tensor scratch = torch::empty({fused::lifted_scratch_doubles(in.levels)}, f.options().dtype(torch::kFloat64));
  fused::lifted_evaluation evaluation = fused::lifted_loss_on_cuda<Scalar>(
      in, out, options, c10::cuda::getCurrentCUDAStream(f.device().index()).stream(), scratch.data_ptr<double>());
  if (!evaluation.finite) return std::nullopt;

  objective_result<torch_backend<Scalar>> result;
  result.value = evaluation.value;
  result.level_values = std::move(evaluation.level_values);
  result.residual_alignment = std::move(evaluation.residual_alignment);
  for (int64_t l = 0; l < levels; ++l) {
    result.grad_modes.push_back(grad_modes.select(0, l));
    if (!batch.target) result.grad_divergence.push_back(grad_divergence.select(0, l));
  }
  if (batch.target) result.grad_target = grad_target;
  return result;
#else
  return std::nullopt;
#endif
}

}  // namespace scorelift::torch_ext::detail

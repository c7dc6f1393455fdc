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
// Without SCORELIFT_WITH_FUSED_CUDA this stub always declines.
#pragma once

#include <torch/torch.h>

#include <optional>

#include "scorelift/backends/torch.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift::torch_ext::detail {

template <class Scalar>
std::optional<objective_result<torch_backend<Scalar>>> try_fused_lifted(
    [[maybe_unused]] const torch::Tensor& modes, [[maybe_unused]] const score_batch<torch_backend<Scalar>>& batch,
    [[maybe_unused]] const lifted_options& options) {
#ifdef SCORELIFT_WITH_FUSED_CUDA
  // Filled in by the fused-kernel (Thrust/CUDA) work: see the contract above.
  return std::nullopt;
#else
  return std::nullopt;
#endif
}

}  // namespace scorelift::torch_ext::detail

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
// Here: CPU tensors run the two passes of scorelift/cuda/lifted_elements.cuh on LibTorch's own
// thread pool (at::parallel_reduce / at::parallel_for: as many threads as the torch ops would use);
// CUDA tensors run the hand-written kernels of scorelift/cuda/lifted_cuda.cuh on the current stream
// when SCORELIFT_WITH_FUSED_CUDA is defined (CMake: LibTorch has CUDA and nvcc built
// `scorelift_fused_cuda`), and are declined otherwise. Non-finite statistics decline too, so that
// the generic core's validation names the offending input.
#pragma once

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <optional>
#include <utility>
#include <vector>
#ifdef SCORELIFT_WITH_FUSED_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "scorelift/cuda/lifted_on_stream.cuh"
#endif

#include "scorelift/backends/torch.hpp"
#include "scorelift/torch/buffer_pool.hpp"
#include "scorelift/cuda/lifted_elements.cuh"
#include "scorelift/cuda/lifted_statistics.cuh"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift::torch_ext::detail {

/// The batch as the raw pointers the fused passes read, and the gradients they write (pooled buffers on the
/// CPU: torch/buffer_pool.hpp).
template <class Scalar>
struct fused_buffers {
  std::vector<torch::Tensor> alive;  // contiguous versions of the inputs (a stride-0 broadcast of
                                     // signs, a non-contiguous stack: materialised once)
  torch::Tensor grad_modes, grad_target, grad_divergence;
  fused::lifted_inputs<Scalar> in;
  fused::lifted_outputs<Scalar> out;

  fused_buffers(const torch::Tensor& modes, const score_batch<torch_backend<Scalar>>& batch) {
    const int64_t levels = modes.size(0), n = modes.size(1), dim = modes.size(2);
    const torch::Tensor f = contiguous(modes);
    grad_modes = workspace().get(f.sizes(), f.options());
    in.batch = n;
    in.dim = dim;
    in.levels = static_cast<int>(levels);
    if (batch.target) {
      in.target = contiguous(*batch.target).template data_ptr<Scalar>();
      grad_target = workspace().get({n, dim}, f.options());
      out.target = grad_target.template data_ptr<Scalar>();
    } else {
      grad_divergence = workspace().get({levels, n}, f.options());
    }
    if (batch.weights) in.weights = contiguous(*batch.weights).template data_ptr<Scalar>();
    for (int64_t l = 0; l < levels; ++l) {
      const auto i = static_cast<std::size_t>(l);
      in.modes[i] = f.template data_ptr<Scalar>() + l * n * dim;
      out.modes[i] = grad_modes.template data_ptr<Scalar>() + l * n * dim;
      if (!batch.signs.empty()) in.signs[i] = contiguous(batch.signs[i]).template data_ptr<Scalar>();
      if (!batch.target) {
        in.divergence[i] = contiguous(batch.divergence[i]).template data_ptr<Scalar>();
        out.divergence[i] = grad_divergence.template data_ptr<Scalar>() + l * n;
      }
    }
  }

  /// The core's result type from the fused evaluation (gradients as views of the buffers).
  objective_result<torch_backend<Scalar>> result(fused::lifted_evaluation&& evaluation) const {
    objective_result<torch_backend<Scalar>> r;
    r.value = evaluation.value;
    r.level_values = std::move(evaluation.level_values);
    r.residual_alignment = std::move(evaluation.residual_alignment);
    for (int64_t l = 0; l < grad_modes.size(0); ++l) {
      r.grad_modes.push_back(grad_modes.select(0, l));
      if (grad_divergence.defined()) r.grad_divergence.push_back(grad_divergence.select(0, l));
    }
    if (grad_target.defined()) r.grad_target = grad_target;
    return r;
  }

 private:
  const torch::Tensor& contiguous(const torch::Tensor& t) {
    alive.push_back(t.contiguous());
    return alive.back();
  }
};

/// The two passes on LibTorch's intra-op thread pool: work items are (sample, chunk of 2048
/// contiguous elements); pass 1 reduces their sums, pass 2 writes their gradients.
template <class Scalar>
fused::lifted_evaluation fused_lifted_on_cpu(const fused::lifted_inputs<Scalar>& in,
                                             const fused::lifted_outputs<Scalar>& out, const lifted_options& options) {
  const fused::chunking ch = fused::chunking::contiguous(in.dim, 2048);
  const int64_t items = in.batch * ch.chunks;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::min<int64_t>(in.dim, 2048));  // ≥ ~32k elements a task
  return fused::detail::with_levels(in.levels, [&](auto levels) {
    constexpr int L = decltype(levels)::value;
    const fused::chunk_statistics<Scalar, L> statistics{in, ch};
    const fused::add_level_sums<L> add;
    const fused::level_sums<L> sums = at::parallel_reduce(
        0, items, grain, fused::level_sums<L>{},
        [&](int64_t begin, int64_t end, fused::level_sums<L> partial) {
          for (int64_t item = begin; item < end; ++item) partial = add(partial, statistics(item));
          return partial;
        },
        add);
    fused::lifted_evaluation evaluation = fused::evaluate_lifted<L>(sums, in.batch, in.dim, options);
    if (evaluation.finite) {
      const fused::chunk_gradients<Scalar, L> gradients{in, out, ch, evaluation.template coefficients<L>()};
      at::parallel_for(0, items, grain, [&](int64_t begin, int64_t end) {
        for (int64_t item = begin; item < end; ++item) gradients(item);
      });
    }
    return evaluation;
  });
}

template <class Scalar>
std::optional<objective_result<torch_backend<Scalar>>> try_fused_lifted(const torch::Tensor& modes,
                                                                       const score_batch<torch_backend<Scalar>>& batch,
                                                                       const lifted_options& options) {
  const int64_t levels = modes.size(0), n = modes.size(1), dim = modes.size(2);
  if (levels > fused::max_levels || n < 2 || dim < 1 || (options.distance_form && !batch.target))
    return std::nullopt;  // the generic core handles (or rejects) these
#ifndef SCORELIFT_WITH_FUSED_CUDA
  if (modes.is_cuda()) return std::nullopt;
#endif
  if (!modes.is_cpu() && !modes.is_cuda()) return std::nullopt;

  fused_buffers<Scalar> buffers(modes, batch);
  fused::lifted_evaluation evaluation;
  if (modes.is_cpu()) {
    evaluation = fused_lifted_on_cpu(buffers.in, buffers.out, options);
  } else {
#ifdef SCORELIFT_WITH_FUSED_CUDA
    const c10::cuda::CUDAGuard device_guard(modes.device());
    const torch::Tensor scratch = torch::empty({fused::lifted_scratch_doubles(buffers.in.levels)},
                                               modes.options().dtype(torch::kFloat64));
    evaluation = fused::lifted_loss_on_cuda<Scalar>(buffers.in, buffers.out, options,
                                                    c10::cuda::getCurrentCUDAStream(modes.device().index()).stream(),
                                                    scratch.data_ptr<double>());
#endif
  }
  if (!evaluation.finite) return std::nullopt;
  return buffers.result(std::move(evaluation));
}

}  // namespace scorelift::torch_ext::detail

// scorelift/thrust/fused_lifted_loss.hpp — lifted_residual_loss on the Thrust backend through the
// fused two-pass kernels (scorelift/cuda/lifted_kernels.cuh) instead of the generic per-level
// contractions: same inputs, same result, same checks, (L+1) fewer passes over memory per level.
// `exec` picks where the passes run; its memory must be where the batch lives: thrust::device (the
// default), or e.g. thrust::omp::par over the CPP device system's host memory for OpenMP threads.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "scorelift/backends/thrust.hpp"
#include "scorelift/cuda/lifted_kernels.cuh"
#include "scorelift/objectives/detail/validate.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift {

template <class Scalar, class Policy = std::decay_t<decltype(thrust::device)>>
objective_result<thrust_backend<Scalar>> fused_lifted_residual_loss(const score_batch<thrust_backend<Scalar>>& batch,
                                                                    const lifted_options& options = {},
                                                                    const Policy& exec = thrust::device) {
  using B = thrust_backend<Scalar>;
  constexpr const char* where = "fused_lifted_residual_loss";
  const detail::batch_extents extents = detail::validate_score_batch(batch, where, 2);
  detail::require(extents.has_target || !options.distance_form, where,
                  "the distance form needs argument 'target' (E‖s‖² is unknown with 'divergence')");
  detail::require(extents.levels <= fused::max_levels, where, "argument 'modes' has ", extents.levels,
                  " entries but the fused kernels handle at most L = ", fused::max_levels,
                  " (use lifted_residual_loss for more)");

  const auto levels = static_cast<std::size_t>(extents.levels);
  fused::lifted_inputs<Scalar> in;
  fused::lifted_outputs<Scalar> out;
  objective_result<B> result;
  in.batch = extents.batch;
  in.dim = extents.dim;
  in.levels = static_cast<int>(extents.levels);
  if (batch.weights) in.weights = B::raw(*batch.weights);
  if (batch.target) {
    in.target = batch.target->data;
    result.grad_target.emplace(extents.batch, extents.dim);
    out.target = result.grad_target->data();
  }
  for (std::size_t l = 0; l < levels; ++l) {
    in.modes[l] = batch.modes[l].data;
    if (!batch.signs.empty()) in.signs[l] = B::raw(batch.signs[l]);
    if (!batch.target) in.divergence[l] = B::raw(batch.divergence[l]);
    result.grad_modes.emplace_back(extents.batch, extents.dim);
    if (!batch.target) result.grad_divergence.emplace_back(static_cast<std::size_t>(extents.batch));
  }
  // Pointers are taken once the vectors are complete (a growing std::vector may copy its elements).
  for (std::size_t l = 0; l < levels; ++l) {
    out.modes[l] = result.grad_modes[l].data();
    if (!batch.target) out.divergence[l] = B::raw(result.grad_divergence[l]);
  }

  fused::lifted_evaluation evaluation = fused::lifted_loss(exec, in, out, options);
  // The inputs were checked above; a non-finite sum here means finite inputs whose squares overflow.
  detail::require(evaluation.finite, where, "the batch statistics overflowed (inputs of magnitude near the largest ",
                  "finite value): rescale the modes and target");
  result.value = evaluation.value;
  result.level_values = std::move(evaluation.level_values);
  result.residual_alignment = std::move(evaluation.residual_alignment);
  return result;
}

}  // namespace scorelift

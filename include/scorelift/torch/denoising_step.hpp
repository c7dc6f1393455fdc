// scorelift/torch/denoising_step.hpp — the gradient of denoising score matching for torch_ext::MLP,
// without autograd.
//
//     J_DSM = ½ (1/B) Σ_b w_b ‖f(x̃_b) − t_b‖²,      t_b = s(x̃_b | x_b) (for x̃ = x + σε: −ε/σ),
//     ∂J/∂f(x̃_b) = (w_b / B) (f(x̃_b) − t_b),
//
// so the loss needs no graph: one forward pass of the MLP that keeps its tape (torch/mlp_tangent_pass.hpp
// with no probes), the closed-form seed above, and the MLP's hand-written reverse pass. That is what
// `mlp_jvp` + an autograd loss + backward() compute (the tests check it against autograd), minus the
// graph: at batch 128 on a small MLP, building and walking the graph is a large part of a DSM step.
#pragma once

#include <torch/torch.h>

#include "scorelift/errors.hpp"
#include "scorelift/torch/mlp.hpp"
#include "scorelift/torch/mlp_tangent.hpp"
#include "scorelift/torch/mlp_tangent_pass.hpp"

namespace scorelift::torch_ext {

/// J_DSM for the network on `noisy` x̃ [B, D] with targets `target` [B, D] and optional per-sample
/// weights `weights` [B] (undefined: w_b = 1); ∂J/∂θ is accumulated into each parameter's .grad (like
/// backward(): zero them first). `c`: the conditioning input, as for MLP::forward. Returns J (0-dim,
/// no graph).
inline torch::Tensor denoising_score_matching_backward(MLP& network, const torch::Tensor& noisy,
                                                       const torch::Tensor& target, const torch::Tensor& weights = {},
                                                       const torch::Tensor& c = {},
                                                       tangent_kernels how = tangent_kernels::automatic) {
  constexpr const char* where = "denoising_score_matching_backward";
  using scorelift::detail::require;
  using scorelift::detail::tensor_description;
  const auto input = detail::network_input(network, noisy, c, where, "noisy");
  const int64_t batch = noisy.size(0);
  const auto& options = network->options();
  require(target.defined() && target.dim() == 2 && target.size(0) == batch && target.size(1) == options.output_dim &&
              target.scalar_type() == noisy.scalar_type() && target.device() == noisy.device(),
          where, "argument 'target' (", tensor_description(target), ") must be [", batch, ", ", options.output_dim,
          "] with the dtype and device of 'noisy' (", tensor_description(noisy), ")");
  require(!weights.defined() || (weights.dim() == 1 && weights.size(0) == batch &&
                                 weights.scalar_type() == noisy.scalar_type() && weights.device() == noisy.device()),
          where, "argument 'weights' (", tensor_description(weights), ") must be [", batch,
          "] with the dtype and device of 'noisy'");

  const detail::mlp_tangent_pass pass(network, input, torch::empty({0, noisy.size(1)}, noisy.options()), 0, how);
  // seed = (w/B)(f − t), J = ½ ⟨seed, f − t⟩.
  torch::NoGradGuard no_graph;
  const auto residual = pass.result().outputs - target;
  auto seed = weights.defined() ? residual * (weights / static_cast<double>(batch)).unsqueeze(1)
                                : residual / static_cast<double>(batch);
  const auto loss = 0.5 * (seed * residual).sum();
  pass.backward(seed, {});
  return loss;
}

}  // namespace scorelift::torch_ext

// scorelift/diffusion/torch/diffusion_loss.hpp — DSM and (residual, asymmetric) LDSE for a diffusion
// model whose L modes predict noise, with per-timestep signs.
//
// Units. The modes are noise predictions ε̂_l(x̃, t) (what a UNet outputs); the score estimate is
// ŝ = −Σ_l κ_l(t) ε̂_l / σ_t. With the Tweedie target s(x̃|x) = −ε/σ and modes f_l = −ε̂_l/σ in score
// units, ⟨s(x̃|x), f_l⟩ = ⟨ε, ε̂_l⟩/σ² and ⟨f_l, f_k⟩ = ⟨ε̂_l, ε̂_k⟩/σ², so the score-unit objective with the
// per-sample weight w'_b = σ_b² w_ε(λ_b) (the paper's eq. 18) is *exactly* the objective on (ε̂, target ε)
// with weight w_ε(λ_b). We pass the latter to the objectives core: no 1/σ² blow-up at small σ.
//   DSM (residual for L > 1):  objectives/residual_score_matching.hpp with target ε; L = 1 is
//                              ½ mean_b w_ε ‖ε̂ − ε‖², the iDDPM "simple" loss (times ½).
//   LDSE (residual, lifted):   objectives/lifted.hpp with target ε and per-sample signs κ_l(t_b). Each
//                              sample has its own timestep (asymmetric, paper eq. 40): the halves' means
//                              carry w_ε(λ_b), so the product of halves weighs a pair by w(λ₁) w(λ₂).
// Signs: one soft sign per (timestep, mode) in a sign_tracker with T noise levels (level = t − 1),
// updated after each loss from the per-sample alignments w_b ⟨r_l, ε̂_l⟩ of this forward pass (the same
// modes the loss saw; Algorithm 1 re-evaluates after the step, which costs a second forward).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/diffusion/torch/schedule_tensors.hpp"
#include "scorelift/diffusion/weighting.hpp"
#include "scorelift/residual/sign_tracker.hpp"
#include "scorelift/torch/objective_functions.hpp"

namespace scorelift::diffusion::torch_ext {

enum class diffusion_objective { dsm, ldse };
enum class epsilon_weighting { uniform, edm };

struct diffusion_loss_options {
  diffusion_objective objective = diffusion_objective::ldse;
  epsilon_weighting weighting = epsilon_weighting::uniform;
  double sigma_data = 0.5;               ///< for the EDM weighting
  scorelift::lifted_options lifted = {};  ///< LDSE variants (distance form, ÷ D²)
  /// Data-parallel training (distributed/): sums the LDSE half sums over the processes (global
  /// statistics), and the per-timestep sign sums and counts before the tracker's update, so every
  /// process keeps the same signs. Empty: this batch is the whole batch.
  scorelift::lifted_sums_reducer reduce_lifted_sums = {};
  std::function<void(level_alignment_sums&)> reduce_sign_sums = {};
};

struct diffusion_loss_result {
  torch::Tensor loss;               ///< 0-dim, differentiable into the modes
  std::vector<double> level_values; ///< per residual level
};

namespace detail {

/// w_ε(λ_b) per sample, or an undefined tensor for the uniform weighting (the core reads "absent" as 1).
inline torch::Tensor epsilon_weights(const noised_batch& batch, const diffusion_loss_options& options) {
  if (options.weighting == epsilon_weighting::uniform) return {};
  return edm_epsilon_weight(batch.log_snr, options.sigma_data);  // (e^{−λ} + σ_d²)/σ_d² per sample
}

/// Per-sample sign levels (t_b − 1) on the host.
inline std::vector<index_t> sign_levels(const noised_batch& batch) {
  const torch::Tensor t = batch.timesteps.to(torch::kCPU).contiguous();
  std::vector<index_t> levels(static_cast<std::size_t>(t.size(0)));
  const int64_t* data = t.data_ptr<int64_t>();
  for (std::size_t b = 0; b < levels.size(); ++b) levels[b] = static_cast<index_t>(data[b] - 1);
  return levels;
}

/// κ_l(t_b) as an [L, B] tensor like `like`.
inline torch::Tensor signs_tensor(const sign_tracker& tracker, const std::vector<index_t>& levels,
                                  const torch::Tensor& like) {
  std::vector<torch::Tensor> rows;
  for (const std::vector<double>& row : tracker.signs_for(levels))
    rows.push_back(torch::tensor(row, torch::kFloat64).to(like.options()));
  return torch::stack(rows);
}

}  // namespace detail

/// The loss for noise-predicting modes [L, B, ...] on a noised batch. `signs` is required for LDSE
/// (a tracker with `modes = L` and `noise_levels = T`) and is updated in place; DSM ignores it.
inline diffusion_loss_result diffusion_loss(const torch::Tensor& epsilon_modes, const noised_batch& batch, sign_tracker* signs,
                                     const diffusion_loss_options& options = {}) {
  constexpr const char* where = "diffusion_loss";
  scorelift::detail::require(epsilon_modes.defined() && epsilon_modes.dim() >= 3 &&
                                 epsilon_modes.sizes().slice(1).equals(batch.epsilon.sizes()),
                             where, "argument 'epsilon_modes' has shape ",
                             scorelift::detail::tensor_shape_string(epsilon_modes), " but [L] + ",
                             scorelift::detail::tensor_shape_string(batch.epsilon), " was expected");
  const int64_t L = epsilon_modes.size(0), B = epsilon_modes.size(1);
  const torch::Tensor modes = epsilon_modes.reshape({L, B, -1});
  const torch::Tensor target = batch.epsilon.reshape({B, -1});
  scorelift::torch_ext::objective_inputs inputs;
  inputs.target = target;
  inputs.weights = detail::epsilon_weights(batch, options);

  if (options.objective == diffusion_objective::dsm) {
    auto out = scorelift::torch_ext::residual_score_matching_loss(modes, inputs);
    return {out.loss, out.level_values};
  }
  scorelift::detail::require(signs != nullptr && signs->modes() == L && signs->noise_levels() >= 1, where,
                             "LDSE needs a sign_tracker with ", L, " modes and one noise level per timestep");
  const std::vector<index_t> levels = detail::sign_levels(batch);
  inputs.signs = detail::signs_tensor(*signs, levels, target);
  auto out = scorelift::torch_ext::lifted_residual_loss(modes, inputs, options.lifted, options.reduce_lifted_sums);

  // The sign tracker's per-sample input w_b ⟨r_l, ε̂_l⟩ of this forward pass, [L, B] (the core on the
  // detached tensors), averaged per timestep by the tracker.
  const torch::Tensor alignment = scorelift::torch_ext::per_sample_residual_alignment(modes, inputs)
                                      .to(torch::kCPU, torch::kFloat64)
                                      .contiguous();
  std::vector<std::vector<double>> per_sample;
  for (int64_t l = 0; l < L; ++l) {
    const double* row = alignment.data_ptr<double>() + l * B;
    per_sample.emplace_back(row, row + B);
  }
  level_alignment_sums sums = signs->level_sums(levels, per_sample);
  if (options.reduce_sign_sums) options.reduce_sign_sums(sums);
  signs->update_from_sums(sums);
  return {out.loss, out.level_values};
}

/// ε̂ = Σ_l κ_l(t_b) ε̂_l for modes [L, B, ...] at timesteps t [B] (κ = +1 everywhere without a tracker or
/// for DSM, whose residual stack is the plain sum).
inline torch::Tensor combine_modes(const torch::Tensor& epsilon_modes, const torch::Tensor& timesteps,
                                   const sign_tracker* signs) {
  if (signs == nullptr) return epsilon_modes.sum(0);
  const int64_t L = epsilon_modes.size(0), B = epsilon_modes.size(1);
  noised_batch shim;
  shim.timesteps = timesteps;
  const torch::Tensor kappa = detail::signs_tensor(*signs, detail::sign_levels(shim), epsilon_modes.reshape({L, B, -1}));
  std::vector<int64_t> shape(static_cast<std::size_t>(epsilon_modes.dim()), 1);
  shape[0] = L;
  shape[1] = B;
  return (kappa.reshape(shape) * epsilon_modes).sum(0);
}

}  // namespace scorelift::diffusion::torch_ext

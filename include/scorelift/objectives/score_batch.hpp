// scorelift/objectives/score_batch.hpp — what a model produced on one batch, and what every
// objective returns: its value and its gradients with respect to those tensors, in closed form.
//
// Notation (docs/DESIGN.md): batch of B samples, L modes f_l(x_b) in R^D, signs κ_{l,b}.
// ⟨s, f_l⟩ is estimated either from a target t_b (Tweedie: t_b = s(x̃_b | x_b) = −ε_b/σ_b) or from a
// divergence term (−tr ∇f_l(x_b), exact or Hutchinson); the two are mutually exclusive.
#pragma once

#include <optional>
#include <vector>

#include "scorelift/concepts.hpp"

namespace scorelift {

/// An aggregate: fill it with designated initializers, e.g. `{.modes = {f}, .target = t}` (every
/// member has a default, so the ones left out are empty).
template <Backend B>
struct score_batch {
  using matrix_view = typename B::matrix_view;
  using vector_type = typename B::vector_type;

  /// L entries, each B×D: mode l evaluated on the batch (unsigned: the objective applies κ).
  std::vector<matrix_view> modes{};
  /// B×D target t_b with E[t | x̃] = s(x̃) (DSM / LDSE). Empty when `divergence` is used.
  std::optional<matrix_view> target{};
  /// L entries, each of length B: tr ∇ₓ f_l(x_b) exactly (ISM) or its Hutchinson estimate averaged
  /// over the M probes of sample b (SSM-VR, LSE). Empty when `target` is used.
  std::vector<vector_type> divergence{};
  /// Per-sample weights w_b (asymmetric LDSE, weighted DSM); empty means 1.
  std::optional<vector_type> weights{};
  /// L entries of length B with values ±1: κ_{l,b} (global signs broadcast, or one per noise
  /// level indexed per sample). Empty means κ = +1 everywhere.
  std::vector<vector_type> signs{};
};

template <Backend B>
struct objective_result {
  using matrix_type = typename B::matrix_type;
  using vector_type = typename B::vector_type;

  /// The loss: the mean over levels of the per-level objectives.
  double value = 0.0;
  /// L_l for each level (value = mean of these).
  std::vector<double> level_values;
  /// ∂value/∂f_l, each B×D (semi-gradient: earlier levels held constant inside L_l).
  std::vector<matrix_type> grad_modes;
  /// ∂value/∂t when a target was given.
  std::optional<matrix_type> grad_target;
  /// ∂value/∂divergence_l when divergence terms were given.
  std::vector<vector_type> grad_divergence;
  /// mean_b w_b ⟨r_l(x_b), f_l(x_b)⟩ over the whole batch, per level: the sign tracker's input.
  std::vector<double> residual_alignment;
};

}  // namespace scorelift

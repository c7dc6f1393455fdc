// scorelift/objectives/lifted.hpp — lifted residual score estimation: LSE, LDSE (symmetric and
// asymmetric), their residual stacks, and the distance form. Value and input-gradients in one pass.
//
// Lifted objective (docs/DESIGN.md): minimise E‖s(x₁)s(x₂)ᵀ − f(x₁)f(x₂)ᵀ‖²_F over independent
// x₁, x₂: half of it is, up to a constant,  −(E[sᵀf])² + ½ (E‖f‖²)².  A squared expectation is estimated
// without bias as the product of the means of two independent halves of the batch:
//     A = rows [0, ⌊B/2⌋),  B-half = rows [⌊B/2⌋, B)   (odd B: the halves differ by one sample and
//     each uses its own mean, so both factors stay unbiased; B < 2 is rejected).
//
// Residual level l (modes f_l, signs κ_{l,b}, f̃_{b,l} = κ_{l,b} f_{b,l}, weights w_b), per half h:
//     a_h[l]   = mean_{b∈h} w_b ⟨t_b, f̃_{b,l}⟩          (target: LDSE, Tweedie t = −ε/σ)
//              = −mean_{b∈h} w_b κ_{l,b} div_{b,l}       (divergence: LSE, exact or Hutchinson trace)
//     G_h[l,k] = mean_{b∈h} w_b ⟨f̃_{b,l}, f̃_{b,k}⟩
//     c_h[l]   = a_h[l] − Σ_{i<l} G_h[l,i]               ( = mean_{b∈h} w_b ⟨r_{b,l}, f̃_{b,l}⟩ )
//     L_l      = −c_A[l] c_B[l] + ½ G_A[l,l] G_B[l,l]
//                (+ ½ E_A[w‖t‖²] E_B[w‖t‖²] in the distance form; all of L_l ÷ D² if asked)
//     value    = mean_l L_l.
// Semi-gradient (Algorithm 1, "as if earlier levels were perfect"): inside L_l the earlier modes
// f̃_i, i < l, are constants, so ∂L_l flows into f_l, t and div_l only. With ρ_l = [t] − Σ_{i<l} f̃_i
// (see detail/running_residual.hpp) and "other" the half a sample is not in:
//     ∂L_l/∂f_{b,l}  = w_b κ_{l,b} / n_own · ( −c_other ρ_{b,l} + G_other[l,l] κ_{l,b} f_{b,l} )
//     ∂L_l/∂t_b      = −w_b κ_{l,b} c_other / n_own · f_{b,l}    (+ w_b T_other t_b / n_own, distance)
//     ∂L_l/∂div_{b,l} = w_b κ_{l,b} c_other / n_own
// The gradients are written for general κ (not only ±1), so they stay exact for soft signs.
//
// Asymmetric LDSE (diffusion): each sample carries its own noise level, target and weight. The EDM
// weighting w(λ₁)w(λ₂) on the product factorises: mean_{a∈A, b∈B} w_a w_b ⟨t_a,f_a⟩⟨t_b,f_b⟩ =
// (mean_A w⟨t,f⟩)(mean_B w⟨t,f⟩), so per-sample weights inside each half's mean are exactly it.
//
// Distance form: adding the constant ½ E_A[w‖t‖²] E_B[w‖t‖²] makes L_1 the (non-negative) lifted
// distance ½ E‖t₁t₂ᵀ − f̃₁f̃₂ᵀ‖²_F; for l > 1 it is that distance up to a term constant in f_l. The
// term depends on t, so it does change grad_target. Dividing by D² puts the value on a per-entry
// scale of the D×D lifted matrices (the gradients are divided likewise).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/detail/running_residual.hpp"
#include "scorelift/objectives/detail/validate.hpp"
#include "scorelift/objectives/lifted_sums.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift {

struct lifted_options {
  /// Add ½ E_A[w‖t‖²] E_B[w‖t‖²] (needs a target): L_1 becomes the lifted distance itself.
  bool distance_form = false;
  /// Divide every L_l (and the gradients) by D².
  bool divide_by_dim_squared = false;
};

/// Lifted residual loss (LSE with `divergence`, LDSE with `target`), value and input-gradients.
/// With `reduce`, the batch is one shard of a data-parallel batch: the half sums are summed over the
/// shards before the products are formed (lifted_sums.hpp), and the value, the gradients (of the global
/// loss with respect to this shard's inputs) and the alignments are those of the whole batch.
template <Backend B>
objective_result<B> lifted_residual_loss(const score_batch<B>& batch, const lifted_options& options = {},
                                         const lifted_sums_reducer& reduce = {}) {
  constexpr const char* where = "lifted_residual_loss";
  const detail::batch_extents extents = detail::validate_score_batch(batch, where, 2);
  detail::require(extents.has_target || !options.distance_form, where,
                  "the distance form needs argument 'target' (E‖s‖² is unknown with 'divergence')");
  using matrix_view = typename B::matrix_view;
  using vector_type = typename B::vector_type;
  using half = lifted_sums::half;

  const index_t n = extents.batch;
  const index_t n_a = n / 2;
  const matrix_view like = batch.modes.front();
  const auto levels = static_cast<std::size_t>(extents.levels);
  const vector_type weights = detail::weights_or_ones(batch, n);
  // Adds Σ_{b∈A} v_b and Σ_{b∈B} v_b of a per-sample vector to the two halves' entries.
  const auto add_half_sums = [&](const vector_type& per_sample, double& sum_a, double& sum_b) {
    sum_a += B::sum(per_sample, 0, n_a);
    sum_b += B::sum(per_sample, n_a, n);
  };

  // Pass 1: the sums (and w κ, w κ² per level, which pass 2 reuses).
  lifted_sums sums(levels);
  sums.count(half::a) = static_cast<double>(n_a);
  sums.count(half::b) = static_cast<double>(n - n_a);
  if (options.distance_form)
    add_half_sums(B::multiply(weights, B::row_dot(*batch.target, *batch.target)), sums.target_energy(half::a),
                  sums.target_energy(half::b));
  std::vector<vector_type> weight_kappa, weight_kappa2;
  weight_kappa.reserve(levels);
  weight_kappa2.reserve(levels);
  {
    detail::running_residual<B> rho(batch);
    for (std::size_t l = 0; l < levels; ++l) {
      const matrix_view f = batch.modes[l];
      const vector_type kappa = detail::signs_or_ones(batch, l, n);
      // α_b = w_b ⟨r_b, f_b⟩ (unsigned f: the sign tracker's input); κα is c's per-sample term.
      const vector_type alignment = rho.alignment(l, weights);
      sums.unsigned_alignment(l) = B::sum(alignment, 0, n);
      add_half_sums(B::multiply(kappa, alignment), sums.alignment(l, half::a), sums.alignment(l, half::b));
      weight_kappa.push_back(B::multiply(weights, kappa));
      weight_kappa2.push_back(B::multiply(weight_kappa.back(), kappa));
      add_half_sums(B::multiply(weight_kappa2.back(), B::row_dot(f, f)), sums.energy(l, half::a),
                    sums.energy(l, half::b));
      if (l + 1 < levels) rho.subtract(kappa, l);
    }
  }
  sums.reduce_with(reduce, where);

  // Pass 2: the value from the (global) means, the gradients from the other half's mean.
  const double size_a = sums.count(half::a), size_b = sums.count(half::b);
  const double dim_scale = options.divide_by_dim_squared ? 1.0 / static_cast<double>(extents.dim * extents.dim) : 1.0;
  const double scale = dim_scale / static_cast<double>(extents.levels);  // ∂value/∂L_l
  // [b] = y_other / n_own: each half's gradient carries the *other* half's statistic.
  const auto other_over_own = [&](double y_a, double y_b) {
    return B::split_filled(n, n_a, y_b / size_a, y_a / size_b, like);
  };

  objective_result<B> result;
  result.level_values.reserve(levels);
  result.grad_modes.reserve(levels);
  result.residual_alignment.reserve(levels);

  // Distance term ½ T_A T_B with T_h = mean_h w‖t‖²; it appears in every L_l, hence ×L·scale.
  double distance_term = 0.0;
  if (options.distance_form) {
    const double t_a = sums.mean(sums.target_energy(half::a), half::a);
    const double t_b = sums.mean(sums.target_energy(half::b), half::b);
    distance_term = 0.5 * t_a * t_b;
    const double total = scale * static_cast<double>(extents.levels);
    result.grad_target = B::scaled_rows(B::multiply(weights, other_over_own(total * t_a, total * t_b)), *batch.target);
  }

  detail::running_residual<B> rho(batch);
  for (std::size_t l = 0; l < levels; ++l) {
    const matrix_view f = batch.modes[l];
    result.residual_alignment.push_back(sums.unsigned_alignment(l) / (size_a + size_b));
    const double c_a = sums.mean(sums.alignment(l, half::a), half::a);
    const double c_b = sums.mean(sums.alignment(l, half::b), half::b);
    const double g_a = sums.mean(sums.energy(l, half::a), half::a);  // G_h[l,l] = mean_h w κ² ‖f‖²
    const double g_b = sums.mean(sums.energy(l, half::b), half::b);

    const double level_value = dim_scale * (-c_a * c_b + 0.5 * g_a * g_b + distance_term);
    result.level_values.push_back(level_value);
    result.value += level_value / static_cast<double>(extents.levels);

    // u_b = scale · w_b κ_b · (−c_other / n_own): the coefficient of ρ in ∂/∂f, of f in ∂/∂t,
    // and minus ∂/∂div.
    const vector_type u = B::multiply(weight_kappa[l], other_over_own(-scale * c_a, -scale * c_b));
    typename B::matrix_type grad = B::scaled_rows(B::multiply(weight_kappa2[l], other_over_own(scale * g_a, scale * g_b)), f);
    if (!rho.is_zero()) B::add_scaled_rows(grad, u, rho.view());
    result.grad_modes.push_back(std::move(grad));
    if (batch.target) {
      detail::accumulate_scaled_rows<B>(result.grad_target, u, f);
    } else {
      result.grad_divergence.push_back(B::axpby(-1.0, u, 0.0, u));
    }
    if (l + 1 < levels) rho.subtract(detail::signs_or_ones(batch, l, n), l);
  }
  detail::require_finite_result(result, where);
  return result;
}

/// Per-sample residual alignments α_{b,l} = w_b ⟨r_l(x_b), f_l(x_b)⟩ (unsigned f_l, r_l with the
/// batch's signs; ⟨s, f_l⟩ from the target or −div), one vector of length B per level. Their batch
/// mean is `objective_result::residual_alignment`; the per-noise-level sign tracker needs them per
/// sample. Costs one extra pass over the modes (lifted_residual_loss computes them internally).
template <Backend B>
std::vector<typename B::vector_type> per_sample_residual_alignment(const score_batch<B>& batch) {
  const detail::batch_extents extents = detail::validate_score_batch(batch, "per_sample_residual_alignment");
  const auto weights = detail::weights_or_ones(batch, extents.batch);
  const auto levels = static_cast<std::size_t>(extents.levels);
  std::vector<typename B::vector_type> alignments;
  alignments.reserve(levels);
  detail::running_residual<B> rho(batch);
  for (std::size_t l = 0; l < levels; ++l) {
    alignments.push_back(rho.alignment(l, weights));
    if (l + 1 < levels) rho.subtract(detail::signs_or_ones(batch, l, extents.batch), l);
  }
  return alignments;
}

}  // namespace scorelift

// scorelift/objectives/residual_score_matching.hpp — non-lifted residual score matching: ISM,
// SSM-VR and DSM at L = 1, and their residual stacks (Appendix C of the paper) for L > 1.
//
// Level l fits the residual r_l = s − Σ_{i<l} f_i with the earlier levels detached (semi-gradient):
//     L_l = mean_b w_b [ ½‖f_{b,l}‖² − ⟨r_{b,l}, f_{b,l}⟩ ]   (= ½ E w‖f_l − r_l‖² − ½ E w‖r_l‖²),
// with ⟨s, f_l⟩ estimated as ⟨t, f_l⟩ from a target or as −tr ∇f_l from a divergence term:
//   * divergence, exact trace, L = 1:       ISM    E[tr ∇f + ½‖f‖²];
//   * divergence, Hutchinson trace, L = 1:  SSM-VR (½‖f‖² exact, only the trace sliced);
//   * target t = −ε/σ, L = 1:               DSM.
// Value convention with a target: the constant ½ mean_b w_b‖r_{b,l}‖² (r_l = t − Σ_{i<l} f_i) is
// added, so L_l = ½ mean_b w_b ‖f_{b,l} − r_{b,l}‖² and at L = 1 the value is exactly the usual
// DSM ½ E‖f − t‖². It is computed from f − r directly, which is also the accurate form when f ≈ r.
// The constant carries no f-gradient but does enter ∂/∂t. With divergence terms no such
// constant is known and the value is the ISM-type form above.
//
// Signs: the residual stack in the original space is sign-free (r_{l+1} = r_l − f_l), so any
// `signs` in the batch are ignored here (they are still validated).
//
// Gradients, with ρ_l = [t] − Σ_{i<l} f_i and value = mean_l L_l:
//     ∂L_l/∂f_{b,l} = w_b/B (f_{b,l} − ρ_{b,l}),  ∂L_l/∂t_b = −∂L_l/∂f_{b,l},  ∂L_l/∂div_{b,l} = w_b/B.
#pragma once

#include <cstddef>

#include "scorelift/concepts.hpp"
#include "scorelift/objectives/detail/running_residual.hpp"
#include "scorelift/objectives/detail/validate.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift {

/// Residual ISM / SSM-VR / DSM (see above), value and input-gradients.
template <Backend B>
objective_result<B> residual_score_matching_loss(const score_batch<B>& batch) {
  constexpr const char* where = "residual_score_matching_loss";
  const detail::batch_extents extents = detail::validate_score_batch(batch, where);
  using matrix_view = typename B::matrix_view;
  using vector_type = typename B::vector_type;

  const index_t n = extents.batch;
  const auto levels = static_cast<std::size_t>(extents.levels);
  const auto batch_mean = [n](const vector_type& per_sample) {
    return B::sum(per_sample, 0, n) / static_cast<double>(n);
  };
  const vector_type weights = detail::weights_or_ones(batch, n);
  const vector_type ones = B::filled(n, 1.0, batch.modes.front());
  // coefficient_b = ∂value/∂(½‖f_b − ρ_b‖²) = w_b / (B L).
  const vector_type coefficient = B::axpby(1.0 / static_cast<double>(n * extents.levels), weights, 0.0, weights);
  const vector_type minus_coefficient = B::axpby(-1.0, coefficient, 0.0, coefficient);

  objective_result<B> result;
  result.level_values.reserve(levels);
  result.grad_modes.reserve(levels);
  result.residual_alignment.reserve(levels);

  detail::running_residual<B> rho(batch);
  for (std::size_t l = 0; l < levels; ++l) {
    const matrix_view f = batch.modes[l];
    const vector_type alignment = rho.alignment(l, weights);  // w ⟨r_l, f_l⟩
    result.residual_alignment.push_back(batch_mean(alignment));

    // difference = f_l − ρ_l: the gradient direction, and with a target the value itself.
    typename B::matrix_type difference = B::scaled_rows(ones, f);
    if (!rho.is_zero()) B::add_scaled_rows(difference, B::axpby(-1.0, ones, 0.0, ones), rho.view());
    const double level_value =
        batch.target ? 0.5 * batch_mean(B::multiply(weights, B::row_dot(difference, difference)))
                     : 0.5 * batch_mean(B::multiply(weights, B::row_dot(f, f))) - batch_mean(alignment);
    result.level_values.push_back(level_value);
    result.value += level_value / static_cast<double>(extents.levels);

    if (batch.target) {
      detail::accumulate_scaled_rows<B>(result.grad_target, minus_coefficient, difference);
    } else {
      result.grad_divergence.push_back(coefficient);
    }
    result.grad_modes.push_back(B::scaled_rows(coefficient, difference));
    if (l + 1 < levels) rho.subtract(ones, l);
  }
  detail::require_finite_result(result, where);
  return result;
}

}  // namespace scorelift

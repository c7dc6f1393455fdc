// scorelift/analysis/score_matching_minimiser.hpp — ISM, SSM-VR and DSM of a linear model f = W φ:
// quadratic in W, so their exact empirical minimiser is one regularised linear solve.
//
// With the pooled moments C = mean φφᵀ, P = mean q, e (score_moments.hpp) and a ridge λ ≥ 0 added to
// the energy term (C → C + λI, i.e. + ½λ‖W‖²_F),
//     J(W)   = ½ tr(W (C + λI) Wᵀ) − tr(W P) + e
//            = ISM  mean[tr ∇f + ½‖f‖²]          (q = −∇φ,  e = 0)
//            = SSM-VR with the sliced trace        (q = −∇φ v vᵀ averaged over probes, e = 0)
//            = DSM  ½ mean‖f − t‖²                 (q = φ tᵀ,  e = ½ mean‖t‖²)
//            and, with an earlier estimate F, the level of a residual stack (r = s − F).
//     ∇_W J  = W (C + λI) − Pᵀ                     (d tr(W A Wᵀ) = 2 W A for symmetric A; d tr(W P) = Pᵀ)
// The normal equations ∇J = 0 give  W* = Pᵀ (C + λI)⁻¹,  i.e. (C + λI) W*ᵀ = P, solved by Cholesky; J is
// convex (Hessian (C + λI) ⊗ I_D), so W* is its minimum, with J(W*) = e − ½ tr(W* P).
//
// Population check (tests): φ = (x, 1) on N(μ, Σ): C = E[φφᵀ], P = −E[∇φ] = −[I; 0] and W* φ(x) =
// −Σ⁻¹(x − μ), the true score — the family contains it, and J is ½E‖f − s‖² up to a constant.
#pragma once

#include <Eigen/Core>

#include "scorelift/analysis/score_moments.hpp"

namespace scorelift::analysis {

/// J(W) above on the pooled moments; with λ = 0 it equals residual_score_matching_loss of the model.
inline double score_matching_value(const score_moments& m, const Eigen::MatrixXd& weights, double ridge = 0.0) {
  constexpr const char* where = "analysis::score_matching_value";
  detail::require_model_weights(m, weights, where);
  detail::require_ridge(ridge, where);
  const half_moments h = m.pooled();
  return 0.5 * ((weights * h.gram).cwiseProduct(weights).sum() + ridge * weights.squaredNorm()) -
         weights.cwiseProduct(h.cross.transpose()).sum() + h.residual_energy;
}

/// ∇_W J = W (C + λI) − Pᵀ (D×K).
inline Eigen::MatrixXd score_matching_gradient(const score_moments& m, const Eigen::MatrixXd& weights,
                                               double ridge = 0.0) {
  constexpr const char* where = "analysis::score_matching_gradient";
  detail::require_model_weights(m, weights, where);
  detail::require_ridge(ridge, where);
  const half_moments h = m.pooled();
  return weights * h.gram + ridge * weights - h.cross.transpose();
}

/// W* = Pᵀ (C + λI)⁻¹ (D×K), the exact minimiser; refused when C + λI is not positive definite.
inline Eigen::MatrixXd score_matching_minimiser(const score_moments& m, double ridge = 0.0) {
  constexpr const char* where = "analysis::score_matching_minimiser";
  detail::require_ridge(ridge, where);
  const half_moments h = m.pooled();
  return detail::regularised_gram(h, ridge, where, "the whole batch").solve(h.cross).transpose();
}

}  // namespace scorelift::analysis

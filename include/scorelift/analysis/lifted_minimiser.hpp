// scorelift/analysis/lifted_minimiser.hpp — LSE / LDSE of a linear model f = W φ: the product of
// halves is quartic in W; its stationary conditions, their solution, and the ± sign.
//
// With the moments of the two halves (score_moments.hpp), Q_h = P_hᵀ (D×K) and C̄_h = C_h + λI:
//     c_h(W) = tr(W P_h) = ⟨W, Q_h⟩       (mean_h ⟨r, f⟩: the target, −tr ∇f or the sliced trace)
//     g_h(W) = tr(W C̄_h Wᵀ) = ⟨W, W C̄_h⟩  (mean_h ‖f‖², plus λ‖W‖²)
//     L(W)   = −c_A c_B + ½ g_A g_B                          (lifted.hpp at λ = 0, one level, κ = +1)
//     ∇L     = −c_B Q_A − c_A Q_B + g_B W C̄_A + g_A W C̄_B
//     ∇²L[V] = −⟨V,Q_B⟩Q_A − ⟨V,Q_A⟩Q_B + 2⟨V,W C̄_B⟩W C̄_A + 2⟨V,W C̄_A⟩W C̄_B + V (g_B C̄_A + g_A C̄_B),
// i.e. on vec(W) (column-major): H = (g_B C̄_A + g_A C̄_B) ⊗ I_D + 2(u_A u_Bᵀ + u_B u_Aᵀ) − (q_A q_Bᵀ + q_B q_Aᵀ)
// with u_h = vec(W C̄_h), q_h = vec(Q_h).
//
// Closed form when the halves agree (C_A = C_B = C, P_A = P_B = P: the population, or the plug-in
// objective on one set of moments). With W_SM = Pᵀ C̄⁻¹ (score_matching_minimiser.hpp), Q = W_SM C̄, so
// c = ⟨W, W_SM⟩_C̄ and g = ‖W‖²_C̄ in the C̄-inner product ⟨U, V⟩_C̄ = tr(U C̄ Vᵀ). Cauchy–Schwarz gives
// c² ≤ g m with m = ‖W_SM‖²_C̄ = tr(Pᵀ C̄⁻¹ P), hence L = −c² + ½g² ≥ −gm + ½g² ≥ −½m², with equality iff
// W ∥ W_SM and g = m:  the minimisers are exactly W = ±W_SM, value −½m². The population LSE minimiser of a
// linear model is ± the SM minimiser (and ± the true score when the family contains it).
//
// The halves of a finite batch differ, and then the stationary condition
//     W (g_B C̄_A + g_A C̄_B) = c_B Q_A + c_A Q_B
// is linear in W given four scalars that depend on W: no closed form. It is solved by Newton's method
// with a backtracking line search (H shifted by μI until Cholesky succeeds, so every step descends),
// started from the closed forms W_SM of the pooled batch and of each half, each scaled to the best point
// of its ray (L(αU) = −α²c_Ac_B + ½α⁴g_Ag_B is least at α² = c_Ac_B/(g_Ag_B) when c_Ac_B > 0); the lowest
// converged point wins. C̄_A, C̄_B must be positive definite (then L grows like ‖W‖⁴ and has a minimum).
//
// Sign: L(−W) = L(W). The reported W is the one with a positive alignment: by default the pooled
// tr(W P) — the batch estimate of E⟨r, f⟩, the sign tracker's statistic (sign_tracker.hpp) — or, with a
// `sign_reference` R, ⟨W, R⟩_F (alignment with a known or earlier solution). `flipped` says whether the
// Newton point was negated.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "scorelift/analysis/score_matching_minimiser.hpp"
#include "scorelift/analysis/score_moments.hpp"

namespace scorelift::analysis {

struct lifted_minimiser_options {
  double ridge = 0.0;
  /// Stop when ‖∇L‖_F ≤ tolerance · ‖c_B Q_A + c_A Q_B‖_F (the size of either part of the balance).
  double tolerance = 1e-11;
  int max_iterations = 100;
  /// Choose the sign by ⟨W, R⟩_F instead of by the data's alignment tr(W P).
  std::optional<Eigen::MatrixXd> sign_reference{};
};

struct lifted_solution {
  Eigen::MatrixXd weights;    ///< D×K, sign chosen as documented
  double value = 0.0;         ///< L(W)
  double gradient_norm = 0.0; ///< ‖∇L(W)‖_F
  double alignment = 0.0;     ///< tr(W P) of the pooled batch after the sign choice
  int iterations = 0;         ///< Newton steps of the winning start
  bool converged = false;
  bool flipped = false;
};

namespace detail {

struct lifted_terms {
  double c_a, c_b, g_a, g_b;
};

inline lifted_terms lifted_statistics(const score_moments& m, const Eigen::MatrixXd& w, double ridge) {
  const auto energy = [&](const half_moments& h) { return (w * h.gram).cwiseProduct(w).sum() + ridge * w.squaredNorm(); };
  return {w.cwiseProduct(m.a.cross.transpose()).sum(), w.cwiseProduct(m.b.cross.transpose()).sum(), energy(m.a),
          energy(m.b)};
}

inline double lifted_value_of(const lifted_terms& t) { return -t.c_a * t.c_b + 0.5 * t.g_a * t.g_b; }

inline Eigen::MatrixXd lifted_gradient_of(const score_moments& m, const Eigen::MatrixXd& w, double ridge,
                                          const lifted_terms& t) {
  const index_t k = m.features();
  const Eigen::MatrixXd mixed = t.g_b * m.a.gram + t.g_a * m.b.gram + (t.g_a + t.g_b) * ridge * Eigen::MatrixXd::Identity(k, k);
  return w * mixed - t.c_b * m.a.cross.transpose() - t.c_a * m.b.cross.transpose();
}

}  // namespace detail

/// L(W) = −c_A c_B + ½ g_A g_B.
inline double lifted_value(const score_moments& m, const Eigen::MatrixXd& weights, double ridge = 0.0) {
  detail::require_model_weights(m, weights, "analysis::lifted_value");
  detail::require_ridge(ridge, "analysis::lifted_value");
  return detail::lifted_value_of(detail::lifted_statistics(m, weights, ridge));
}

/// ∇_W L (D×K).
inline Eigen::MatrixXd lifted_gradient(const score_moments& m, const Eigen::MatrixXd& weights, double ridge = 0.0) {
  detail::require_model_weights(m, weights, "analysis::lifted_gradient");
  detail::require_ridge(ridge, "analysis::lifted_gradient");
  return detail::lifted_gradient_of(m, weights, ridge, detail::lifted_statistics(m, weights, ridge));
}

/// ∇²_W L on column-major vec(W): a DK×DK symmetric matrix.
inline Eigen::MatrixXd lifted_hessian(const score_moments& m, const Eigen::MatrixXd& weights, double ridge = 0.0) {
  detail::require_model_weights(m, weights, "analysis::lifted_hessian");
  detail::require_ridge(ridge, "analysis::lifted_hessian");
  const index_t d = m.dim(), k = m.features();
  const detail::lifted_terms t = detail::lifted_statistics(m, weights, ridge);
  const Eigen::MatrixXd id = Eigen::MatrixXd::Identity(k, k);
  const Eigen::MatrixXd gram_a = m.a.gram + ridge * id, gram_b = m.b.gram + ridge * id;
  const Eigen::MatrixXd mixed = t.g_b * gram_a + t.g_a * gram_b;
  Eigen::MatrixXd h = Eigen::MatrixXd::Zero(d * k, d * k);
  for (index_t i = 0; i < k; ++i)  // (M ⊗ I_D): vec(V M)_{(d,i)} = Σ_j M(j, i) V(d, j)
    for (index_t j = 0; j < k; ++j) h.block(i * d, j * d, d, d).diagonal().setConstant(mixed(i, j));
  const Eigen::MatrixXd ua = weights * gram_a, ub = weights * gram_b;
  const Eigen::MatrixXd qa = m.a.cross.transpose(), qb = m.b.cross.transpose();
  const auto vec = [](const Eigen::MatrixXd& x) { return Eigen::Map<const Eigen::VectorXd>(x.data(), x.size()); };
  h += 2.0 * (vec(ua) * vec(ub).transpose() + vec(ub) * vec(ua).transpose());
  h -= vec(qa) * vec(qb).transpose() + vec(qb) * vec(qa).transpose();
  return h;
}

/// The minimiser of L (see above): Newton from the closed forms, the sign chosen by alignment.
inline lifted_solution lifted_minimiser(const score_moments& m, const lifted_minimiser_options& options = {}) {
  constexpr const char* where = "analysis::lifted_minimiser";
  detail::require_ridge(options.ridge, where);
  scorelift::detail::require(options.tolerance > 0.0 && options.max_iterations >= 1, where, "options 'tolerance' = ",
                             options.tolerance, " and 'max_iterations' = ", options.max_iterations, " must be > 0");
  if (options.sign_reference) detail::require_model_weights(m, *options.sign_reference, where);
  const double ridge = options.ridge;

  // Starting points: W_SM of the pooled batch and of each half, each moved to the optimum of its ray.
  std::vector<Eigen::MatrixXd> starts;
  const auto add_start = [&](const half_moments& h, const char* which) {
    const Eigen::MatrixXd u = detail::regularised_gram(h, ridge, where, which).solve(h.cross).transpose();
    const detail::lifted_terms t = detail::lifted_statistics(m, u, ridge);
    if (t.c_a * t.c_b > 0.0 && t.g_a * t.g_b > 0.0) starts.push_back(std::sqrt(std::sqrt(t.c_a * t.c_b / (t.g_a * t.g_b))) * u);
  };
  add_start(m.pooled(), "the whole batch");
  add_start(m.a, "half A");
  add_start(m.b, "half B");
  scorelift::detail::require(!starts.empty(), where,
                             "no starting point has c_A c_B > 0: the halves' estimates of E⟨s, f⟩ disagree in sign "
                             "along every closed-form direction (P is zero or the batch is too small)");

  lifted_solution best;
  best.value = std::numeric_limits<double>::infinity();
  for (Eigen::MatrixXd w : starts) {
    lifted_solution run;
    detail::lifted_terms t = detail::lifted_statistics(m, w, ridge);
    double value = detail::lifted_value_of(t);
    for (run.iterations = 0;; ++run.iterations) {
      const Eigen::MatrixXd grad = detail::lifted_gradient_of(m, w, ridge, t);
      const double scale = (t.c_b * m.a.cross + t.c_a * m.b.cross).norm();
      run.gradient_norm = grad.norm();
      if (run.gradient_norm <= options.tolerance * scale) {
        run.converged = true;
        break;
      }
      if (run.iterations == options.max_iterations) break;
      // Newton direction with H + μI positive definite.
      const Eigen::MatrixXd hessian = lifted_hessian(m, w, ridge);
      const Eigen::VectorXd g = Eigen::Map<const Eigen::VectorXd>(grad.data(), grad.size());
      double shift = 0.0;
      Eigen::LLT<Eigen::MatrixXd> llt(hessian);
      while (llt.info() != Eigen::Success) {
        shift = shift == 0.0 ? 1e-10 * std::max(1.0, hessian.diagonal().cwiseAbs().maxCoeff()) : 4.0 * shift;
        llt.compute(hessian + shift * Eigen::MatrixXd::Identity(hessian.rows(), hessian.cols()));
      }
      const Eigen::VectorXd step = -llt.solve(g);
      const Eigen::MatrixXd direction = Eigen::Map<const Eigen::MatrixXd>(step.data(), w.rows(), w.cols());
      // Backtracking (Armijo): accept the first t with L(w + t·dir) ≤ L(w) + 1e-4 t gᵀdir.
      const double slope = g.dot(step);
      bool moved = false;
      for (double step_size = 1.0; step_size > 1e-12; step_size *= 0.5) {
        const Eigen::MatrixXd trial = w + step_size * direction;
        const detail::lifted_terms trial_terms = detail::lifted_statistics(m, trial, ridge);
        const double trial_value = detail::lifted_value_of(trial_terms);
        if (trial_value <= value + 1e-4 * step_size * slope) {
          w = trial;
          t = trial_terms;
          value = trial_value;
          moved = true;
          break;
        }
      }
      if (!moved) break;  // at the resolution of double: report the point and its gradient as they are
    }
    if (value < best.value) {
      run.weights = w;
      run.value = value;
      best = run;
    }
  }
  const double alignment = options.sign_reference ? best.weights.cwiseProduct(*options.sign_reference).sum()
                                                  : best.weights.cwiseProduct(m.pooled().cross.transpose()).sum();
  best.flipped = alignment < 0.0;
  if (best.flipped) best.weights = -best.weights;
  best.alignment = best.weights.cwiseProduct(m.pooled().cross.transpose()).sum();
  return best;
}

}  // namespace scorelift::analysis

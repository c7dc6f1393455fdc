// scorelift/analysis/score_moments.hpp — the batch moments that make every objective of a linear
// model f = W φ an explicit polynomial in W.
//
// The objectives (docs/DESIGN.md) see f only through ⟨r, f⟩ and ‖f‖² per sample, where r is the score
// (level 1) or the residual r = s − F of the earlier levels' estimate F. For f_b = W φ_b:
//     ‖f_b‖²     = tr(W φ_b φ_bᵀ Wᵀ)
//     ⟨r_b, f_b⟩ = tr(W φ_b r_bᵀ), estimated per sample by tr(W q_b) with q_b ∈ R^{K×D}:
//         exact trace (ISM, LSE):   q_b = −∇φ(x_b) − φ_b F_bᵀ      (⟨s, f⟩ = −tr ∇f, integration by parts)
//         sliced trace (SSM-VR):    q_b = −(1/M) Σ_m ∇φ(x_b) v_m v_mᵀ − φ_b F_bᵀ   (vᵀ∇f v = tr(W ∇φ v vᵀ))
//         target t (DSM, LDSE):     q_b = φ_b (t_b − F_b)ᵀ          (Tweedie: E[t | x̃] = s(x̃))
// So over a set h of samples, with C_h = mean_h φφᵀ (K×K) and P_h = mean_h q (K×D),
//     mean_h ‖f‖² = tr(W C_h Wᵀ),   mean_h ⟨r, f⟩ = tr(W P_h),
// and with a target also e_h = mean_h ½‖t − F‖² (the constant that makes DSM's value ½ mean‖f − r‖²).
// The lifted objectives need each half of the batch on its own — A = rows [0, ⌊N/2⌋), B = the rest,
// exactly the split of lifted_residual_loss — so the moments are kept per half; the pooled moments
// (the whole batch) are their count-weighted average.
// Per-sample weights w_b > 0 (optional, as `score_batch::weights` of the library's objectives) enter
// every per-sample term inside the means, which stay means over the count, not over Σ w:
//     C_h = mean_h w φφᵀ,   P_h = mean_h w q,   e_h = mean_h w ½‖t − F‖²,
// so tr(W C_h Wᵀ) = mean_h w‖f‖² and tr(W P_h) = mean_h w⟨r, f⟩: the weighted DSM ½ mean w‖f − t‖²
// (EDM's λ(σ)) and the weighted halves of asymmetric LDSE, exactly as the library weights them.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <vector>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::analysis {

/// Means over one set of samples: C = mean φφᵀ, P = mean q, e = mean ½‖t − F‖² (0 without a target).
struct half_moments {
  Eigen::MatrixXd gram;   ///< C, K×K
  Eigen::MatrixXd cross;  ///< P, K×D
  double residual_energy = 0.0;
  double count = 0.0;
};

struct score_moments {
  half_moments a;  ///< rows [0, ⌊N/2⌋)
  half_moments b;  ///< rows [⌊N/2⌋, N)
  bool has_target = false;

  /// The moments of the whole batch: (n_A · half A + n_B · half B) / N.
  [[nodiscard]] half_moments pooled() const {
    const double n = a.count + b.count;
    const double wa = a.count / n, wb = b.count / n;
    return {wa * a.gram + wb * b.gram, wa * a.cross + wb * b.cross,
            wa * a.residual_energy + wb * b.residual_energy, n};
  }
  [[nodiscard]] index_t features() const { return a.gram.rows(); }
  [[nodiscard]] index_t dim() const { return a.cross.cols(); }
};

namespace detail {

/// N ≥ 2 (two non-empty halves) and, when given, `earlier` of the samples' shape.
template <class F>
void require_batch(const F& phi, const sample_view& x, const sample_view& earlier, const char* where, const char* name) {
  require_samples(phi, x, where, name);
  scorelift::detail::require(x.rows() >= 2, where, "argument '", name, "' has shape ",
                             scorelift::detail::shape_string({x.rows(), x.cols()}),
                             " but the moments need N >= 2 samples (two non-empty halves)");
  if (earlier.size() == 0) return;
  scorelift::detail::require(earlier.rows() == x.rows() && earlier.cols() == x.cols(), where,
                             "argument 'earlier' has shape ", scorelift::detail::shape_string({earlier.rows(), earlier.cols()}),
                             " but '", name, "' has shape ", scorelift::detail::shape_string({x.rows(), x.cols()}));
  scorelift::detail::require(earlier.allFinite(), where, "argument 'earlier' contains NaN or Inf");
}

/// The weights w_b, checked (length N, finite, > 0: the library's rule), or N ones when none are given.
inline Eigen::VectorXd sample_weights_or_ones(const Eigen::VectorXd& weights, index_t n, const char* where) {
  if (weights.size() == 0) return Eigen::VectorXd::Ones(n);
  scorelift::detail::require(weights.size() == n, where, "argument 'sample_weights' has shape ",
                             scorelift::detail::shape_string({weights.size()}), " but the batch has N = ", n, " samples");
  for (index_t b = 0; b < n; ++b)
    scorelift::detail::require(std::isfinite(weights(b)) && weights(b) > 0.0, where, "argument 'sample_weights' is ", weights(b),
                               " at sample ", b, " but weights must be finite and > 0");
  return weights;
}

/// The per-half means from Φ, the weighted rows w_b φ_b and the per-sample w_b q_b (given as Σ over rows
/// of a half by `add_cross`, which returns that half's Σ w_b ½‖t_b − F_b‖²).
template <class AddCross>
score_moments moments_from(const row_matrix& phi, const row_matrix& weighted_phi, index_t dim, AddCross add_cross) {
  const index_t n = phi.rows(), n_a = n / 2;
  score_moments out;
  const auto half = [&](index_t begin, index_t end) {
    half_moments h;
    h.count = static_cast<double>(end - begin);
    h.gram = phi.middleRows(begin, end - begin).transpose() * weighted_phi.middleRows(begin, end - begin) / h.count;
    h.cross = Eigen::MatrixXd::Zero(phi.cols(), dim);
    h.residual_energy = add_cross(begin, end, h.cross);
    h.cross /= h.count;
    h.residual_energy /= h.count;
    return h;
  };
  out.a = half(0, n_a);
  out.b = half(n_a, n);
  return out;
}

/// −Σ_b w_b φ_b F_bᵀ over rows [begin, end) (the earlier levels' part of w_b q_b), when F is given.
inline void subtract_earlier(const row_matrix& weighted_phi, const sample_view& earlier, index_t begin, index_t end,
                             Eigen::MatrixXd& cross) {
  if (earlier.size() == 0) return;
  cross.noalias() -= weighted_phi.middleRows(begin, end - begin).transpose() * earlier.middleRows(begin, end - begin);
}

/// Checks that W is D×K for these moments and finite.
inline void require_model_weights(const score_moments& m, const Eigen::MatrixXd& weights, const char* where) {
  scorelift::detail::require(weights.rows() == m.dim() && weights.cols() == m.features(), where,
                             "argument 'weights' has shape ", scorelift::detail::shape_string({weights.rows(), weights.cols()}),
                             " but the moments are of a model with [D, K] = ",
                             scorelift::detail::shape_string({m.dim(), m.features()}));
  scorelift::detail::require(weights.allFinite(), where, "argument 'weights' contains NaN or Inf");
}

/// Checks the ridge λ (finite, ≥ 0).
inline void require_ridge(double ridge, const char* where) {
  scorelift::detail::require(ridge >= 0.0 && std::isfinite(ridge), where, "argument 'ridge' is ", ridge,
                             " but must be finite and >= 0");
}

/// The Cholesky factor of C_h + λI, refused (naming the set of samples) when it is not positive definite:
/// fewer samples than features without a ridge, or features that coincide on the data.
inline Eigen::LLT<Eigen::MatrixXd> regularised_gram(const half_moments& h, double ridge, const char* where,
                                                    const char* which) {
  const index_t k = h.gram.rows();
  Eigen::LLT<Eigen::MatrixXd> llt(h.gram + ridge * Eigen::MatrixXd::Identity(k, k));
  scorelift::detail::require(llt.info() == Eigen::Success, where, "the Gram matrix C + ridge·I of ", which, " (shape ",
                             scorelift::detail::shape_string({k, k}), ", ", h.count,
                             " samples) is not positive definite: pass ridge > 0 or more samples than features");
  return llt;
}

}  // namespace detail

/// Exact-trace moments (ISM, LSE): q_b = −∇φ(x_b) − φ_b F_bᵀ. `earlier` = F (N×D), the estimate of the
/// earlier residual levels at the samples; empty (the default) at level 1. `sample_weights`: w_b (N), or empty (all 1).
template <FeatureMap Phi>
score_moments implicit_moments(const Phi& phi, const sample_view& x, const sample_view& earlier = {},
                               const Eigen::VectorXd& sample_weights = {}) {
  constexpr const char* where = "analysis::implicit_moments";
  detail::require_batch(phi, x, earlier, where, "x");
  const Eigen::VectorXd w = detail::sample_weights_or_ones(sample_weights, x.rows(), where);
  const row_matrix features = phi.features(x);
  const row_matrix weighted = w.asDiagonal() * features;
  return detail::moments_from(features, weighted, x.cols(), [&](index_t begin, index_t end, Eigen::MatrixXd& cross) {
    for (index_t b = begin; b < end; ++b) cross -= w(b) * phi.jacobian(x.row(b).transpose());
    detail::subtract_earlier(weighted, earlier, begin, end, cross);
    return 0.0;
  });
}

/// Sliced-trace moments (SSM-VR, sliced LSE): q_b = −(1/M) Σ_m ∇φ(x_b) v_{m,b} v_{m,b}ᵀ − φ_b F_bᵀ, with the
/// probes laid out as in probes.hpp: M matrices of shape N×D, row b of matrix m is v_{m,b}.
template <FeatureMap Phi>
score_moments sliced_moments(const Phi& phi, const sample_view& x, const std::vector<row_matrix>& probes,
                             const sample_view& earlier = {}, const Eigen::VectorXd& sample_weights = {}) {
  constexpr const char* where = "analysis::sliced_moments";
  detail::require_batch(phi, x, earlier, where, "x");
  const Eigen::VectorXd w = detail::sample_weights_or_ones(sample_weights, x.rows(), where);
  scorelift::detail::require(!probes.empty(), where, "argument 'probes' is empty (M = 0 probes)");
  for (std::size_t m = 0; m < probes.size(); ++m)
    scorelift::detail::require(probes[m].rows() == x.rows() && probes[m].cols() == x.cols() && probes[m].allFinite(),
                               where, "argument 'probes[", m, "]' has shape ",
                               scorelift::detail::shape_string({probes[m].rows(), probes[m].cols()}),
                               " but must have the shape of 'x', ", scorelift::detail::shape_string({x.rows(), x.cols()}),
                               ", and finite entries");
  const row_matrix features = phi.features(x);
  const row_matrix weighted = w.asDiagonal() * features;
  const double inverse_m = 1.0 / static_cast<double>(probes.size());
  return detail::moments_from(features, weighted, x.cols(), [&](index_t begin, index_t end, Eigen::MatrixXd& cross) {
    for (index_t b = begin; b < end; ++b) {
      const Eigen::MatrixXd jac = phi.jacobian(x.row(b).transpose());
      for (const row_matrix& v : probes) cross.noalias() -= (w(b) * inverse_m) * (jac * v.row(b).transpose()) * v.row(b);
    }
    detail::subtract_earlier(weighted, earlier, begin, end, cross);
    return 0.0;
  });
}

/// Target moments (DSM, LDSE): q_b = φ(x̃_b)(t_b − F_b)ᵀ and e = mean ½‖t − F‖², for noisy samples x̃
/// and targets t = s(x̃ | x) = −ε/σ (N×D each); with `sample_weights`, mean w φ(t − F)ᵀ and mean w ½‖t − F‖².
template <FeatureMap Phi>
score_moments denoising_moments(const Phi& phi, const sample_view& x_noisy, const sample_view& target,
                                const sample_view& earlier = {}, const Eigen::VectorXd& sample_weights = {}) {
  constexpr const char* where = "analysis::denoising_moments";
  detail::require_batch(phi, x_noisy, earlier, where, "x_noisy");
  const Eigen::VectorXd w = detail::sample_weights_or_ones(sample_weights, x_noisy.rows(), where);
  scorelift::detail::require(target.rows() == x_noisy.rows() && target.cols() == x_noisy.cols(), where,
                             "argument 'target' has shape ", scorelift::detail::shape_string({target.rows(), target.cols()}),
                             " but 'x_noisy' has shape ", scorelift::detail::shape_string({x_noisy.rows(), x_noisy.cols()}));
  scorelift::detail::require(target.allFinite(), where, "argument 'target' contains NaN or Inf");
  const row_matrix features = phi.features(x_noisy);
  const row_matrix weighted = w.asDiagonal() * features;
  row_matrix residual = target;
  if (earlier.size() != 0) residual -= earlier;
  score_moments out =
      detail::moments_from(features, weighted, x_noisy.cols(), [&](index_t begin, index_t end, Eigen::MatrixXd& cross) {
        const auto r = residual.middleRows(begin, end - begin);
        cross.noalias() += weighted.middleRows(begin, end - begin).transpose() * r;
        return 0.5 * w.segment(begin, end - begin).dot(r.rowwise().squaredNorm());
      });
  out.has_target = true;
  return out;
}

}  // namespace scorelift::analysis

// scorelift/analysis/linear_estimator.hpp — the exact empirical minimiser of any objective of the
// library for a linear model f = W φ, and residual stacks of such models fitted level by level.
//
// An objective is named by where ⟨s, f⟩ comes from (score_moments.hpp) and whether it is lifted:
//     ISM     exact trace,  quadratic  → score_matching_minimiser (one solve)
//     SSM-VR  sliced trace, quadratic  → the same solve on the sliced moments
//     DSM     target,       quadratic  → the same solve on the target moments
//     LSE     exact or sliced trace, lifted → lifted_minimiser (Newton, sign by alignment)
//     LDSE    target,       lifted     → lifted_minimiser
// Residual stack (docs/DESIGN.md, the paper's eq. (7)): level l fits r_l = s − Σ_{i<l} κ_i f_i with the
// earlier levels fixed — exactly the semi-gradient objective of lifted.hpp / residual_score_matching.hpp
// once those levels are at their minimisers — so the levels are solved one after the other, each with
// its own features: the moments of level l take F = Σ_{i<l} κ_i W_i φ_i(x) as `earlier`. The sign κ_l is
// folded into W_l (lifted levels report the aligned sign), so the stack's estimate is Σ_l W_l φ_l.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "scorelift/analysis/any_feature_map.hpp"
#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/analysis/lifted_minimiser.hpp"
#include "scorelift/analysis/score_matching_minimiser.hpp"
#include "scorelift/analysis/score_moments.hpp"

namespace scorelift::analysis {

enum class score_source { exact_trace, sliced_trace, target };

struct linear_objective {
  std::string name;
  score_source source = score_source::exact_trace;
  bool lifted = false;
  double ridge = 0.0;

  static linear_objective ism(double ridge = 0.0) { return {"ISM", score_source::exact_trace, false, ridge}; }
  static linear_objective ssm_vr(double ridge = 0.0) { return {"SSM-VR", score_source::sliced_trace, false, ridge}; }
  static linear_objective dsm(double ridge = 0.0) { return {"DSM", score_source::target, false, ridge}; }
  static linear_objective lse(double ridge = 0.0) { return {"LSE", score_source::exact_trace, true, ridge}; }
  static linear_objective lse_sliced(double ridge = 0.0) { return {"LSE (sliced)", score_source::sliced_trace, true, ridge}; }
  static linear_objective ldse(double ridge = 0.0) { return {"LDSE", score_source::target, true, ridge}; }
};

/// The samples an objective sees (owned: a Map or expression passed in is copied, nothing dangles).
/// `x` are the inputs of f — clean samples for the trace objectives, noisy x̃ for the target ones;
/// `target` = −ε/σ (target objectives only); `probes` = M matrices N×D (sliced objectives only);
/// `sample_weights` = w_b > 0 (N), weighting every per-sample term as score_batch::weights does; empty: 1.
struct estimation_data {
  row_matrix x;
  row_matrix target{};
  std::vector<row_matrix> probes{};
  Eigen::VectorXd sample_weights{};
};

/// The moments of `data` for `source`, with F = `earlier` the estimate of the earlier levels.
template <FeatureMap Phi>
score_moments moments_for(const Phi& phi, const estimation_data& data, score_source source,
                          const sample_view& earlier = {}) {
  switch (source) {
    case score_source::exact_trace: return implicit_moments(phi, data.x, earlier, data.sample_weights);
    case score_source::sliced_trace: return sliced_moments(phi, data.x, data.probes, earlier, data.sample_weights);
    case score_source::target: return denoising_moments(phi, data.x, data.target, earlier, data.sample_weights);
  }
  scorelift::detail::fail("analysis::moments_for", "argument 'source' is ", static_cast<int>(source),
                          " which is not a score_source");
}

struct linear_fit {
  Eigen::MatrixXd weights;     ///< D×K (lifted: sign aligned)
  double value = 0.0;          ///< the objective at the minimiser (ridge included)
  double gradient_norm = 0.0;  ///< ‖∇_W objective‖_F there
  bool converged = true;       ///< always true for the quadratic objectives
  bool flipped = false;        ///< lifted: whether the Newton point was negated by the sign choice
};

/// The objective's value at W on moments of its source (lifted: L(W); otherwise J(W)), ridge included.
inline double objective_value(const score_moments& m, const Eigen::MatrixXd& weights, const linear_objective& objective) {
  return objective.lifted ? lifted_value(m, weights, objective.ridge) : score_matching_value(m, weights, objective.ridge);
}

/// ∇_W of objective_value (D×K).
inline Eigen::MatrixXd objective_gradient(const score_moments& m, const Eigen::MatrixXd& weights,
                                          const linear_objective& objective) {
  return objective.lifted ? lifted_gradient(m, weights, objective.ridge)
                          : score_matching_gradient(m, weights, objective.ridge);
}

/// The exact minimiser of `objective` over W for the features φ on `data` (level 1, or a residual level
/// when `earlier` is given).
template <FeatureMap Phi>
linear_fit fit_linear_score(const Phi& phi, const estimation_data& data, const linear_objective& objective,
                            const sample_view& earlier = {}) {
  const score_moments m = moments_for(phi, data, objective.source, earlier);
  linear_fit out;
  if (objective.lifted) {
    const lifted_solution s = lifted_minimiser(m, {.ridge = objective.ridge});
    out = {s.weights, s.value, s.gradient_norm, s.converged, s.flipped};
  } else {
    out.weights = score_matching_minimiser(m, objective.ridge);
    out.value = objective_value(m, out.weights, objective);
    out.gradient_norm = objective_gradient(m, out.weights, objective).norm();
  }
  return out;
}

/// Σ_l W_l φ_l: the estimate of a residual stack of linear models.
class linear_residual_stack {
 public:
  linear_residual_stack() = default;

  /// Appends a level (W of shape D×K of `phi`, D equal to the first level's).
  void add_level(any_feature_map phi, Eigen::MatrixXd weights) {
    constexpr const char* where = "linear_residual_stack::add_level";
    require_weights(phi, weights, where);
    if (!features_.empty())
      scorelift::detail::require(phi.input_dim() == features_.front().input_dim(), where, "the level's features take D = ",
                                 phi.input_dim(), " but level 1 takes D = ", features_.front().input_dim());
    // Both vectors grow by one or neither does: the second push_back cannot then fail on its allocation.
    features_.reserve(features_.size() + 1);
    weights_.reserve(weights_.size() + 1);
    features_.push_back(std::move(phi));
    weights_.push_back(std::move(weights));
  }

  [[nodiscard]] std::size_t levels() const { return features_.size(); }
  [[nodiscard]] const any_feature_map& features(std::size_t level) const { return features_.at(level); }
  [[nodiscard]] const Eigen::MatrixXd& weights(std::size_t level) const { return weights_.at(level); }

  /// f_l(x) = W_l φ_l(x) of one level (N×D).
  [[nodiscard]] row_matrix level_values(std::size_t level, const sample_view& x) const {
    return analysis::evaluate(features_.at(level), weights_.at(level), x);
  }
  /// The estimate Σ_{l < levels} f_l(x) (N×D); `levels` = 0 gives zeros.
  [[nodiscard]] row_matrix evaluate(const sample_view& x, std::size_t levels = static_cast<std::size_t>(-1)) const {
    row_matrix sum = row_matrix::Zero(x.rows(), x.cols());
    for (std::size_t l = 0; l < std::min(levels, features_.size()); ++l) sum += level_values(l, x);
    return sum;
  }

 private:
  std::vector<any_feature_map> features_;
  std::vector<Eigen::MatrixXd> weights_;
};

/// Fits the levels in order with one objective, each with its own features (see above). `fits`, when
/// given, receives each level's linear_fit.
inline linear_residual_stack fit_residual_stack(const std::vector<any_feature_map>& levels, const estimation_data& data,
                                                const linear_objective& objective,
                                                std::vector<linear_fit>* fits = nullptr) {
  scorelift::detail::require(!levels.empty(), "analysis::fit_residual_stack", "argument 'levels' is empty (L = 0)");
  linear_residual_stack stack;
  std::vector<linear_fit> level_fits;
  row_matrix earlier;  // F = Σ_{i<l} f_i at data.x; empty at level 1
  for (const any_feature_map& phi : levels) {
    linear_fit fit = fit_linear_score(phi, data, objective, earlier);
    stack.add_level(phi, fit.weights);
    const row_matrix f = stack.level_values(stack.levels() - 1, data.x);
    earlier = earlier.size() == 0 ? f : row_matrix(earlier + f);
    level_fits.push_back(std::move(fit));
  }
  if (fits) *fits = std::move(level_fits);
  return stack;
}

}  // namespace scorelift::analysis

// scorelift/analysis/ism_dsm_study.hpp — the ISM-vs-DSM study of "Comparing implicit and denoising
// score-matching objectives" (Artemev et al.) on targets whose noisy score is exact.
//
// Channel x̃ = x + σε (α = 1), DSM target t = −ε/σ. Both objectives are evaluated at the optimal model
// of the noisy data, f = s_σ = ∇ log p_σ (exact score and exact divergence, diffusion/gaussian_mixture.hpp),
// with compare_ism_dsm (objectives/ism_dsm_comparison.hpp): per sample
//     ISM_b = tr ∇s_σ(x̃_b) + ½‖s_σ(x̃_b)‖²,   DSM_b − ½‖t_b‖² = (ε_b/σ)ᵀ s_σ(x̃_b) + ½‖s_σ(x̃_b)‖² (bias-corrected),
// both of mean J_ISM(s_σ) = E[tr ∇s_σ + ½‖s_σ‖²] = −½ E‖s_σ‖² (integration by parts), and the usual DSM
// ½‖s_σ − t‖² of mean J_DSM = J_ISM + D/(2σ²) (E½‖t‖² = D/(2σ²)).
// Closed forms for p = N(0, σ_d² I_D): p_σ = N(0, v I) with v = σ_d² + σ², s_σ(x̃) = −x̃/v, tr ∇s_σ = −D/v,
// E‖s_σ‖² = D/v, so
//     J_ISM = −D/(2(σ_d² + σ²)),    J_DSM = −D/(2v) + D/(2σ²) = D σ_d² / (2σ²(σ_d² + σ²)),
// the forms of DESIGN.md, evaluated at f = s_σ (the minimiser of both over all f). For a mixture the
// reference −½E‖s_σ‖² is a Monte Carlo mean over an independent sample (reported with its error).
//
// Variance: at f = s_σ the bias-corrected DSM term has the cross term (ε/σ)ᵀ s_σ of variance
// E‖s_σ‖²/σ² → ∞ as σ → 0 while the ISM terms stay bounded, so log Var(DSM) against log σ has slope −2 at
// small σ: `log_log_slope` fits it by least squares (with the slope's standard error).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/analysis/study_target.hpp"
#include "scorelift/backends/eigen.hpp"
#include "scorelift/diffusion/gaussian_mixture.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/ism_dsm_comparison.hpp"

namespace scorelift::analysis {

/// N clean samples x ~ p, their noisy versions x̃ = x + σε and the DSM targets t = −ε/σ (σ > 0; at
/// σ = 0, x̃ = x and t is empty).
struct noisy_samples {
  row_matrix clean, noisy, target;
};

template <SampledTarget Target, class Generator>
noisy_samples draw_noisy_samples(const Target& p, double sigma, index_t n, Generator& gen) {
  scorelift::detail::require(sigma >= 0.0 && std::isfinite(sigma), "analysis::draw_noisy_samples", "argument 'sigma' is ",
                             sigma, " but must be finite and >= 0");
  scorelift::detail::require(n >= 1, "analysis::draw_noisy_samples", "argument 'n' is ", n, " but must be >= 1");
  noisy_samples out;
  out.clean = p.sample(n, gen);
  if (sigma == 0.0) {
    out.noisy = out.clean;
    return out;
  }
  std::normal_distribution<double> normal;
  const row_matrix eps = row_matrix::NullaryExpr(n, p.dim(), [&] { return normal(gen); });
  out.noisy = out.clean + sigma * eps;
  out.target = -eps / sigma;
  return out;
}

/// Mean ± standard error of a per-sample quantity (compare_ism_dsm's two-pass moments).
inline mean_estimate per_sample_mean(const Eigen::VectorXd& values) {
  scorelift::detail::require(values.size() >= 2, "analysis::per_sample_mean", "argument 'values' has length ",
                             values.size(), " but a standard error needs >= 2");
  return scorelift::detail::sample_moments<eigen_backend<double>>(values, row_matrix::Zero(1, 1));
}

struct ism_dsm_point {
  double sigma = 0.0;
  index_t samples = 0;
  ism_dsm_comparison at_optimum;  ///< ISM, bias-corrected DSM and the usual DSM at f = s_σ
};

/// One cell of the grid: N samples of p_σ, both objectives at f = s_σ with their standard errors.
inline ism_dsm_point ism_dsm_at_optimum(const diffusion::gaussian_mixture& p, double sigma, index_t n,
                                        std::uint64_t seed) {
  scorelift::detail::require(sigma > 0.0 && n >= 2, "analysis::ism_dsm_at_optimum", "arguments 'sigma' = ", sigma,
                             " and 'n' = ", n, " must be > 0 and >= 2 (DSM needs noise, a variance two samples)");
  std::mt19937_64 gen(seed);
  const noisy_samples s = draw_noisy_samples(p, sigma, n, gen);
  const diffusion::noise_level level{1.0, sigma};
  const row_matrix score = p.score(s.noisy, level);
  return {sigma, n,
          compare_ism_dsm<eigen_backend<double>>(score, s.target, p.score_divergence(s.noisy, level))};
}

/// J_ISM(s_σ) = −D/(2(σ_d² + σ²)) for p = N(0, σ_d² I_D).
inline double gaussian_optimal_ism(index_t dim, double sigma_data, double sigma) {
  return -static_cast<double>(dim) / (2.0 * (sigma_data * sigma_data + sigma * sigma));
}
/// J_DSM(s_σ) = D σ_d² / (2σ²(σ_d² + σ²)) for p = N(0, σ_d² I_D).
inline double gaussian_optimal_dsm(index_t dim, double sigma_data, double sigma) {
  const double v = sigma_data * sigma_data + sigma * sigma;
  return static_cast<double>(dim) * sigma_data * sigma_data / (2.0 * sigma * sigma * v);
}

/// −½ E‖s_σ‖² by Monte Carlo over n independent samples of p_σ: the reference J_ISM(s_σ) of any target.
inline mean_estimate optimal_ism_reference(const diffusion::gaussian_mixture& p, double sigma, index_t n,
                                           std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  const noisy_samples s = draw_noisy_samples(p, sigma, n, gen);
  return per_sample_mean(-0.5 * p.score(s.noisy, {1.0, sigma}).rowwise().squaredNorm());
}

struct slope_fit {
  double slope = 0.0;
  double standard_error = 0.0;  ///< of the slope, from the residuals (n − 2 degrees of freedom); 0 for n = 2
  double intercept = 0.0;
};

/// Least-squares line through (log x_i, log y_i): y ∝ x^slope. x, y positive, at least two points.
inline slope_fit log_log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  constexpr const char* where = "analysis::log_log_slope";
  scorelift::detail::require(x.size() == y.size() && x.size() >= 2, where, "arguments 'x' (length ", x.size(),
                             ") and 'y' (length ", y.size(), ") need equal lengths >= 2");
  const auto n = static_cast<index_t>(x.size());
  Eigen::VectorXd u(n), v(n);
  for (index_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    scorelift::detail::require(x[k] > 0.0 && y[k] > 0.0 && std::isfinite(x[k]) && std::isfinite(y[k]), where,
                               "point ", i, " is (", x[k], ", ", y[k], ") but a log-log fit needs positive finite values");
    u(i) = std::log(x[k]);
    v(i) = std::log(y[k]);
  }
  const double u_mean = u.mean(), v_mean = v.mean();
  const double sxx = (u.array() - u_mean).square().sum();
  scorelift::detail::require(sxx > 0.0, where, "argument 'x' has a single distinct value: no slope");
  slope_fit fit;
  fit.slope = ((u.array() - u_mean) * (v.array() - v_mean)).sum() / sxx;
  fit.intercept = v_mean - fit.slope * u_mean;
  if (n > 2) {
    const double rss = (v.array() - fit.intercept - fit.slope * u.array()).square().sum();
    fit.standard_error = std::sqrt(rss / static_cast<double>(n - 2) / sxx);
  }
  return fit;
}

}  // namespace scorelift::analysis

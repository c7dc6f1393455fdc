// scorelift/analysis/estimator_study.hpp — bias and variance of the exact estimators on targets whose
// score is known: the Fisher divergence of each objective's minimiser against N, and the variance of
// each objective's minibatch gradient at the optimum against the batch size.
//
// Targets (study_target.hpp): Gaussian mixtures at any σ, and any KnownScoreTarget (banana, funnel, a
// user's own) at σ = 0 with the trace objectives.
// Estimand: the score s_σ of p_σ (x̃ = x + σε; σ = 0 is the clean score). Every objective sees N samples
// x̃ of p_σ — the trace objectives (ISM, SSM-VR, LSE) as they are, the target objectives (DSM, LDSE) with
// their targets t = −ε/σ — so at one σ all of them estimate the same function and differ only in how
// they use the data. The fitted model is judged by the Fisher divergence
//     F(ŝ) = E_{p_σ} ‖ŝ(x̃) − s_σ(x̃)‖²,
// estimated on an independent held-out sample (the same one for every objective and N, so their
// comparison is not blurred by the evaluation noise). Mean ± standard deviation over seeds.
//
// Misspecification floor: no W does better on the held-out sample than its least-squares projection
//     W_floor = argmin_W mean_held-out ‖W φ(x̃) − s_σ(x̃)‖²,
// which is the DSM solve with the true score as the target (score_matching_minimiser on denoising_moments
// with t = s_σ): F(W_floor φ) is the floor every estimator's curve approaches as N → ∞ (0 when the family
// holds s_σ; the estimators' own bias shows as a gap above it).
//
// Gradient variance: W* is the minimiser on a large reference sample (the population optimum up to
// its own error); for batches of size B the gradient ∇_W J_batch(W*) is a random D×K matrix whose total
// variance Σ_ij Var(∂_ij) is reported (SM-type objectives: a mean of B i.i.d. terms, ∝ 1/B; lifted: a
// product of two half-batch means, ∝ 1/B to first order).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "scorelift/analysis/ism_dsm_study.hpp"
#include "scorelift/analysis/linear_estimator.hpp"
#include "scorelift/analysis/study_target.hpp"
#include "scorelift/backends/eigen.hpp"
#include "scorelift/diffusion/gaussian_mixture.hpp"

namespace scorelift::analysis {

/// The estimation data of `objective` from N samples of p_σ (`probes` Rademacher probes per sample for
/// the sliced objectives).
template <SampledTarget Target, class Generator>
estimation_data draw_estimation_data(const Target& p, double sigma, index_t n,
                                     const linear_objective& objective, int probes, Generator& gen) {
  scorelift::detail::require(objective.source != score_source::target || sigma > 0.0, "analysis::draw_estimation_data",
                             "objective ", objective.name, " needs noise: argument 'sigma' is ", sigma);
  noisy_samples s = draw_noisy_samples(p, sigma, n, gen);
  estimation_data data{std::move(s.noisy), std::move(s.target), {}};
  if (objective.source == score_source::sliced_trace)
    for (int m = 0; m < probes; ++m) data.probes.push_back(eigen_backend<double>::rademacher(n, p.dim(), gen, data.x));
  return data;
}

/// F(ŝ) = mean_b ‖ŝ_b − s_b‖² with its standard error (rows of `estimate` and `truth`).
inline mean_estimate fisher_divergence(const row_matrix& estimate, const row_matrix& truth) {
  scorelift::detail::require(estimate.rows() == truth.rows() && estimate.cols() == truth.cols(),
                             "analysis::fisher_divergence", "argument 'estimate' has shape ",
                             scorelift::detail::shape_string({estimate.rows(), estimate.cols()}), " but 'truth' has shape ",
                             scorelift::detail::shape_string({truth.rows(), truth.cols()}));
  return per_sample_mean((estimate - truth).rowwise().squaredNorm());
}

struct study_settings {
  double sigma = 0.0;               ///< the estimand is s_σ
  int probes = 1;                   ///< per sample, sliced objectives
  index_t held_out = 20000;         ///< evaluation samples of the Fisher divergence
  std::uint64_t seed = 0;
};

namespace detail {
template <class T>
concept study_target = KnownScoreTarget<T> || KnownNoisyScoreTarget<T>;

struct held_out_sample {
  row_matrix x;      ///< samples of p_σ
  row_matrix truth;  ///< s_σ there
};

/// The evaluation sample of the Fisher divergence: one per (target, σ, held_out, seed), whichever study asks.
template <study_target Target>
held_out_sample draw_held_out(const Target& p, const study_settings& settings) {
  std::mt19937_64 gen(settings.seed ^ 0x9e3779b97f4a7c15ULL);
  row_matrix x = draw_noisy_samples(p, settings.sigma, settings.held_out, gen).noisy;
  row_matrix truth = score_at_noise(p, x, settings.sigma);
  return {std::move(x), std::move(truth)};
}
}  // namespace detail

/// F of the best model of the family on the held-out sample (see above), with its standard error.
template <detail::study_target Target>
mean_estimate misspecification_floor(const Target& p, const any_feature_map& phi, const study_settings& settings,
                                     double ridge = 0.0) {
  const detail::held_out_sample h = detail::draw_held_out(p, settings);
  const Eigen::MatrixXd best = score_matching_minimiser(denoising_moments(phi, h.x, h.truth), ridge);
  return fisher_divergence(evaluate(phi, best, h.x), h.truth);
}

struct fisher_point {
  index_t samples = 0;
  double mean = 0.0;  ///< mean over seeds of F(ŝ)
  double std = 0.0;   ///< standard deviation over seeds
  std::vector<double> per_seed;
};

/// F of the exact minimiser against N (one point per entry of `sizes`, `seeds` fits each).
template <detail::study_target Target>
std::vector<fisher_point> fisher_divergence_against_samples(const Target& p, const any_feature_map& phi,
                                                            const linear_objective& objective,
                                                            const std::vector<index_t>& sizes, int seeds,
                                                            const study_settings& settings) {
  scorelift::detail::require(seeds >= 2, "analysis::fisher_divergence_against_samples", "argument 'seeds' is ", seeds,
                             " but a standard deviation needs >= 2");
  const detail::held_out_sample h = detail::draw_held_out(p, settings);
  std::vector<fisher_point> out;
  for (const index_t n : sizes) {
    fisher_point point{n, 0.0, 0.0, {}};
    for (int s = 0; s < seeds; ++s) {
      std::mt19937_64 gen(settings.seed + 1000003ULL * static_cast<std::uint64_t>(s) + static_cast<std::uint64_t>(n));
      const estimation_data data = draw_estimation_data(p, settings.sigma, n, objective, settings.probes, gen);
      const linear_fit fit = fit_linear_score(phi, data, objective);
      point.per_seed.push_back(fisher_divergence(evaluate(phi, fit.weights, h.x), h.truth).mean);
    }
    const Eigen::Map<const Eigen::VectorXd> values(point.per_seed.data(), seeds);
    point.mean = values.mean();
    point.std = std::sqrt((values.array() - point.mean).square().sum() / (seeds - 1));
    out.push_back(std::move(point));
  }
  return out;
}

struct gradient_variance_point {
  index_t batch = 0;
  double total_variance = 0.0;  ///< Σ_ij Var(∂J_batch/∂W_ij) at W*, over the repeats
  double gradient_norm = 0.0;   ///< ‖mean over repeats of the batch gradient‖_F (≈ 0 at the optimum)
};

/// Variance of the minibatch gradient at W* (the minimiser on `reference` samples) against B.
template <SampledTarget Target>
std::vector<gradient_variance_point> gradient_variance_at_optimum(const Target& p, const any_feature_map& phi,
                                                                  const linear_objective& objective,
                                                                  const std::vector<index_t>& batches,
                                                                  int repeats, index_t reference,
                                                                  const study_settings& settings) {
  scorelift::detail::require(repeats >= 2, "analysis::gradient_variance_at_optimum", "argument 'repeats' is ", repeats,
                             " but a variance needs >= 2");
  std::mt19937_64 gen(settings.seed);
  const Eigen::MatrixXd optimum =
      fit_linear_score(phi, draw_estimation_data(p, settings.sigma, reference, objective, settings.probes, gen), objective)
          .weights;
  std::vector<gradient_variance_point> out;
  for (const index_t b : batches) {
    Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(optimum.rows(), optimum.cols());
    Eigen::MatrixXd sum_sq = sum;
    for (int r = 0; r < repeats; ++r) {
      const estimation_data data = draw_estimation_data(p, settings.sigma, b, objective, settings.probes, gen);
      const Eigen::MatrixXd g = objective_gradient(moments_for(phi, data, objective.source), optimum, objective);
      sum += g;
      sum_sq += g.cwiseProduct(g);
    }
    const Eigen::MatrixXd mean = sum / repeats;
    const double total = (sum_sq - repeats * mean.cwiseProduct(mean)).sum() / (repeats - 1);
    out.push_back({b, total, mean.norm()});
  }
  return out;
}

}  // namespace scorelift::analysis

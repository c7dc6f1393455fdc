// scorelift/analysis/study_target.hpp — what the studies need of a target distribution p on R^D:
// exact samples, and the exact score of p_σ (x̃ = x + σε) against which a fitted model is judged.
//
//   SampledTarget      dim(), sample(n, gen) → N×D             (all the studies draw their data this way)
//   KnownScoreTarget   + score(x) → N×D: s = ∇ log p           (the clean score only: σ = 0)
//   Gaussian mixtures  score(x, noise_level): s_σ for every σ  (diffusion/gaussian_mixture.hpp)
// A mixture's noisy score is closed form because p_σ is again a mixture; for other targets (banana,
// funnel: known_score_targets.hpp, or a user's own) only s = s_0 is, so they are studied at σ = 0 with
// the trace objectives (ISM, SSM-VR, LSE), and `score_at_noise` refuses σ > 0 for them, by name.
#pragma once

#include <concepts>
#include <random>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/diffusion/noise_level.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::analysis {

template <class T>
concept SampledTarget = requires(const T& p, index_t n, std::mt19937_64& gen) {
  { p.dim() } -> std::convertible_to<index_t>;
  { p.sample(n, gen) } -> std::convertible_to<row_matrix>;
};

/// A target whose clean score s(x) is known in closed form.
template <class T>
concept KnownScoreTarget = SampledTarget<T> && requires(const T& p, const row_matrix& x) {
  { p.score(x) } -> std::convertible_to<row_matrix>;
};

/// A target whose score of p_σ is known at every noise level (Gaussian mixtures).
template <class T>
concept KnownNoisyScoreTarget = SampledTarget<T> && requires(const T& p, const row_matrix& x, diffusion::noise_level l) {
  { p.score(x, l) } -> std::convertible_to<row_matrix>;
};

/// s_σ(x) = ∇ log p_σ(x) for x̃ = x + σε (σ ≥ 0); for a KnownScoreTarget only σ = 0 is known.
template <class Target>
  requires KnownScoreTarget<Target> || KnownNoisyScoreTarget<Target>
row_matrix score_at_noise(const Target& p, const row_matrix& x, double sigma) {
  if constexpr (KnownNoisyScoreTarget<Target>) {
    return p.score(x, diffusion::noise_level{1.0, sigma});
  } else {
    scorelift::detail::require(sigma == 0.0, "analysis::score_at_noise", "argument 'sigma' is ", sigma,
                               " but this target's score is known only at sigma = 0 (the clean score; the noisy "
                               "score s_sigma is closed form for Gaussian mixtures): study it with sigma = 0 and the "
                               "trace objectives (ISM, SSM-VR, LSE)");
    return p.score(x);
  }
}

}  // namespace scorelift::analysis

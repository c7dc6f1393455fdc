// scorelift/diffusion/discrete_schedule.hpp — discrete variance-preserving schedules (DDPM, iDDPM).
//
// A schedule is T noise increments β_1..β_T. Timestep t ∈ {0, 1, ..., T} has
//   ᾱ_t = Π_{i ≤ t} (1 − β_i)   (ᾱ_0 = 1: clean data),   α_t = √ᾱ_t,   σ_t = √(1 − ᾱ_t),
// so x̃_t = α_t x + σ_t ε with α² + σ² = 1, and λ_t = log(ᾱ_t / (1 − ᾱ_t)).
// Training draws t uniformly from {1..T}; per-timestep state (signs) uses the index t − 1.
// ᾱ_t is accumulated as exp(Σ log1p(−β_i)) so that T = 4000 loses no precision, and 1 − ᾱ_t as
// −expm1(Σ log1p(−β_i)) so that σ_t is accurate for small t (where 1 − ᾱ_t ≈ β_1 ≈ 1e-5).
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "scorelift/detail/checked_arithmetic.hpp"
#include "scorelift/diffusion/noise_level.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

class discrete_schedule {
 public:
  /// From the increments β_1..β_T, each in (0, 1).
  explicit discrete_schedule(std::vector<double> betas) : betas_(std::move(betas)) {
    scorelift::detail::require(!betas_.empty(), "discrete_schedule", "argument 'betas' has shape [0] but needs T >= 1 steps");
    log_alpha_bar_.assign(betas_.size() + 1, 0.0);
    for (std::size_t i = 0; i < betas_.size(); ++i) {
      const double beta = betas_[i];
      scorelift::detail::require(beta > 0.0 && beta < 1.0, "discrete_schedule", "argument 'betas' has beta_", i + 1, " = ",
                      beta, " but each must lie in (0, 1)");
      log_alpha_bar_[i + 1] = log_alpha_bar_[i] + std::log1p(-beta);
    }
  }

  /// T, the number of noising steps.
  [[nodiscard]] index_t steps() const { return static_cast<index_t>(betas_.size()); }
  /// β_t for t ∈ {1..T}.
  [[nodiscard]] double beta(index_t t) const {
    check(t, 1, "beta");
    return betas_[static_cast<std::size_t>(t - 1)];
  }
  /// ᾱ_t for t ∈ {0..T}.
  [[nodiscard]] double alpha_bar(index_t t) const {
    check(t, 0, "alpha_bar");
    return std::exp(log_alpha_bar_[static_cast<std::size_t>(t)]);
  }
  /// 1 − ᾱ_t, accurate for small t.
  [[nodiscard]] double one_minus_alpha_bar(index_t t) const {
    check(t, 0, "one_minus_alpha_bar");
    return -std::expm1(log_alpha_bar_[static_cast<std::size_t>(t)]);
  }
  /// The channel at timestep t: α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t).
  [[nodiscard]] noise_level level(index_t t) const {
    return noise_level{std::sqrt(alpha_bar(t)), std::sqrt(one_minus_alpha_bar(t))};
  }
  /// λ_t = log ᾱ_t − log(1 − ᾱ_t); +∞ at t = 0.
  [[nodiscard]] double log_snr(index_t t) const {
    check(t, 0, "log_snr");
    return log_alpha_bar_[static_cast<std::size_t>(t)] - std::log(one_minus_alpha_bar(t));
  }
  /// The posterior q(x_{t−1} | x_t, x_0) variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), t ∈ {1..T}.
  [[nodiscard]] double posterior_variance(index_t t) const {
    return beta(t) * one_minus_alpha_bar(t - 1) / one_minus_alpha_bar(t);
  }

 private:
  void check(index_t t, index_t first, const char* what) const {
    scorelift::detail::require(t >= first && t <= steps(), "discrete_schedule::", what, ": argument 't' is ", t,
                    " but must lie in [", first, ", ", steps(), "]");
  }
  std::vector<double> betas_;
  std::vector<double> log_alpha_bar_;  // [T + 1], log ᾱ_t
};

/// DDPM's linear schedule (Ho et al. 2020): β_t = linspace(β_first, β_last, T), with iDDPM's rescaling
/// by 1000/T so that any T describes the same continuous process (β ∈ [1e-4, 0.02] at T = 1000).
inline discrete_schedule linear_schedule(index_t steps, double beta_first = 1e-4, double beta_last = 0.02) {
  scorelift::detail::require(steps >= 1, "linear_schedule", "argument 'steps' is ", steps, " but must be >= 1");
  const double scale = 1000.0 / static_cast<double>(steps);
  std::vector<double> betas(static_cast<std::size_t>(steps));
  for (index_t i = 0; i < steps; ++i) {
    const double u = steps == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(steps - 1);
    betas[static_cast<std::size_t>(i)] = std::min(scale * (beta_first + u * (beta_last - beta_first)), 0.999);
  }
  return discrete_schedule(std::move(betas));
}

/// iDDPM's cosine schedule (Nichol & Dhariwal 2021):
///   ᾱ(t) = f(t)/f(0),  f(t) = cos²(π/2 · (t/T + s)/(1 + s)),  β_t = min(1 − ᾱ(t)/ᾱ(t − 1), β_max).
/// f(T) = 0 would make β_T = 1 and ᾱ_T = 0 (λ = −∞); the clip β_max = 0.999 keeps ᾱ_T > 0.
inline discrete_schedule cosine_schedule(index_t steps, double s = 0.008, double max_beta = 0.999) {
  scorelift::detail::require(steps >= 1, "cosine_schedule", "argument 'steps' is ", steps, " but must be >= 1");
  scorelift::detail::require(s > 0.0 && std::isfinite(s), "cosine_schedule", "argument 's' is ", s,
                             " but must be finite and > 0");
  scorelift::detail::require(max_beta > 0.0 && max_beta < 1.0, "cosine_schedule", "argument 'max_beta' is ", max_beta,
                  " but must lie in (0, 1)");
  const double T = static_cast<double>(steps);
  // log f(t): the ratio ᾱ(t)/ᾱ(t−1) = f(t)/f(t−1) is formed in logs; cos² ≥ 0 on [0, π/2].
  auto log_f = [&](double t) { return 2.0 * std::log(std::cos(std::numbers::pi / 2.0 * (t / T + s) / (1.0 + s))); };
  std::vector<double> betas(static_cast<std::size_t>(steps));
  for (index_t t = 1; t <= steps; ++t) {
    const double beta = -std::expm1(log_f(static_cast<double>(t)) - log_f(static_cast<double>(t - 1)));
    betas[static_cast<std::size_t>(t - 1)] = std::min(beta, max_beta);  // f(T) = 0 gives log = −∞, β = 1
  }
  return discrete_schedule(std::move(betas));
}

/// S timesteps of {1..T} evenly spread for a respaced sampler (DDIM): τ_i = ⌈i·T/S⌉, i = 1..S,
/// increasing, distinct, ending at τ_S = T.
///
/// i·T overflows index_t long before T does (T > 3·10⁹ is enough), so with T = qS + r (0 ≤ r < S)
///     τ_i = ⌈i(qS + r)/S⌉ = i·q + ⌈i·r/S⌉ = i·q + (i·r + S − 1)/S,
/// where i·q ≤ T and only i·r + S − 1 < S² + S remains; that is checked once, for i = S, before
/// anything is allocated (it fails only for S beyond ~3·10⁹ with r ≠ 0).
inline std::vector<index_t> respaced_timesteps(index_t steps, index_t sampling_steps) {
  constexpr const char* where = "respaced_timesteps";
  scorelift::detail::require(sampling_steps >= 1 && sampling_steps <= steps, where, "argument 'sampling_steps' is ",
                             sampling_steps, " but must lie in [1, ", steps, "]");
  const index_t q = steps / sampling_steps;
  const index_t r = steps % sampling_steps;
  const index_t last_product =
      scorelift::detail::checked_multiply(sampling_steps, r, where, "sampling_steps × (steps mod sampling_steps)");
  scorelift::detail::checked_add(last_product, sampling_steps - 1, where,
                                 "sampling_steps × (steps mod sampling_steps) + (sampling_steps − 1)");
  // Exact in unsigned arithmetic now that the largest term is known to fit (and no signed overflow
  // is left for the optimiser to reason about).
  const auto S = static_cast<std::size_t>(sampling_steps), uq = static_cast<std::size_t>(q),
             ur = static_cast<std::size_t>(r);
  std::vector<index_t> taus(S);
  for (std::size_t i = 1; i <= S; ++i) taus[i - 1] = static_cast<index_t>(i * uq + (i * ur + S - 1) / S);
  return taus;
}

}  // namespace scorelift::diffusion

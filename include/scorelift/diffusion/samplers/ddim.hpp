// scorelift/diffusion/samplers/ddim.hpp — DDIM (Song, Meng & Ermon 2021) on a respaced subset
// τ_1 < ... < τ_S = T of a discrete VP schedule, with a noise-prediction model ε̂(x, t).
//
// Step τ_i → τ_{i−1} (τ_0 = 0, ᾱ_0 = 1), with x̂₀ = (x − σ_τ ε̂)/α_τ:
//   x ← √ᾱ_prev · x̂₀ + √(1 − ᾱ_prev − s²) · ε̂ + s · z,
//   s = η √((1 − ᾱ_prev)/(1 − ᾱ_τ)) · √(1 − ᾱ_τ/ᾱ_prev).
// η = 0 is the deterministic sampler (a first-order solver of the probability-flow ODE in λ);
// η = 1 with every step (S = T) is exactly DDPM ancestral sampling with the posterior variance β̃_t.
// Noise is drawn only when s > 0, so η = 1, S = T consumes the same draws as ddpm_sample.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "scorelift/diffusion/discrete_schedule.hpp"
#include "scorelift/diffusion/state.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

struct ddim_options {
  index_t steps = 50;  ///< S, the number of model evaluations (≤ T)
  double eta = 0.0;    ///< η ∈ [0, 1]: 0 deterministic, 1 ancestral
};

/// `epsilon(x, t)` → ε̂; `noise(x)` → standard normal shaped like x; `z` the standard normal start (x_T ≈ z).
template <diffusion_state X, class EpsilonModel, class Noise>
X ddim_sample(const discrete_schedule& schedule, EpsilonModel&& epsilon, X z, Noise&& noise,
              const ddim_options& options = {}) {
  scorelift::detail::require(options.eta >= 0.0 && options.eta <= 1.0, "ddim_sample", "argument 'options.eta' is ", options.eta,
                  " but must lie in [0, 1]");
  const std::vector<index_t> taus = respaced_timesteps(schedule.steps(), options.steps);
  X x = std::move(z);
  for (auto i = static_cast<index_t>(taus.size()); i >= 1; --i) {
    const index_t t = taus[static_cast<std::size_t>(i - 1)];
    const index_t prev = i >= 2 ? taus[static_cast<std::size_t>(i - 2)] : 0;
    const noise_level now = schedule.level(t);
    const double alpha_bar_prev = schedule.alpha_bar(prev);
    const double one_minus_prev = schedule.one_minus_alpha_bar(prev);
    // 1 − ᾱ_τ/ᾱ_prev through logs: accurate when consecutive ᾱ are close.
    const double step_variance = -std::expm1(std::log(schedule.alpha_bar(t)) - std::log(alpha_bar_prev));
    const double s = options.eta * std::sqrt(one_minus_prev / schedule.one_minus_alpha_bar(t) * step_variance);
    const double direction = std::sqrt(std::max(0.0, one_minus_prev - s * s));

    const X eps = epsilon(static_cast<const X&>(x), t);
    const X x0 = detail::lincomb(1.0 / now.alpha, x, -now.sigma / now.alpha, eps);
    x = detail::lincomb(std::sqrt(alpha_bar_prev), x0, direction, eps);
    if (s > 0.0) x = detail::lincomb(1.0, x, s, X(noise(static_cast<const X&>(x))));
  }
  return x;
}

}  // namespace scorelift::diffusion

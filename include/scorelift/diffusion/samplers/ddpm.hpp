// scorelift/diffusion/samplers/ddpm.hpp — DDPM ancestral sampling (Ho et al. 2020) on a discrete VP
// schedule, with a noise-prediction model ε̂(x_t, t).
//
// Reverse step t → t−1 (t = T..1), the mean of q(x_{t−1} | x_t, x̂₀) with x̂₀ = (x_t − σ_t ε̂)/α_t:
//   x_{t−1} = (x_t − β_t/σ_t · ε̂) / √(1 − β_t) + √v_t · z,   z ~ N(0, I),  no noise on the last step,
//   v_t = β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)  (posterior, the default)  or  v_t = β_t.
// The chain starts at x_T = z: the VP prior N(0, (α_T² Var x + σ_T²) I) ≈ N(0, I) since α_T ≈ 0.
#pragma once

#include <cmath>

#include "scorelift/diffusion/discrete_schedule.hpp"
#include "scorelift/diffusion/state.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

enum class ddpm_variance { posterior, beta };

/// `epsilon(x, t)` → ε̂ (same shape as x) for integer t ∈ {1..T}; `noise(x)` → a standard normal X shaped
/// like x; `z` the standard normal starting point. Calls `epsilon` exactly T times.
template <diffusion_state X, class EpsilonModel, class Noise>
X ddpm_sample(const discrete_schedule& schedule, EpsilonModel&& epsilon, X z, Noise&& noise,
              ddpm_variance variance = ddpm_variance::posterior) {
  scorelift::detail::require(variance == ddpm_variance::posterior || variance == ddpm_variance::beta, "ddpm_sample",
                             "argument 'variance' is ", static_cast<int>(variance), " which is not a ddpm_variance");
  X x = std::move(z);
  for (index_t t = schedule.steps(); t >= 1; --t) {
    const double beta = schedule.beta(t);
    const double sigma = std::sqrt(schedule.one_minus_alpha_bar(t));
    const X eps = epsilon(static_cast<const X&>(x), t);
    x = detail::lincomb(1.0 / std::sqrt(1.0 - beta), x, -beta / (sigma * std::sqrt(1.0 - beta)), eps);
    if (t > 1) {
      const double v = variance == ddpm_variance::posterior ? schedule.posterior_variance(t) : beta;
      x = detail::lincomb(1.0, x, std::sqrt(v), X(noise(static_cast<const X&>(x))));
    }
  }
  return x;
}

}  // namespace scorelift::diffusion

// scorelift/diffusion/samplers/edm_heun.hpp — the deterministic EDM sampler (Karras et al. 2022, Alg. 1)
// with a denoiser D(x; σ) ≈ E[y | x = y + σ n] in variance-exploding coordinates.
//
// The probability-flow ODE in σ is dx/dσ = (x − D(x; σ))/σ. Steps σ_0 > ... > σ_{N−1} > σ_N = 0 from
// edm_sigma_steps; from x_0 = σ_0 z:
//   d = (x_i − D(x_i; σ_i))/σ_i,   x' = x_i + (σ_{i+1} − σ_i) d                        (Euler)
//   if σ_{i+1} > 0:  d' = (x' − D(x'; σ_{i+1}))/σ_{i+1},  x_{i+1} = x_i + (σ_{i+1} − σ_i)(d + d')/2   (Heun)
// The last step (to σ = 0) is Euler, so N steps cost 2N − 1 evaluations: 18 steps = 35.
// A VP model is used here through its VE view: D(x; σ_VE) = x̂₀(α x; α, σ) with α = 1/√(1 + σ_VE²).
#pragma once

#include <vector>

#include "scorelift/diffusion/edm.hpp"
#include "scorelift/diffusion/state.hpp"

namespace scorelift::diffusion {

struct edm_sampler_options {
  index_t steps = 18;   ///< N
  bool heun = true;     ///< false: first-order Euler (N evaluations)
  edm_config config{};  ///< σ_min, σ_max, ρ of the step schedule
};

/// `denoiser(x, sigma)` → D(x; σ) shaped like x; `z` standard normal. Returns the sample at σ = 0.
template <diffusion_state X, class Denoiser>
X edm_sample(Denoiser&& denoiser, const X& z, const edm_sampler_options& options = {}) {
  const std::vector<double> sigmas = edm_sigma_steps(options.steps, options.config);
  X x = detail::scaled(sigmas.front(), z);
  // d = (x − D(x; σ))/σ, the ODE's slope.
  auto slope = [&](const X& at, double sigma) {
    return detail::lincomb(1.0 / sigma, at, -1.0 / sigma, X(denoiser(at, sigma)));
  };
  for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
    const double h = sigmas[i + 1] - sigmas[i];
    const X d = slope(x, sigmas[i]);
    X next = detail::lincomb(1.0, x, h, d);
    if (options.heun && sigmas[i + 1] > 0.0) {
      const X d_next = slope(next, sigmas[i + 1]);
      next = detail::lincomb(1.0, x, 0.5 * h, detail::lincomb(1.0, d, 1.0, d_next));
    }
    x = std::move(next);
  }
  return x;
}

}  // namespace scorelift::diffusion

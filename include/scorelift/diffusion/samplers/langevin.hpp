// scorelift/diffusion/samplers/langevin.hpp — score-only samplers in variance-exploding coordinates
// (x = y + σ n), with a score model ŝ(x, σ) ≈ ∇ log p_σ(x).
//
// Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1): for σ_1 > ... > σ_L, step size
// δ_i = ε σ_i²/σ_L², M steps each of
//   x ← x + ½ δ_i ŝ(x, σ_i) + √δ_i z,
// optionally followed by one Tweedie denoising step x ← x + σ_L² ŝ(x, σ_L) (Jolicoeur-Martineau et al.).
//
// Predictor-corrector (Song et al. 2021, VE-SDE): from σ_i to σ_{i+1} the reverse-diffusion predictor
//   x ← x + (σ_i² − σ_{i+1}²) ŝ(x, σ_i) + √(σ_i² − σ_{i+1}²) z,
// then M Langevin corrector steps at σ_{i+1} (the same x ← x + ½ δ ŝ + √δ z) with δ = 4 (r σ_{i+1})².
// Song et al. write the step as x + ε ŝ + √(2ε) z with ε = 2 (r ‖z‖/‖ŝ‖)², i.e. δ = 2ε; since E‖z‖² = D
// and E‖ŝ‖² ≈ D/σ² near the noise scale, δ = 4 (r σ)² is their rule in expectation, and it needs no
// norm of X (so any state type works). r = 0.16 is their VE default.
#pragma once

#include <cmath>
#include <vector>

#include "scorelift/diffusion/state.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

/// n noise levels geometrically spaced from σ_max down to σ_min (n ≥ 2).
inline std::vector<double> geometric_sigmas(double sigma_max, double sigma_min, index_t n) {
  scorelift::detail::require(n >= 2 && sigma_max > sigma_min && sigma_min > 0.0 && std::isfinite(sigma_max),
                  "geometric_sigmas", "needs n >= 2 and finite sigma_max > sigma_min > 0 but has n = ", n,
                  ", sigma_max = ", sigma_max, ", sigma_min = ", sigma_min);
  std::vector<double> sigmas(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i)
    sigmas[static_cast<std::size_t>(i)] =
        sigma_max * std::pow(sigma_min / sigma_max, static_cast<double>(i) / static_cast<double>(n - 1));
  return sigmas;
}

namespace detail {
inline void require_decreasing(const std::vector<double>& sigmas, const char* where) {
  scorelift::detail::require(!sigmas.empty(), where, "argument 'sigmas' has shape [0] but needs at least one level");
  for (std::size_t i = 0; i < sigmas.size(); ++i) {
    scorelift::detail::require(sigmas[i] > 0.0 && std::isfinite(sigmas[i]), where, "argument 'sigmas' has sigmas[", i, "] = ", sigmas[i],
            " but each must be finite and > 0");
    // The samplers square every level (δ ∝ σ², σ_i² − σ_{i+1}², the final σ² ŝ).
    scorelift::detail::require(std::isfinite(sigmas[i] * sigmas[i]), where, "argument 'sigmas' has sigmas[", i, "] = ",
                               sigmas[i], " whose square overflows");
    // Only from i = 1: require's message arguments are evaluated even when the check passes.
    if (i > 0)
      scorelift::detail::require(sigmas[i] < sigmas[i - 1], where, "argument 'sigmas' must be strictly decreasing but sigmas[",
                                 i, "] = ", sigmas[i], " >= sigmas[", i - 1, "] = ", sigmas[i - 1]);
  }
}
}  // namespace detail

struct annealed_langevin_options {
  std::vector<double> sigmas;        ///< σ_1 > ... > σ_L > 0
  index_t steps_per_level = 100;     ///< M
  double step_scale = 2e-5;          ///< ε: δ_i = ε σ_i²/σ_L²
  bool denoise_last = true;          ///< finish with x + σ_L² ŝ(x, σ_L)
};

/// `score(x, sigma)` → ŝ; `noise(x)` → standard normal shaped like x; `z` standard normal (x starts at σ_1 z).
/// Calls `score` L·M times (+1 with denoise_last).
template <diffusion_state X, class ScoreModel, class Noise>
X annealed_langevin_sample(ScoreModel&& score, const X& z, Noise&& noise, const annealed_langevin_options& options) {
  detail::require_decreasing(options.sigmas, "annealed_langevin_sample");
  scorelift::detail::require(options.steps_per_level >= 1, "annealed_langevin_sample",
                             "argument 'options.steps_per_level' is ", options.steps_per_level, " but must be >= 1");
  scorelift::detail::require(options.step_scale > 0.0 && std::isfinite(options.step_scale), "annealed_langevin_sample",
                             "argument 'options.step_scale' is ", options.step_scale, " but must be finite and > 0");
  const double last = options.sigmas.back();
  // The largest step δ_1 = ε (σ_1/σ_L)² must be finite (the ratio, not σ_1²/σ_L², so that only a
  // step that is itself unrepresentable is refused).
  const double largest = options.sigmas.front() / last;
  scorelift::detail::require(std::isfinite(options.step_scale * largest * largest), "annealed_langevin_sample",
                             "the first step size step_scale (sigma_1/sigma_L)² = ", options.step_scale, " × (",
                             options.sigmas.front(), "/", last, ")² overflows");
  X x = detail::scaled(options.sigmas.front(), z);
  for (const double sigma : options.sigmas) {
    const double ratio = sigma / last;
    const double delta = options.step_scale * ratio * ratio;  // ε σ_i²/σ_L²
    for (index_t m = 0; m < options.steps_per_level; ++m) {
      x = detail::lincomb(1.0, x, 0.5 * delta, X(score(static_cast<const X&>(x), sigma)));
      x = detail::lincomb(1.0, x, std::sqrt(delta), X(noise(static_cast<const X&>(x))));
    }
  }
  if (options.denoise_last) x = detail::lincomb(1.0, x, last * last, X(score(static_cast<const X&>(x), last)));
  return x;
}

struct predictor_corrector_options {
  std::vector<double> sigmas;        ///< σ_0 > ... > σ_N > 0: the predictor moves along these
  index_t corrector_steps = 1;       ///< M Langevin steps after each predictor step (0: predictor only)
  double snr = 0.16;                 ///< r
  bool denoise_last = true;          ///< finish with x + σ_N² ŝ(x, σ_N)
};

/// `score(x, sigma)`, `noise(x)`, `z` as above; x starts at σ_0 z.
template <diffusion_state X, class ScoreModel, class Noise>
X predictor_corrector_sample(ScoreModel&& score, const X& z, Noise&& noise,
                             const predictor_corrector_options& options) {
  detail::require_decreasing(options.sigmas, "predictor_corrector_sample");
  scorelift::detail::require(options.corrector_steps >= 0, "predictor_corrector_sample",
                             "argument 'options.corrector_steps' is ", options.corrector_steps, " but must be >= 0");
  // δ = 4 (r σ)² for every σ ≤ σ_0 must be finite.
  const double largest_step = 2.0 * options.snr * options.sigmas.front();
  scorelift::detail::require(options.snr > 0.0 && std::isfinite(largest_step * largest_step), "predictor_corrector_sample",
                             "argument 'options.snr' is ", options.snr,
                             " but must be > 0 and small enough that 4 (snr sigma_0)² is finite (sigma_0 = ",
                             options.sigmas.front(), ")");
  X x = detail::scaled(options.sigmas.front(), z);
  for (std::size_t i = 0; i + 1 < options.sigmas.size(); ++i) {
    const double hi = options.sigmas[i], lo = options.sigmas[i + 1];
    const double dv = hi * hi - lo * lo;
    x = detail::lincomb(1.0, x, dv, X(score(static_cast<const X&>(x), hi)));
    x = detail::lincomb(1.0, x, std::sqrt(dv), X(noise(static_cast<const X&>(x))));
    const double delta = 4.0 * (options.snr * lo) * (options.snr * lo);
    for (index_t m = 0; m < options.corrector_steps; ++m) {
      x = detail::lincomb(1.0, x, 0.5 * delta, X(score(static_cast<const X&>(x), lo)));
      x = detail::lincomb(1.0, x, std::sqrt(delta), X(noise(static_cast<const X&>(x))));
    }
  }
  const double last = options.sigmas.back();
  if (options.denoise_last) x = detail::lincomb(1.0, x, last * last, X(score(static_cast<const X&>(x), last)));
  return x;
}

}  // namespace scorelift::diffusion

// scorelift/diffusion/parameterisation.hpp — what a network predicts, and the exact conversions between
// the four usual choices, for one channel x̃ = α x + σ ε (any α, σ; VP has α² + σ² = 1):
//   ε̂  (noise)             x̂₀ = (x̃ − σ ε̂)/α                 ŝ = −ε̂/σ
//   x̂₀ (denoised / data)   ε̂ = (x̃ − α x̂₀)/σ                 ŝ = (α x̂₀ − x̃)/σ²       (Tweedie)
//   v̂ = α ε̂ − σ x̂₀          x̂₀ = (α x̃ − σ v̂)/(α² + σ²)      ε̂ = (σ x̃ + α v̂)/(α² + σ²)
//   ŝ  (score of p_t)       ε̂ = −σ ŝ                           x̂₀ = (x̃ + σ² ŝ)/α
// (v: Salimans & Ho 2022; the α² + σ² factor is 1 for VP and makes the inversion exact for any channel.)
// Each conversion divides by α or σ only where the quantity is undefined without it: converting a score
// at σ = 0 or a noise prediction at α = 0 is refused rather than returning Inf.
#pragma once

#include <cmath>

#include "scorelift/diffusion/noise_level.hpp"
#include "scorelift/diffusion/state.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

enum class prediction { epsilon, x0, v, score };

namespace detail {
/// `value` > 0 with 1/value² finite: the conversions scale by 1/α, 1/σ or 1/σ², which must not be ∞
/// (α = 1e-200 would turn every finite input into ±∞ silently).
inline void require_positive(double value, const char* where, const char* name) {
  scorelift::detail::require(value > 0.0, where, "noise level has ", name, " = ", value, " but this conversion divides by it");
  scorelift::detail::require(std::isfinite(1.0 / (value * value)) && std::isfinite(value), where, "noise level has ", name,
                             " = ", value, " but this conversion divides by it (or its square), which overflows");
}
/// α² + σ², the divisor of the v-conversions: zero at α = σ = 0, where v = α ε − σ x₀ = 0 carries no
/// information; and its reciprocal must be finite.
inline double v_norm(const noise_level& n, const char* where) {
  const double norm = n.alpha * n.alpha + n.sigma * n.sigma;
  scorelift::detail::require(norm > 0.0 && std::isfinite(norm) && std::isfinite(1.0 / norm), where,
                             "noise level (alpha = ", n.alpha, ", sigma = ", n.sigma,
                             ") has alpha² + sigma² = ", norm, ", which the v-conversion divides by; it must be finite and > 0");
  return norm;
}
}  // namespace detail

template <diffusion_state X>
X x0_from_epsilon(const X& x_noisy, const X& epsilon, const noise_level& n) {
  detail::require_positive(n.alpha, "x0_from_epsilon", "alpha");
  return detail::lincomb(1.0 / n.alpha, x_noisy, -n.sigma / n.alpha, epsilon);
}
template <diffusion_state X>
X epsilon_from_x0(const X& x_noisy, const X& x0, const noise_level& n) {
  detail::require_positive(n.sigma, "epsilon_from_x0", "sigma");
  return detail::lincomb(1.0 / n.sigma, x_noisy, -n.alpha / n.sigma, x0);
}
template <diffusion_state X>
X score_from_epsilon(const X& epsilon, const noise_level& n) {
  detail::require_positive(n.sigma, "score_from_epsilon", "sigma");
  return detail::scaled(-1.0 / n.sigma, epsilon);
}
template <diffusion_state X>
X epsilon_from_score(const X& score, const noise_level& n) {
  return detail::scaled(-n.sigma, score);
}
/// Tweedie: E[x | x̃] = (x̃ + σ² ∇ log p_t(x̃))/α.
template <diffusion_state X>
X x0_from_score(const X& x_noisy, const X& score, const noise_level& n) {
  detail::require_positive(n.alpha, "x0_from_score", "alpha");
  return detail::lincomb(1.0 / n.alpha, x_noisy, n.sigma * n.sigma / n.alpha, score);
}
template <diffusion_state X>
X score_from_x0(const X& x_noisy, const X& x0, const noise_level& n) {
  detail::require_positive(n.sigma, "score_from_x0", "sigma");
  const double inv_var = 1.0 / (n.sigma * n.sigma);
  return detail::lincomb(n.alpha * inv_var, x0, -inv_var, x_noisy);
}
template <diffusion_state X>
X v_from_epsilon_x0(const X& epsilon, const X& x0, const noise_level& n) {
  return detail::lincomb(n.alpha, epsilon, -n.sigma, x0);
}
template <diffusion_state X>
X x0_from_v(const X& x_noisy, const X& v, const noise_level& n) {
  const double norm = detail::v_norm(n, "x0_from_v");
  return detail::lincomb(n.alpha / norm, x_noisy, -n.sigma / norm, v);
}
template <diffusion_state X>
X epsilon_from_v(const X& x_noisy, const X& v, const noise_level& n) {
  const double norm = detail::v_norm(n, "epsilon_from_v");
  return detail::lincomb(n.sigma / norm, x_noisy, n.alpha / norm, v);
}

/// Any prediction → ε̂ (the form DDPM/DDIM consume).
template <diffusion_state X>
X to_epsilon(prediction kind, const X& x_noisy, const X& predicted, const noise_level& n) {
  switch (kind) {
    case prediction::epsilon: return predicted;
    case prediction::x0: return epsilon_from_x0(x_noisy, predicted, n);
    case prediction::v: return epsilon_from_v(x_noisy, predicted, n);
    case prediction::score: return epsilon_from_score(predicted, n);
    default: break;  // a value cast from an integer outside the enumeration
  }
  scorelift::detail::fail("to_epsilon", "argument 'kind' is ", static_cast<int>(kind), " which is not a prediction kind");
}
/// Any prediction → x̂₀ (the form EDM samplers consume).
template <diffusion_state X>
X to_x0(prediction kind, const X& x_noisy, const X& predicted, const noise_level& n) {
  switch (kind) {
    case prediction::epsilon: return x0_from_epsilon(x_noisy, predicted, n);
    case prediction::x0: return predicted;
    case prediction::v: return x0_from_v(x_noisy, predicted, n);
    case prediction::score: return x0_from_score(x_noisy, predicted, n);
    default: break;  // a value cast from an integer outside the enumeration
  }
  scorelift::detail::fail("to_x0", "argument 'kind' is ", static_cast<int>(kind), " which is not a prediction kind");
}
/// Any prediction → ŝ (the form Langevin and the probability-flow ODE consume).
template <diffusion_state X>
X to_score(prediction kind, const X& x_noisy, const X& predicted, const noise_level& n) {
  switch (kind) {
    case prediction::epsilon: return score_from_epsilon(predicted, n);
    case prediction::x0: return score_from_x0(x_noisy, predicted, n);
    case prediction::v: return score_from_epsilon(epsilon_from_v(x_noisy, predicted, n), n);
    case prediction::score: return predicted;
    default: break;  // a value cast from an integer outside the enumeration
  }
  scorelift::detail::fail("to_score", "argument 'kind' is ", static_cast<int>(kind), " which is not a prediction kind");
}

}  // namespace scorelift::diffusion

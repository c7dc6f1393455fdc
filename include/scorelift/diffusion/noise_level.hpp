// scorelift/diffusion/noise_level.hpp — one Gaussian channel x̃ = α x + σ ε, ε ~ N(0, I), and the
// conversions between its coordinates:
//   log-SNR        λ = log(α²/σ²)
//   variance-preserving (α² + σ² = 1):  α² = sigmoid(λ),  σ² = sigmoid(−λ)
//   variance-exploding view of the same channel (divide x̃ by α):  σ_VE = σ/α = exp(−λ/2).
// Every conversion is written so that the two ends stay finite or exactly infinite, never NaN:
// σ = 0 (clean data) has λ = +∞ and σ_VE = 0; α = 0 (pure noise) has λ = −∞ and σ_VE = +∞.
#pragma once

#include <cmath>
#include <limits>

#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

struct noise_level {
  double alpha = 1.0;  ///< signal scale α ≥ 0
  double sigma = 0.0;  ///< noise standard deviation σ ≥ 0

  /// λ = log(α²/σ²) = 2 (log α − log σ); +∞ at σ = 0, −∞ at α = 0.
  /// α = σ = 0 (no channel at all) or a NaN has no log-SNR: refused instead of returning NaN (−∞ + ∞).
  [[nodiscard]] double log_snr() const {
    scorelift::detail::require(alpha >= 0.0 && sigma >= 0.0 && (alpha > 0.0 || sigma > 0.0) &&
                                   (std::isfinite(alpha) || std::isfinite(sigma)),
                               "noise_level::log_snr", "noise level (alpha = ", alpha, ", sigma = ", sigma,
                               ") needs alpha, sigma >= 0, not both 0 and not both infinite");
    return 2.0 * (std::log(alpha) - std::log(sigma));
  }
  /// σ_VE = σ/α: the noise level of x̃/α, the coordinates EDM and VE samplers work in.
  [[nodiscard]] double ve_sigma() const {
    return alpha > 0.0 ? sigma / alpha : std::numeric_limits<double>::infinity();
  }

  /// The variance-preserving channel with log-SNR λ: α² = sigmoid(λ), σ² = sigmoid(−λ).
  /// sigmoid(λ) = 1/(1 + e^{−λ}) is evaluated in the form that does not overflow for |λ| large.
  static noise_level variance_preserving(double lambda) {
    scorelift::detail::require(!std::isnan(lambda), "noise_level::variance_preserving", "argument 'lambda' is NaN");
    return noise_level{std::sqrt(sigmoid(lambda)), std::sqrt(sigmoid(-lambda))};
  }
  /// The variance-preserving channel equivalent (up to the scale α) to x + σ_VE ε:
  /// α = 1/√(1 + σ_VE²), σ = σ_VE/√(1 + σ_VE²).
  static noise_level variance_preserving_from_ve(double ve_sigma) {
    scorelift::detail::require(ve_sigma >= 0.0, "noise_level::variance_preserving_from_ve", "argument 've_sigma' is ",
                    ve_sigma, " but must be >= 0");
    if (std::isinf(ve_sigma)) return noise_level{0.0, 1.0};
    const double norm = std::hypot(1.0, ve_sigma);
    return noise_level{1.0 / norm, ve_sigma / norm};
  }
  /// The variance-exploding channel x + σ ε (α = 1).
  static noise_level variance_exploding(double sigma) {
    scorelift::detail::require(sigma >= 0.0, "noise_level::variance_exploding", "argument 'sigma' is ", sigma,
                    " but must be >= 0");
    return noise_level{1.0, sigma};
  }

  static double sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
    const double e = std::exp(x);
    return e / (1.0 + e);
  }
};

}  // namespace scorelift::diffusion

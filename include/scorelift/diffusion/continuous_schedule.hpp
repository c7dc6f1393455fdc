// scorelift/diffusion/continuous_schedule.hpp — continuous-time schedules t ∈ [0, 1] ↦ (α(t), σ(t)),
// with the two derivatives the probability-flow ODE needs.
//
// For x̃_t = α(t) x + σ(t) ε the forward SDE dx = f(t) x dt + g(t) dw has f = d log α/dt and
// g² = dσ²/dt − 2 f σ² = −σ² dλ/dt (λ = log α²/σ²), so every schedule here provides
//   alpha(t), sigma(t), log_snr(t), d_log_alpha(t) = α'/α, d_log_snr(t) = λ'.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <numbers>

#include "scorelift/diffusion/noise_level.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

namespace detail {
/// Every schedule is defined on t ∈ [0, 1]; NaN fails both comparisons.
inline void require_unit_time(double t, const char* where) {
  scorelift::detail::require(t >= 0.0 && t <= 1.0, where, "argument 't' is ", t, " but must lie in [0, 1]");
}
}  // namespace detail

template <class S>
concept continuous_schedule = requires(const S& s, double t) {
  { s.level(t) } -> std::same_as<noise_level>;
  { s.d_log_alpha(t) } -> std::convertible_to<double>;
  { s.d_log_snr(t) } -> std::convertible_to<double>;
};

/// VP-SDE with linear β(t) = β_min + t(β_max − β_min) (Song et al. 2021, the continuum limit of DDPM):
///   log α(t) = −¼ t² (β_max − β_min) − ½ t β_min,   σ² = 1 − α² = −expm1(2 log α).
struct vp_linear_schedule {
  double beta_min = 0.1;
  double beta_max = 20.0;

  /// Checks the parameters (0 ≤ β_min ≤ β_max, β_max > 0, both finite: β ≥ 0 keeps α decreasing, and
  /// β ≡ 0 would leave σ ≡ 0 and λ' = 0/0) and t ∈ [0, 1]. Every member below calls it: the fields are
  /// public, so this is where they enter.
  void validate(double t, const char* where) const {
    scorelift::detail::require(std::isfinite(beta_min) && std::isfinite(beta_max) && beta_min >= 0.0 &&
                                   beta_max >= beta_min && beta_max > 0.0,
                               where, "vp_linear_schedule needs 0 <= beta_min <= beta_max, beta_max > 0, both finite, "
                               "but has beta_min = ", beta_min, ", beta_max = ", beta_max);
    detail::require_unit_time(t, where);
  }
  [[nodiscard]] double log_alpha(double t) const {
    validate(t, "vp_linear_schedule::log_alpha");
    return -0.25 * t * t * (beta_max - beta_min) - 0.5 * t * beta_min;
  }
  [[nodiscard]] noise_level level(double t) const {
    const double la = log_alpha(t);
    return noise_level{std::exp(la), std::sqrt(-std::expm1(2.0 * la))};
  }
  /// α'/α = −½ β(t).
  [[nodiscard]] double d_log_alpha(double t) const {
    validate(t, "vp_linear_schedule::d_log_alpha");
    return -0.5 * (beta_min + t * (beta_max - beta_min));
  }
  /// λ = 2 log α − log(1 − α²)  ⇒  λ' = 2 (α'/α) / (1 − α²).
  [[nodiscard]] double d_log_snr(double t) const { return 2.0 * d_log_alpha(t) / -std::expm1(2.0 * log_alpha(t)); }
};

/// Continuous iDDPM cosine: α(t) = cos(u(t)) / cos(u(0)), u(t) = π/2 · (t + s)/(1 + s), σ = √(1 − α²).
/// Evaluated through the complement v = π/2 − u = π/2 · (1 − t)/(1 + s), cos u = sin v, so that α(1) = 0
/// exactly (not cos(π/2) ≈ 6e-17): λ(1) = −∞ and α'/α = −∞ there, which samplers refuse — start them
/// slightly below t = 1 (the discrete schedule clips β at 0.999 for the same reason).
struct vp_cosine_schedule {
  double s = 0.008;

  /// Checks s (finite and > 0, as cosine_schedule) and t ∈ [0, 1]; v() calls it, so every member does.
  void validate(double t, const char* where) const {
    scorelift::detail::require(std::isfinite(s) && s > 0.0, where, "vp_cosine_schedule has s = ", s,
                               " but needs s finite and > 0");
    detail::require_unit_time(t, where);
  }
  [[nodiscard]] double v(double t) const {
    validate(t, "vp_cosine_schedule");
    return std::numbers::pi / 2.0 * (1.0 - t) / (1.0 + s);
  }
  [[nodiscard]] noise_level level(double t) const {
    const double alpha = std::sin(v(t)) / std::sin(v(0.0));
    return noise_level{alpha, std::sqrt(std::max(0.0, (1.0 - alpha) * (1.0 + alpha)))};
  }
  /// α'/α = −tan(u) · u' = −cot(v) · π/2/(1 + s).
  [[nodiscard]] double d_log_alpha(double t) const {
    const double sin_v = std::sin(v(t));
    if (sin_v == 0.0) return -std::numeric_limits<double>::infinity();
    return -std::cos(v(t)) / sin_v * std::numbers::pi / 2.0 / (1.0 + s);
  }
  /// λ' = 2 (α'/α) / σ².
  [[nodiscard]] double d_log_snr(double t) const {
    const noise_level n = level(t);
    return 2.0 * d_log_alpha(t) / (n.sigma * n.sigma);
  }
};

/// VE-SDE (Song & Ermon; Song et al. 2021): α = 1, σ(t) = σ_min (σ_max/σ_min)^t, λ = −2 log σ.
struct ve_schedule {
  double sigma_min = 0.01;
  double sigma_max = 50.0;

  /// Checks 0 < σ_min < σ_max < ∞ (σ_min = 0 makes log(σ_max/σ_min) infinite; σ_min ≥ σ_max runs the
  /// noise backwards or not at all, λ' ≥ 0) and t ∈ [0, 1].
  void validate(double t, const char* where) const {
    scorelift::detail::require(sigma_min > 0.0 && sigma_max > sigma_min && std::isfinite(sigma_max), where,
                               "ve_schedule needs 0 < sigma_min < sigma_max, both finite, but has sigma_min = ",
                               sigma_min, ", sigma_max = ", sigma_max);
    detail::require_unit_time(t, where);
  }
  [[nodiscard]] noise_level level(double t) const {
    validate(t, "ve_schedule::level");
    return noise_level{1.0, sigma_min * std::pow(sigma_max / sigma_min, t)};
  }
  [[nodiscard]] double d_log_alpha(double t) const {
    validate(t, "ve_schedule::d_log_alpha");
    return 0.0;
  }
  /// λ' = −2 d log σ/dt = −2 log(σ_max/σ_min).
  [[nodiscard]] double d_log_snr(double t) const {
    validate(t, "ve_schedule::d_log_snr");
    return -2.0 * std::log(sigma_max / sigma_min);
  }
};

static_assert(continuous_schedule<vp_linear_schedule>);
static_assert(continuous_schedule<vp_cosine_schedule>);
static_assert(continuous_schedule<ve_schedule>);

}  // namespace scorelift::diffusion

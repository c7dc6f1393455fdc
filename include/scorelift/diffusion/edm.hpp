// scorelift/diffusion/edm.hpp — the EDM design (Karras et al. 2022) in variance-exploding coordinates
// x = y + σ n, y ~ data (std σ_data), n ~ N(0, I):
//   training noise      ln σ ~ N(P_mean, P_std²)                       (P_mean = −1.2, P_std = 1.2)
//   preconditioning     D(x; σ) = c_skip x + c_out F(c_in x; c_noise)
//       c_skip = σ_d² / (σ² + σ_d²),  c_out = σ σ_d / √(σ² + σ_d²),  c_in = 1 / √(σ² + σ_d²),  c_noise = ¼ ln σ
//   loss weight         λ(σ) = (σ² + σ_d²) / (σ σ_d)² = 1 / c_out²   (so the target of F has unit weight)
//   sampling steps      σ_i = (σ_max^{1/ρ} + i/(N−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, i < N,  σ_N = 0
#pragma once

#include <cmath>
#include <vector>

#include "scorelift/detail/checked_arithmetic.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

namespace detail {
/// σ_data enters every coefficient squared and as a divisor: it must be finite and > 0.
inline void require_sigma_data(double sigma_data, const char* where) {
  scorelift::detail::require(sigma_data > 0.0 && std::isfinite(sigma_data), where, "argument 'sigma_data' is ",
                             sigma_data, " but must be finite and > 0");
}
}  // namespace detail

struct edm_config {
  double sigma_data = 0.5;
  double p_mean = -1.2;
  double p_std = 1.2;
  double sigma_min = 0.002;
  double sigma_max = 80.0;
  double rho = 7.0;
};

struct edm_preconditioning {
  double c_skip;
  double c_out;
  double c_in;
  double c_noise;

  /// The four coefficients at noise level σ > 0 (c_noise = ¼ ln σ is −∞ at σ = 0, so σ = 0 is refused).
  static edm_preconditioning at(double sigma, double sigma_data = 0.5) {
    scorelift::detail::require(sigma > 0.0 && std::isfinite(sigma), "edm_preconditioning::at", "argument 'sigma' is ", sigma,
                    " but must be finite and > 0");
    detail::require_sigma_data(sigma_data, "edm_preconditioning::at");
    // In h = √(σ² + σ_d²) = hypot(σ, σ_d), which does not overflow for σ ≳ 1e154 as σ² + σ_d² would:
    //   c_skip = (σ_d/h)²,  c_out = σ_d (σ/h),  c_in = 1/h.
    const double h = std::hypot(sigma, sigma_data);
    const double ratio = sigma_data / h;
    return edm_preconditioning{ratio * ratio, sigma_data * (sigma / h), 1.0 / h, 0.25 * std::log(sigma)};
  }
};

/// λ(σ) = (σ² + σ_d²)/(σ σ_d)²: the EDM weight on ‖D(x; σ) − y‖².
/// Written as 1/σ_d² + 1/σ², which is finite wherever the weight is (the quotient form is ∞/∞ for σ ≳ 1e154).
inline double edm_loss_weight(double sigma, double sigma_data = 0.5) {
  scorelift::detail::require(sigma > 0.0 && std::isfinite(sigma), "edm_loss_weight", "argument 'sigma' is ", sigma,
                             " but must be finite and > 0");
  detail::require_sigma_data(sigma_data, "edm_loss_weight");
  const double weight = 1.0 / (sigma_data * sigma_data) + 1.0 / (sigma * sigma);
  scorelift::detail::require(std::isfinite(weight), "edm_loss_weight", "the weight 1/sigma_data² + 1/sigma² overflows at sigma = ",
                             sigma, ", sigma_data = ", sigma_data);
  return weight;
}

namespace detail {
/// Every field of an EDM config: σ_data > 0, P_std > 0, 0 < σ_min < σ_max and ρ > 0, all finite
/// (ρ = ∞ makes every σ_i^{1/ρ} = 1 and the schedule constant; σ_max = ∞ makes it NaN).
inline void require_edm_config(const edm_config& config, const char* where) {
  require_sigma_data(config.sigma_data, where);
  scorelift::detail::require(std::isfinite(config.p_mean) && config.p_std > 0.0 && std::isfinite(config.p_std), where,
                             "config needs finite p_mean and finite p_std > 0 but has p_mean = ", config.p_mean,
                             ", p_std = ", config.p_std);
  scorelift::detail::require(config.sigma_min > 0.0 && config.sigma_max > config.sigma_min &&
                                 std::isfinite(config.sigma_max) && config.rho > 0.0 && std::isfinite(config.rho),
                             where, "config needs 0 < sigma_min < sigma_max and rho > 0, all finite, but has sigma_min = ",
                             config.sigma_min, ", sigma_max = ", config.sigma_max, ", rho = ", config.rho);
}
}  // namespace detail

/// σ = exp(P_mean + P_std z) for a standard normal draw z: the training noise distribution.
/// A draw so far out that σ over- or underflows (|z| ≳ 590 with the defaults) is refused, not returned as ∞ or 0.
inline double edm_training_sigma(double standard_normal, const edm_config& config = {}) {
  detail::require_edm_config(config, "edm_training_sigma");
  const double sigma = std::exp(config.p_mean + config.p_std * standard_normal);
  scorelift::detail::require(sigma > 0.0 && std::isfinite(sigma), "edm_training_sigma", "argument 'standard_normal' is ",
                             standard_normal, ": sigma = exp(p_mean + p_std z) = ", sigma, " is not finite and > 0");
  return sigma;
}

/// The N + 1 sampling noise levels σ_0 = σ_max > ... > σ_{N−1} = σ_min > σ_N = 0.
inline std::vector<double> edm_sigma_steps(index_t steps, const edm_config& config = {}) {
  scorelift::detail::require(steps >= 2, "edm_sigma_steps", "argument 'steps' is ", steps, " but must be >= 2");
  detail::require_edm_config(config, "edm_sigma_steps");
  const double first = std::pow(config.sigma_max, 1.0 / config.rho);
  const double last = std::pow(config.sigma_min, 1.0 / config.rho);
  // N + 1 entries: σ_N = 0 closes the schedule (N = PTRDIFF_MAX would wrap to a negative size).
  const index_t count = scorelift::detail::checked_add(steps, 1, "edm_sigma_steps", "steps + 1");
  std::vector<double> sigmas(static_cast<std::size_t>(count), 0.0);
  for (index_t i = 0; i < steps; ++i) {
    const double u = static_cast<double>(i) / static_cast<double>(steps - 1);
    sigmas[static_cast<std::size_t>(i)] = std::pow(first + u * (last - first), config.rho);
  }
  return sigmas;  // sigmas[steps] = 0
}

}  // namespace scorelift::diffusion

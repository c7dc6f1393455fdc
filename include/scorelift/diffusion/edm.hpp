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

#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

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
    const double total = sigma * sigma + sigma_data * sigma_data;
    return edm_preconditioning{sigma_data * sigma_data / total, sigma * sigma_data / std::sqrt(total),
                               1.0 / std::sqrt(total), 0.25 * std::log(sigma)};
  }
};

/// λ(σ) = (σ² + σ_d²)/(σ σ_d)²: the EDM weight on ‖D(x; σ) − y‖².
inline double edm_loss_weight(double sigma, double sigma_data = 0.5) {
  scorelift::detail::require(sigma > 0.0, "edm_loss_weight", "argument 'sigma' is ", sigma, " but must be > 0");
  return (sigma * sigma + sigma_data * sigma_data) / (sigma * sigma * sigma_data * sigma_data);
}

/// σ = exp(P_mean + P_std z) for a standard normal draw z: the training noise distribution.
inline double edm_training_sigma(double standard_normal, const edm_config& config = {}) {
  return std::exp(config.p_mean + config.p_std * standard_normal);
}

/// The N + 1 sampling noise levels σ_0 = σ_max > ... > σ_{N−1} = σ_min > σ_N = 0.
inline std::vector<double> edm_sigma_steps(index_t steps, const edm_config& config = {}) {
  scorelift::detail::require(steps >= 2, "edm_sigma_steps", "argument 'steps' is ", steps, " but must be >= 2");
  scorelift::detail::require(config.sigma_min > 0.0 && config.sigma_max > config.sigma_min && config.rho > 0.0, "edm_sigma_steps",
                  "config needs 0 < sigma_min < sigma_max and rho > 0 but has sigma_min = ", config.sigma_min,
                  ", sigma_max = ", config.sigma_max, ", rho = ", config.rho);
  const double first = std::pow(config.sigma_max, 1.0 / config.rho);
  const double last = std::pow(config.sigma_min, 1.0 / config.rho);
  std::vector<double> sigmas(static_cast<std::size_t>(steps + 1), 0.0);
  for (index_t i = 0; i < steps; ++i) {
    const double u = static_cast<double>(i) / static_cast<double>(steps - 1);
    sigmas[static_cast<std::size_t>(i)] = std::pow(first + u * (last - first), config.rho);
  }
  return sigmas;  // sigmas[steps] = 0
}

}  // namespace scorelift::diffusion

// scorelift/diffusion/torch/edm_training.hpp — training a diffusion model in EDM's formulation (Karras et
// al. 2022) with the library's DSM and LDSE losses (diffusion_loss.hpp).
//
// Noising. σ_b = exp(P_mean + P_std z_b), z_b ~ N(0, 1), and x̃_b = x_b + σ_b n_b (variance exploding:
// α = 1, λ = −2 ln σ).
//
// The denoiser. D(x̃; σ) = c_skip x̃ + c_out Σ_l κ_l F_l(c_in x̃; c_noise) with the coefficients of
// edm.hpp and the networks' raw outputs F_l. Its noise prediction is ε̂ = (x̃ − D)/σ, split into modes
//   ε̂_1 = ((1 − c_skip) x̃ − c_out F_1)/σ,   ε̂_l = −c_out F_l/σ  (l ≥ 2),
// so that Σ_l κ_l ε̂_l = (x̃ − D)/σ when κ_1 = +1 (the skip term rides on the first mode).
//
// The loss. Because x̃ − σn = x, ε̂ − n = (x − D)/σ, and EDM's regression λ(σ)‖D − x‖² with
// λ(σ) = (σ² + σ_d²)/(σ σ_d)² is λσ² ‖ε̂ − n‖² = w_ε ‖ε̂ − n‖² with w_ε = (σ² + σ_d²)/σ_d² =
// (e^{−λ} + σ_d²)/σ_d²: diffusion_loss with `epsilon_weighting::edm` on these modes. For DSM that is EDM's
// loss (times ½); for asymmetric LDSE the product of halves weighs a pair by w_ε(σ₁) w_ε(σ₂).
//
// Signs per noise bin. The sign tracker needs a discrete level per sample: ln σ is cut into `bins` equal
// intervals over [ln σ_min, ln σ_max] (draws outside fall in the end bins), and noised_batch::timesteps
// holds bin + 1, as the discrete schedule's t does.
#pragma once

#include <torch/torch.h>

#include <cmath>

#include "scorelift/diffusion/edm.hpp"
#include "scorelift/diffusion/torch/schedule_tensors.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion::torch_ext {

/// What the networks F_l see: c_in x̃ and c_noise = ¼ ln σ [B].
struct edm_network_inputs {
  torch::Tensor x;
  torch::Tensor noise;
};

class edm_noising {
 public:
  /// `bins` ≥ 1 sign bins of ln σ over [σ_min, σ_max] of `config`.
  explicit edm_noising(const edm_config& config = {}, index_t bins = 32) : config_(config), bins_(bins) {
    diffusion::detail::require_edm_config(config, "edm_noising");
    scorelift::detail::require(bins >= 1, "edm_noising", "argument 'bins' is ", bins, " but must be >= 1");
  }

  [[nodiscard]] const edm_config& config() const { return config_; }
  [[nodiscard]] index_t bins() const { return bins_; }

  /// Noise the clean batch x [B, ...] with σ_b drawn from the training distribution (LibTorch's default
  /// generator: seed it with torch::manual_seed for reproducible runs).
  [[nodiscard]] noised_batch add_noise(const torch::Tensor& x) const {
    require_batch(x, "edm_noising::add_noise");
    const auto per_sample = torch::randn({x.size(0)}, x.options());
    const torch::Tensor sigma = torch::exp(config_.p_mean + config_.p_std * per_sample);
    return at_sigmas(x, sigma, torch::randn_like(x));
  }

  /// The noised batch for given σ [B] (finite, > 0) and noise n shaped like x.
  [[nodiscard]] noised_batch at_sigmas(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& noise) const {
    constexpr const char* where = "edm_noising::at_sigmas";
    require_batch(x, where);
    scorelift::detail::require(sigma.dim() == 1 && sigma.size(0) == x.size(0), where, "argument 'sigma' has shape ",
                               scorelift::detail::tensor_shape_string(sigma), " but [", x.size(0), "] was expected");
    scorelift::detail::require(noise.sizes() == x.sizes(), where, "argument 'noise' has shape ",
                               scorelift::detail::tensor_shape_string(noise), " but 'x' has shape ",
                               scorelift::detail::tensor_shape_string(x));
    scorelift::detail::require(torch::isfinite(sigma).all().item<bool>() && (sigma > 0).all().item<bool>(), where,
                               "argument 'sigma' has values that are not finite and > 0");
    noised_batch out;
    out.sigma = sigma;
    out.alpha = torch::ones_like(sigma);
    out.log_snr = -2.0 * torch::log(sigma);
    out.timesteps = bin_of(sigma) + 1;
    out.epsilon = noise;
    out.x_noisy = x + schedule_tensors::broadcast(sigma, x) * noise;
    return out;
  }

  /// The sign bin of each σ: ⌊K (ln σ − ln σ_min)/(ln σ_max − ln σ_min)⌋ clamped to [0, K − 1], int64.
  [[nodiscard]] torch::Tensor bin_of(const torch::Tensor& sigma) const {
    const double low = std::log(config_.sigma_min), width = std::log(config_.sigma_max) - low;
    const torch::Tensor position = (torch::log(sigma.to(torch::kFloat64)) - low) / width * static_cast<double>(bins_);
    return position.floor().clamp(0, static_cast<double>(bins_ - 1)).to(torch::kInt64);
  }

  /// c_in x̃ and c_noise for the networks.
  [[nodiscard]] edm_network_inputs network_inputs(const torch::Tensor& x_noisy, const torch::Tensor& sigma) const {
    const torch::Tensor h = torch::hypot(sigma, torch::full_like(sigma, config_.sigma_data));
    return {x_noisy / schedule_tensors::broadcast(h, x_noisy), 0.25 * torch::log(sigma)};
  }

  /// The noise-prediction modes [L, B, ...] of the preconditioned denoiser from the networks' raw
  /// outputs F [L, B, ...] at (x̃, σ): ε̂_1 = ((1 − c_skip) x̃ − c_out F_1)/σ, ε̂_l = −c_out F_l/σ.
  [[nodiscard]] torch::Tensor epsilon_modes(const torch::Tensor& raw_modes, const torch::Tensor& x_noisy,
                                            const torch::Tensor& sigma) const {
    scorelift::detail::require(raw_modes.dim() == x_noisy.dim() + 1 && raw_modes.sizes().slice(1).equals(x_noisy.sizes()),
                               "edm_noising::epsilon_modes", "argument 'raw_modes' has shape ",
                               scorelift::detail::tensor_shape_string(raw_modes), " but [L] + ",
                               scorelift::detail::tensor_shape_string(x_noisy), " was expected");
    const double sd = config_.sigma_data;
    const torch::Tensor h = torch::hypot(sigma, torch::full_like(sigma, sd));
    // 1 − c_skip = σ²/h², so (1 − c_skip)/σ = σ/h²; c_out/σ = σ_d/h.
    const torch::Tensor skip = schedule_tensors::broadcast(sigma / (h * h), x_noisy) * x_noisy;
    const torch::Tensor scale = schedule_tensors::broadcast(sd / h, x_noisy).unsqueeze(0);
    torch::Tensor modes = -scale * raw_modes;
    return torch::cat({(modes[0] + skip).unsqueeze(0), modes.narrow(0, 1, raw_modes.size(0) - 1)});
  }

  /// D(x̃; σ) = x̃ − σ ε̂ from a combined noise prediction ε̂ (diffusion_loss.hpp's combine_modes).
  [[nodiscard]] static torch::Tensor denoised(const torch::Tensor& x_noisy, const torch::Tensor& sigma,
                                              const torch::Tensor& epsilon) {
    return x_noisy - schedule_tensors::broadcast(sigma, x_noisy) * epsilon;
  }

 private:
  static void require_batch(const torch::Tensor& x, const char* where) {
    scorelift::detail::require(x.defined() && x.dim() >= 2 && x.size(0) >= 1, where, "argument 'x' has shape ",
                               scorelift::detail::tensor_shape_string(x), " but [B, ...] with B >= 1 was expected");
  }

  edm_config config_;
  index_t bins_;
};

}  // namespace scorelift::diffusion::torch_ext

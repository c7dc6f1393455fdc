// scorelift/diffusion/torch/clipped_denoising.hpp — iDDPM's clip_denoised for samplers that consume ε̂.
//
// On the cosine schedule α_T ≈ 5e-5 (β_T clipped at 0.999), so the first sampling step's x̂₀ = (x − σ ε̂)/α
// multiplies any error in ε̂ by 1/α_T ≈ 2·10⁴: a learned model that is slightly off at t = T throws samples
// far outside the data. Clipping x̂₀ to the data range and handing the sampler the matching
//   ε̂' = (x − α clip(x̂₀))/σ
// keeps every step inside it; with the exact ε̂ and a range that contains the data it changes nothing.
#pragma once

#include <torch/torch.h>

#include "scorelift/diffusion/noise_level.hpp"
#include "scorelift/diffusion/parameterisation.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion::torch_ext {

/// ε̂' = ε_from_x0(x, clamp(x0_from_ε(x, ε̂), low, high)) at the channel n.
inline torch::Tensor epsilon_with_clipped_x0(const torch::Tensor& x, const torch::Tensor& epsilon, const noise_level& n,
                                             double low, double high) {
  scorelift::detail::require(low < high, "epsilon_with_clipped_x0", "arguments 'low' = ", low, " and 'high' = ", high,
                             " must satisfy low < high");
  return epsilon_from_x0(x, torch::Tensor(x0_from_epsilon(x, epsilon, n).clamp(low, high)), n);
}

}  // namespace scorelift::diffusion::torch_ext

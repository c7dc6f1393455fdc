// scorelift/torch/targets/gaussian_mixture.hpp — equal-weight isotropic Gaussian mixtures with a
// closed-form score, and the two suite members built from them: the 2-D eight Gaussians and a
// 32-D mixture on vertices of the hypercube.
//
//   p(x) = (1/K) Σ_k N(x; c_k, σ² I),
//   s(x) = Σ_k w_k(x) (c_k − x) / σ²,   w_k(x) = softmax_k(−‖x − c_k‖² / (2σ²)).
//
// ‖x − c_k‖² = ‖x‖² − 2⟨x, c_k⟩ + ‖c_k‖², and ‖x‖² is common to every k, so the responsibilities are
// softmax_k(⟨x, c_k⟩/σ² − ‖c_k‖²/(2σ²)): one [B, D] × [D, K] product, no [B, K, D] intermediate,
// and the softmax subtracts the row maximum, so far-away points do not underflow to 0/0.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <utility>

#include "scorelift/torch/targets/target.hpp"

namespace scorelift::torch_ext {

class gaussian_mixture {
 public:
  /// `centres` is [K, D] (any dtype; kept in double on the CPU and cast on use), σ > 0.
  gaussian_mixture(std::string name, torch::Tensor centres, double sigma)
      : name_(std::move(name)), centres_(centres.to(torch::kFloat64).to(torch::kCPU).contiguous()), sigma_(sigma) {
    scorelift::detail::require(centres_.dim() == 2 && centres_.size(0) > 0 && centres_.size(1) > 0, "gaussian_mixture",
                               "argument 'centres' has shape ", scorelift::detail::tensor_shape_string(centres),
                               " but [K, D] with K, D >= 1 was expected");
    scorelift::detail::require(sigma > 0 && std::isfinite(sigma), "gaussian_mixture", "argument 'sigma' is ", sigma,
                               " but must be positive and finite");
  }

  std::string name() const { return name_; }
  index_t dim() const { return centres_.size(1); }
  index_t components() const { return centres_.size(0); }
  double sigma() const { return sigma_; }
  const torch::Tensor& centres() const { return centres_; }

  torch::Tensor sample(index_t n, at::Generator& gen, torch::TensorOptions options) const {
    detail::require_sample_request(n, options, "gaussian_mixture::sample");
    const auto cpu = detail::cpu_like(options);
    const auto which = torch::randint(0, components(), {n}, gen, torch::TensorOptions().dtype(torch::kLong));
    const auto noise = torch::randn({n, dim()}, gen, cpu);
    return (centres_.to(cpu).index_select(0, which) + sigma_ * noise).to(options.device());
  }

  torch::Tensor score(const torch::Tensor& x) const {
    detail::require_points(x, dim(), "gaussian_mixture::score");
    const auto c = centres_.to(x.options());
    const double inv_var = 1.0 / (sigma_ * sigma_);
    // logits_k = ⟨x, c_k⟩/σ² − ‖c_k‖²/(2σ²)  (the −‖x‖²/(2σ²) shared by all k cancels in the softmax)
    const auto logits = inv_var * (torch::matmul(x, c.t()) - 0.5 * c.pow(2).sum(1));
    const auto w = torch::softmax(logits, 1);    // [B, K]
    return inv_var * (torch::matmul(w, c) - x);  // Σ_k w_k (c_k − x)/σ², as Σ_k w_k = 1
  }

 private:
  std::string name_;
  torch::Tensor centres_;
  double sigma_;
};

/// Eight Gaussians on a circle of radius 4/√2, standard deviation 0.5/√2, equal weights (D = 2).
inline gaussian_mixture eight_gaussians() {
  const double radius = 4.0 / std::numbers::sqrt2;
  auto centres = torch::empty({8, 2}, torch::kFloat64);
  for (int k = 0; k < 8; ++k) {
    const double angle = 2.0 * std::numbers::pi * k / 8.0;
    centres[k][0] = radius * std::cos(angle);
    centres[k][1] = radius * std::sin(angle);
  }
  return gaussian_mixture("eight_gaussians", centres, 0.5 / std::numbers::sqrt2);
}

/// K vertices of the hypercube {−1, +1}^D drawn uniformly with `seed` (repeats are possible but have
/// probability below K²/2^{D+1}), standard deviation
/// σ (0.5 by default: neighbouring vertices are 2 apart, so the modes are separated by 4σ or more).
inline gaussian_mixture hypercube_mixture(index_t dim = 32, index_t components = 16, double sigma = 0.5,
                                          std::uint64_t seed = 2024) {
  scorelift::detail::require(dim > 0 && components > 0, "hypercube_mixture", "arguments 'dim' = ", dim,
                             " and 'components' = ", components, " must be positive");
  auto gen = at::detail::createCPUGenerator(seed);
  const auto bits = torch::randint(0, 2, {components, dim}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  return gaussian_mixture("hypercube_mixture_" + std::to_string(dim) + "d", 2.0 * bits - 1.0, sigma);
}

static_assert(KnownScoreTarget<gaussian_mixture>);

}  // namespace scorelift::torch_ext

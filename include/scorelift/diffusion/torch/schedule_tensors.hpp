// scorelift/diffusion/torch/schedule_tensors.hpp — a discrete VP schedule as lookup tables on a device,
// and the forward (noising) process for a training batch.
//
// Training draws t_b ∈ {1..T} for each sample (asymmetric LDSE, DSM) or one t for the whole batch
// (symmetric LDSE), ε_b ~ N(0, I), and forms x̃_b = α_{t_b} x_b + σ_{t_b} ε_b.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/diffusion/discrete_schedule.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion::torch_ext {

/// One noised training batch (every per-sample tensor is [B]).
struct noised_batch {
  torch::Tensor x_noisy;    ///< x̃ = α x + σ ε, shaped like x
  torch::Tensor epsilon;    ///< ε, shaped like x
  torch::Tensor timesteps;  ///< t_b ∈ {1..T}, int64
  torch::Tensor alpha;      ///< α_{t_b}
  torch::Tensor sigma;      ///< σ_{t_b}
  torch::Tensor log_snr;    ///< λ_{t_b}
};

class schedule_tensors {
 public:
  /// Tables of α_t, σ_t, λ_t for t = 0..T (index t), in `dtype` on `device`.
  schedule_tensors(const discrete_schedule& schedule, torch::Dtype dtype, torch::Device device)
      : steps_(schedule.steps()) {
    std::vector<double> alpha, sigma, lambda;
    for (index_t t = 0; t <= steps_; ++t) {
      const noise_level n = schedule.level(t);
      alpha.push_back(n.alpha);
      sigma.push_back(n.sigma);
      lambda.push_back(schedule.log_snr(t));  // +∞ at t = 0, never drawn for training
    }
    const auto to = torch::TensorOptions().dtype(dtype).device(device);
    alpha_ = torch::tensor(alpha, torch::kFloat64).to(to);
    sigma_ = torch::tensor(sigma, torch::kFloat64).to(to);
    log_snr_ = torch::tensor(lambda, torch::kFloat64).to(to);
  }

  [[nodiscard]] index_t steps() const { return steps_; }
  [[nodiscard]] const torch::Tensor& alpha() const { return alpha_; }
  [[nodiscard]] const torch::Tensor& sigma() const { return sigma_; }
  [[nodiscard]] const torch::Tensor& log_snr() const { return log_snr_; }

  /// Noise the clean batch x [B, ...]: each sample its own uniform timestep (`shared_timestep` false)
  /// or one timestep for the batch. Draws from LibTorch's default generator (seed it with
  /// torch::manual_seed for reproducible runs).
  [[nodiscard]] noised_batch add_noise(const torch::Tensor& x, bool shared_timestep = false) const {
    scorelift::detail::require(x.defined() && x.dim() >= 2 && x.size(0) >= 1, "schedule_tensors::add_noise",
                               "argument 'x' has shape ", scorelift::detail::tensor_shape_string(x),
                               " but [B, ...] with B >= 1 was expected");
    const auto index_options = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
    torch::Tensor t = shared_timestep ? torch::randint(1, steps_ + 1, {1}, index_options).expand({x.size(0)})
                                      : torch::randint(1, steps_ + 1, {x.size(0)}, index_options);
    return at_timesteps(x, t.contiguous(), torch::randn_like(x));
  }

  /// The noised batch for given timesteps t [B] (int64 in 1..T) and noise ε shaped like x.
  [[nodiscard]] noised_batch at_timesteps(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& eps) const {
    constexpr const char* where = "schedule_tensors::at_timesteps";
    scorelift::detail::require(t.dim() == 1 && t.size(0) == x.size(0) && t.scalar_type() == torch::kInt64, where,
                               "argument 't' (", scorelift::detail::tensor_description(t), ") must be int64 [B] with B = ",
                               x.size(0));
    scorelift::detail::require(eps.sizes() == x.sizes(), where, "argument 'eps' has shape ",
                               scorelift::detail::tensor_shape_string(eps), " but 'x' has shape ",
                               scorelift::detail::tensor_shape_string(x));
    scorelift::detail::require(t.min().item<int64_t>() >= 1 && t.max().item<int64_t>() <= steps_, where,
                               "argument 't' has values outside [1, ", steps_, "]");
    noised_batch out;
    out.timesteps = t;
    out.alpha = alpha_.index_select(0, t);
    out.sigma = sigma_.index_select(0, t);
    out.log_snr = log_snr_.index_select(0, t);
    out.epsilon = eps;
    out.x_noisy = broadcast(out.alpha, x) * x + broadcast(out.sigma, x) * eps;
    return out;
  }

  /// A per-sample vector [B] reshaped to broadcast against x [B, ...].
  static torch::Tensor broadcast(const torch::Tensor& per_sample, const torch::Tensor& x) {
    std::vector<int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
    shape[0] = per_sample.size(0);
    return per_sample.reshape(shape);
  }

 private:
  index_t steps_;
  torch::Tensor alpha_, sigma_, log_snr_;
};

}  // namespace scorelift::diffusion::torch_ext

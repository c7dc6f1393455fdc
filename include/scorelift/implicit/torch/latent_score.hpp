// scorelift/implicit/torch/latent_score.hpp — score estimators of an encoder's latent distribution,
// the ŝ(z) (marginal, WAE) or ŝ(z | x) (conditional, implicit VAE) whose stop-gradient enters the
// entropy surrogate (entropy_surrogate.hpp).
//
// Parametric estimators are residual stacks of L MLPs f_l(z [, x]) trained on the encoder's current
// samples, one RMSProp step per autoencoder step (the alternation of the paper's §6.1):
//   * SSM-VR and residual SSM (L ≥ 1):  ŝ = Σ_l f_l,        torch_ext::residual_score_matching_loss;
//   * LSE and residual LSE (L ≥ 1):     ŝ = Σ_l κ_l f_l,    torch_ext::lifted_residual_loss,
// with ⟨s, f_l⟩ = −tr ∇_z f_l estimated by Hutchinson (Rademacher probes, one double backward)
// and the signs κ_l tracked by an EMA (β = 0.5) of the residual alignment, one global sign per
// level (the paper reports that a single sign independent of x works for the VAE too).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"
#include "scorelift/objectives/score_batch.hpp"
#include "scorelift/residual/score_estimate.hpp"
#include "scorelift/residual/sign_tracker.hpp"
#include "scorelift/torch/mlp.hpp"
#include "scorelift/torch/objective_functions.hpp"

namespace scorelift::implicit {

/// What the autoencoder's training loop asks of a latent score estimator.
namespace detail {

/// Hutchinson's estimate of tr ∇_z f(z) per sample, mean over `probes` Rademacher probes v:
/// vᵀ ∇_z f v = vᵀ ∇_z ⟨v, f⟩ (one extra backward each), with the graph kept for training.
inline torch::Tensor hutchinson_divergence(const torch::Tensor& f, const torch::Tensor& z, index_t probes) {
  torch::Tensor total = torch::zeros({f.size(0)}, f.options());
  for (index_t m = 0; m < probes; ++m) {
    const torch::Tensor v = torch::randint(0, 2, f.sizes(), f.options()).mul_(2).sub_(1);
    const torch::Tensor jv = torch::autograd::grad({(f * v).sum()}, {z}, {}, /*retain_graph=*/true,
                                                   /*create_graph=*/true)[0];
    total = total + (jv * v).sum(1);
  }
  return total / static_cast<double>(probes);
}

}  // namespace detail

class latent_score_estimator {
 public:
  virtual ~latent_score_estimator() = default;
  /// One update on encoder samples z [N, D] (detached) with context x [N, C] (undefined for a
  /// marginal estimator). Returns the estimator's loss, NaN when it has none (nonparametric).
  virtual double train_step(const torch::Tensor& z, const torch::Tensor& context) = 0;
  /// ŝ(z [| x]) [N, D], without a graph.
  virtual torch::Tensor score(const torch::Tensor& z, const torch::Tensor& context) = 0;
  /// Samples of z per context that `score` needs (rows grouped in consecutive blocks); 1 = any.
  virtual index_t particles() const { return 1; }
};

enum class score_objective { ssm_vr, lse };

struct parametric_score_options {
  score_objective objective = score_objective::lse;
  index_t levels = 1;        // L: 1 = plain SSM-VR / LSE, > 1 = residual stack
  index_t latent_dim = 8;    // D_z
  index_t context_dim = 0;   // dimension of x for a conditional estimator s(z | x); 0 = marginal
  index_t hidden = 128;
  index_t depth = 2;
  index_t probes = 1;        // Hutchinson probes per sample
  double learning_rate = 1e-3;
  double sign_decay = 0.5;   // β of the sign tracker's EMA
};

/// A residual stack of MLPs trained with (residual) SSM-VR or (residual) LSE.
class parametric_latent_score final : public latent_score_estimator {
 public:
  explicit parametric_latent_score(const parametric_score_options& options)
      : options_(options), signs_(options.levels, options.sign_decay) {
    scorelift::detail::require(options.levels >= 1 && options.latent_dim >= 1 && options.probes >= 1,
                    "parametric_latent_score", "options levels = ", options.levels, ", latent_dim = ",
                    options.latent_dim, ", probes = ", options.probes, " must be positive");
    std::vector<torch::Tensor> parameters;
    for (index_t l = 0; l < options.levels; ++l) {
      levels_.emplace_back(torch_ext::mlp_options{.input_dim = options.latent_dim,
                                                  .output_dim = options.latent_dim,
                                                  .hidden = options.hidden,
                                                  .depth = options.depth,
                                                  .condition_dim = options.context_dim});
      for (const auto& p : levels_.back()->parameters()) parameters.push_back(p);
    }
    optimizer_ = std::make_unique<torch::optim::RMSprop>(
        parameters, torch::optim::RMSpropOptions(options.learning_rate));
  }

  double train_step(const torch::Tensor& z_in, const torch::Tensor& context) override {
    const torch::Tensor z = z_in.detach().requires_grad_(true);
    std::vector<torch::Tensor> modes;
    std::vector<torch::Tensor> divergences;
    for (auto& net : levels_) {
      modes.push_back(evaluate(net, z, context));
      // tr ∇_z f_l by Hutchinson, with the graph kept so that the loss reaches the parameters.
      divergences.push_back(detail::hutchinson_divergence(modes.back(), z, options_.probes));
    }
    optimizer_->zero_grad();
    double value = 0.0;
    if (options_.objective == score_objective::lse) {
      const auto out =
          torch_ext::lifted_residual_loss(modes, {.divergence = torch::stack(divergences), .signs = signs_tensor(z)});
      out.loss.backward();
      signs_.update(out.residual_alignment);
      value = out.loss.item<double>();
    } else {
      value = residual_ssm_backward(modes, divergences);
    }
    optimizer_->step();
    return value;
  }

  /// ŝ = Σ_l κ_l f_l (LSE) or Σ_l f_l (residual SSM: its stack is sign-free, r_{l+1} = r_l − f_l).
  torch::Tensor score(const torch::Tensor& z, const torch::Tensor& context) override {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> modes;
    for (auto& net : levels_) modes.push_back(evaluate(net, z, context));
    return z.scalar_type() == torch::kFloat64 ? signed_sum<double>(modes) : signed_sum<float>(modes);
  }

  const parametric_score_options& options() const { return options_; }

 private:
  torch::Tensor evaluate(torch_ext::MLP& net, const torch::Tensor& z, const torch::Tensor& context) {
    return options_.context_dim > 0 ? net->forward(z, context) : net->forward(z);
  }
  /// Residual SSM-VR: the core's value and closed-form gradients in the modes and divergences,
  /// carried into the parameters by autograd (backward with those gradients as seeds).
  static double residual_ssm_backward(const std::vector<torch::Tensor>& modes,
                                      const std::vector<torch::Tensor>& divergences) {
    return modes.front().scalar_type() == torch::kFloat64 ? residual_ssm_backward<double>(modes, divergences)
                                                          : residual_ssm_backward<float>(modes, divergences);
  }
  template <class Scalar>
  static double residual_ssm_backward(const std::vector<torch::Tensor>& modes,
                                      const std::vector<torch::Tensor>& divergences) {
    using backend = torch_backend<Scalar>;
    score_batch<backend> batch;
    for (const auto& f : modes) batch.modes.push_back(f.detach());
    for (const auto& d : divergences) batch.divergence.push_back(d.detach());
    const auto result = residual_score_matching_loss(batch);
    std::vector<torch::Tensor> outputs = modes;
    std::vector<torch::Tensor> seeds = result.grad_modes;
    outputs.insert(outputs.end(), divergences.begin(), divergences.end());
    seeds.insert(seeds.end(), result.grad_divergence.begin(), result.grad_divergence.end());
    torch::autograd::backward(outputs, seeds);
    return result.value;
  }
  template <class Scalar>
  torch::Tensor signed_sum(const std::vector<torch::Tensor>& modes) const {
    using backend = torch_backend<Scalar>;
    const auto signs = options_.objective == score_objective::lse
                           ? signs_.signs_for<backend>(modes.front().size(0), modes.front())
                           : std::vector<torch::Tensor>{};
    return score_estimate<backend>(modes, signs);
  }
  torch::Tensor signs_tensor(const torch::Tensor& like) const {
    const auto kappa = signs_.signs();
    return torch::tensor(std::vector<double>(kappa.begin(), kappa.end()), like.options().requires_grad(false));
  }

  parametric_score_options options_;
  std::vector<torch_ext::MLP> levels_;
  std::unique_ptr<torch::optim::RMSprop> optimizer_;
  sign_tracker signs_;
};

}  // namespace scorelift::implicit

// scorelift/implicit/torch/trainer.hpp — one training step of an implicit VAE / WAE / Gaussian VAE:
// the latent score estimator takes `score_steps` RMSProp steps (paper §6.1: one), then the
// autoencoder one. More score steps per encoder step shrink the lag of ŝ behind the moving q_φ,
// whose entropy gradient the surrogate carries (entropy_gradient_fidelity.hpp measures it).
//
// Losses minimised by the autoencoder step (per image, averaged over the batch and the particles):
//   Gaussian VAE   −log p(x|z) + KL(q(z|x) ‖ N(0, I))                              (closed form)
//   implicit VAE   −log p(x|z) − log p(z) + ⟨stopgrad ŝ(z | x), z⟩                 (−h(q(z|x)) by the surrogate)
//   WAE            ‖x − x̂(z)‖² − log p(z) + ⟨stopgrad ŝ(z), z⟩                     (KL(q(z)‖p) = −E log p − h(q(z)))
// The score estimator is updated first, on fresh encoder samples held constant (its own loss),
// then evaluated on the samples the autoencoder step differentiates.
#pragma once

#include <torch/torch.h>

#include <limits>
#include <memory>

#include "scorelift/errors.hpp"
#include "scorelift/implicit/torch/autoencoders.hpp"
#include "scorelift/implicit/torch/entropy_surrogate.hpp"
#include "scorelift/implicit/torch/latent_score.hpp"

namespace scorelift::implicit {

struct step_report {
  double loss = 0.0;        // the autoencoder's loss (with the surrogate, so not the objective's value)
  double score_loss = 0.0;  // the estimator's loss (NaN for nonparametric estimators and the Gaussian VAE)
};

class implicit_trainer {
 public:
  /// `estimator` may be null only for the Gaussian VAE (its entropy is known in closed form).
  /// The estimator keeps its own optimiser and learning rate (e.g. parametric_score_options).
  implicit_trainer(Autoencoder model, std::shared_ptr<latent_score_estimator> estimator, double learning_rate,
                   index_t score_steps = 1)
      : model_(std::move(model)),
        estimator_(std::move(estimator)),
        optimizer_(model_->parameters(), torch::optim::RMSpropOptions(learning_rate)),
        score_steps_(score_steps) {
    scorelift::detail::require(score_steps >= 1, "implicit_trainer", "argument 'score_steps' is ", score_steps,
                               " but at least 1 score-estimator step per autoencoder step was expected");
    const bool gaussian = model_->options().kind == autoencoder_kind::gaussian_vae;
    scorelift::detail::require(gaussian || estimator_ != nullptr, "implicit_trainer", "a ", to_string(model_->options().kind),
                    " needs a latent score estimator (argument 'estimator' is null)");
  }

  /// One alternating step on images x [B, data_dim].
  step_report step(const torch::Tensor& images) {
    const auto& options = model_->options();
    scorelift::detail::require(images.dim() == 2 && images.size(1) == options.data_dim && images.size(0) >= 2,
                    "implicit_trainer::step", "argument 'images' has shape ", scorelift::detail::tensor_shape_string(images),
                    " but [B, ", options.data_dim, "] with B >= 2 was expected");
    const index_t particles = estimator_ ? estimator_->particles() : 1;
    // Blocks of K consecutive rows share one image (the layout nonparametric estimators expect).
    const torch::Tensor x = particles > 1 ? images.repeat_interleave(particles, 0) : images;
    const bool conditional = options.kind == autoencoder_kind::implicit_vae;
    const torch::Tensor context = conditional ? x : torch::Tensor();
    const auto noise = [&] { return torch::randn({x.size(0), options.latent_dim}, x.options()); };

    step_report report;
    report.score_loss = std::numeric_limits<double>::quiet_NaN();
    for (index_t k = 0; estimator_ && k < score_steps_; ++k) {  // fresh samples each step
      torch::Tensor z;
      {
        torch::NoGradGuard no_grad;
        z = model_->encode(x, noise()).z;
      }
      report.score_loss = estimator_->train_step(z, context);  // the last step's loss
    }

    const encoding code = model_->encode(x, noise());
    const torch::Tensor logits = model_->decode_logits(code.z);
    torch::Tensor loss;
    switch (options.kind) {
      case autoencoder_kind::gaussian_vae:
        loss = (negative_log_likelihood(logits, x) + gaussian_kl_to_standard(code.mean, code.log_std)).mean();
        break;
      case autoencoder_kind::implicit_vae:
        loss = (negative_log_likelihood(logits, x) + negative_log_prior(code.z)).mean() +
               entropy_gradient_surrogate(code.z, estimator_->score(code.z.detach(), context));
        break;
      case autoencoder_kind::wae:
        loss = (squared_error(torch::sigmoid(logits), x) + negative_log_prior(code.z)).mean() +
               entropy_gradient_surrogate(code.z, estimator_->score(code.z.detach(), context));
        break;
      default:  // a value cast from an integer outside the enumeration
        scorelift::detail::fail("implicit_trainer::step", "options.kind is ", static_cast<int>(options.kind),
                                " which is not an autoencoder_kind");
    }
    optimizer_.zero_grad();
    loss.backward();
    optimizer_.step();
    report.loss = loss.item<double>();
    return report;
  }

  Autoencoder& model() { return model_; }

 private:
  Autoencoder model_;
  std::shared_ptr<latent_score_estimator> estimator_;
  torch::optim::RMSprop optimizer_;
  index_t score_steps_ = 1;
};

}  // namespace scorelift::implicit

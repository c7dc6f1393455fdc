// scorelift/implicit/torch/trainer.hpp — one training step of an implicit VAE / WAE / Gaussian VAE:
// a trainable latent score estimator takes `score_steps` RMSProp steps, then the autoencoder one.
// More score steps per encoder step shrink the lag of ŝ behind the moving q_φ, whose entropy gradient
// the surrogate carries (entropy_gradient_fidelity.hpp measures it). The paper (§6.1) alternates one
// step each; the default here is 8 (default_score_steps), chosen from measurements on Fashion-MNIST
// (benchmarks/RESULTS.md, issue 25): with one step the SSM / LSE nets deliver < 1 % of the exact
// entropy gradient's length, the implicit posterior collapses and the −ELBO is 16–20 nats worse than
// the Gaussian posterior's; with 8 the implicit VAE with SSM matches it, at about 4× the step time.
//
// Losses minimised by the autoencoder step (per image, averaged over the batch and the particles):
//   Gaussian VAE   −log p(x|z) + KL(q(z|x) ‖ N(0, I))                              (closed form)
//   implicit VAE   −log p(x|z) − log p(z) + ⟨stopgrad ŝ(z | x), z⟩                 (−h(q(z|x)) by the surrogate)
//   WAE            ‖x − x̂(z)‖² − log p(z) + ⟨stopgrad ŝ(z), z⟩                     (KL(q(z)‖p) = −E log p − h(q(z)))
// A Gaussian VAE given an estimator is the test bench of the estimated entropy gradient: it is trained
// like the implicit VAE (the surrogate with ŝ(z | x)), but its exact score s(z | x) = −(z − μ)/σ² is known,
// so every `fidelity_every` steps the step also reports entropy_gradient_fidelity of ŝ against s on the
// encoder's parameters, on the very z the step differentiates: the estimator is judged on the moving
// posterior it is trained to follow, lag included.
// The score estimator is updated first, on fresh encoder samples held constant (its own loss),
// then evaluated on the samples the autoencoder step differentiates.
#pragma once

#include <torch/torch.h>

#include <any>
#include <limits>
#include <memory>
#include <optional>

#include "scorelift/errors.hpp"
#include "scorelift/implicit/torch/autoencoders.hpp"
#include "scorelift/implicit/torch/entropy_gradient_fidelity.hpp"
#include "scorelift/implicit/torch/entropy_surrogate.hpp"
#include "scorelift/implicit/torch/latent_score.hpp"

namespace scorelift::implicit {

struct step_report {
  double loss = 0.0;        // the autoencoder's loss (with the surrogate, so not the objective's value)
  double score_loss = 0.0;  // the estimator's loss (NaN for nonparametric estimators and the Gaussian VAE)
  /// ŝ against the exact score on this step's z (Gaussian VAE with an estimator, every fidelity_every steps).
  std::optional<entropy_gradient_fidelity_report> fidelity{};
};

/// Score-estimator updates per autoencoder update unless told otherwise (see the header comment).
inline constexpr index_t default_score_steps = 8;

class implicit_trainer {
 public:
  /// `estimator` may be null only for the Gaussian VAE (its entropy is known in closed form); given one, the
  /// Gaussian VAE is trained through it and reports the fidelity every `fidelity_every` steps (0: never).
  /// The estimator keeps its own optimiser and learning rate (e.g. parametric_score_options).
  implicit_trainer(Autoencoder model, std::shared_ptr<latent_score_estimator> estimator, double learning_rate,
                   index_t score_steps = default_score_steps, index_t fidelity_every = 0)
      : model_(std::move(model)),
        estimator_(std::move(estimator)),
        optimizer_(model_->parameters(), torch::optim::RMSpropOptions(learning_rate)),
        score_steps_(score_steps),
        fidelity_every_(fidelity_every) {
    scorelift::detail::require(score_steps >= 1, "implicit_trainer", "argument 'score_steps' is ", score_steps,
                               " but at least 1 score-estimator step per autoencoder step was expected");
    scorelift::detail::require(fidelity_every >= 0, "implicit_trainer", "argument 'fidelity_every' is ", fidelity_every,
                               " but must be >= 0 (0: no fidelity reports)");
    const bool gaussian = model_->options().kind == autoencoder_kind::gaussian_vae;
    scorelift::detail::require(gaussian || estimator_ != nullptr, "implicit_trainer", "a ", to_string(model_->options().kind),
                    " needs a latent score estimator (argument 'estimator' is null)");
  }

  /// One alternating step on images x [B, data_dim]. A step that throws leaves everything as it was: the
  /// autoencoder, its optimiser and the step count (the autoencoder's update is the last thing it does),
  /// and the score estimator, whose updates come first and are undone from its snapshot(). (The global
  /// random stream it drew from moves on, as after any call that draws.)
  step_report step(const torch::Tensor& images) {
    const auto& options = model_->options();
    scorelift::detail::require(images.dim() == 2 && images.size(1) == options.data_dim && images.size(0) >= 2,
                    "implicit_trainer::step", "argument 'images' has shape ", scorelift::detail::tensor_shape_string(images),
                    " but [B, ", options.data_dim, "] with B >= 2 was expected");
    scorelift::detail::require(torch::isfinite(images).all().item<bool>(), "implicit_trainer::step",
                               "argument 'images' of shape ", scorelift::detail::tensor_shape_string(images),
                               " holds NaN or Inf");
    const bool updates_estimator = estimator_ && estimator_->trainable();
    const std::any before = updates_estimator ? estimator_->snapshot() : std::any{};
    try {
      return unchecked_step(images);
    } catch (...) {
      if (updates_estimator) estimator_->restore(before);
      throw;
    }
  }

  Autoencoder& model() { return model_; }

 private:
  step_report unchecked_step(const torch::Tensor& images) {
    const auto& options = model_->options();
    const index_t particles = estimator_ ? estimator_->particles() : 1;
    // Blocks of K consecutive rows share one image (the layout nonparametric estimators expect).
    const torch::Tensor x = particles > 1 ? images.repeat_interleave(particles, 0) : images;
    const bool conditional = options.kind != autoencoder_kind::wae;  // s(z | x) for both VAEs
    const torch::Tensor context = conditional ? x : torch::Tensor();
    const auto noise = [&] { return torch::randn({x.size(0), options.latent_dim}, x.options()); };

    step_report report;
    report.score_loss = std::numeric_limits<double>::quiet_NaN();
    const index_t score_updates = estimator_ && estimator_->trainable() ? score_steps_ : 0;
    for (index_t k = 0; k < score_updates; ++k) {  // fresh samples each step
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
    if (!estimator_) {  // the Gaussian VAE with its entropy in closed form
      loss = (negative_log_likelihood(logits, x) + gaussian_kl_to_standard(code.mean, code.log_std)).mean();
    } else {  // −h by the surrogate with ŝ held constant, for every other model
      const torch::Tensor estimated = estimator_->score(code.z.detach(), context);
      const bool gaussian = options.kind == autoencoder_kind::gaussian_vae;
      if (gaussian && fidelity_every_ > 0 && (steps_ + 1) % fidelity_every_ == 0) {  // the test bench: judged against s
        // s(z | x) = −(z − μ)/σ², constant in the surrogate (as ŝ is).
        const torch::Tensor exact = (-(code.z - code.mean) * (-2.0 * code.log_std).exp()).detach();
        report.fidelity = entropy_gradient_fidelity(code.z, estimated, exact, model_->encoder_parameters());
      }
      const torch::Tensor reconstruction = options.kind == autoencoder_kind::wae
                                               ? squared_error(torch::sigmoid(logits), x)
                                               : negative_log_likelihood(logits, x);
      loss = (reconstruction + negative_log_prior(code.z)).mean() + entropy_gradient_surrogate(code.z, estimated);
    }
    optimizer_.zero_grad();
    loss.backward();
    optimizer_.step();
    ++steps_;  // last: a step that threw above is not counted (nor is its fidelity report skipped)
    report.loss = loss.item<double>();
    return report;
  }

  Autoencoder model_;
  std::shared_ptr<latent_score_estimator> estimator_;
  torch::optim::RMSprop optimizer_;
  index_t score_steps_ = 1;
  index_t fidelity_every_ = 0;
  index_t steps_ = 0;  // autoencoder steps taken
};

}  // namespace scorelift::implicit

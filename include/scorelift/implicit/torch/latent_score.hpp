// scorelift/implicit/torch/latent_score.hpp — score estimators of an encoder's latent distribution,
// the ŝ(z) (marginal, WAE) or ŝ(z | x) (conditional, implicit VAE) whose stop-gradient enters the
// entropy surrogate (entropy_surrogate.hpp).
//
// Parametric estimators are residual stacks of L MLPs f_l(z [, x]) trained on the encoder's current
// samples, one RMSProp step per autoencoder step (the alternation of the paper's §6.1):
//   * SSM-VR and residual SSM (L ≥ 1):  ŝ = Σ_l f_l,        torch_ext::residual_score_matching_loss;
//   * LSE and residual LSE (L ≥ 1):     ŝ = Σ_l κ_l f_l,    torch_ext::lifted_residual_loss,
// with ⟨s, f_l⟩ = −tr ∇_z f_l estimated by Hutchinson (Rademacher probes, torch/hutchinson.hpp)
// and the signs κ_l tracked by an EMA (β = 0.5) of the residual alignment, one global sign per
// level (the paper reports that a single sign independent of x works for the VAE too).
#pragma once

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <any>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"

namespace scorelift::implicit {

/// What the autoencoder's training loop asks of a latent score estimator.
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
  /// False for an estimator with nothing to fit (nonparametric: every `score` call refits on its own
  /// samples), so the trainer does not draw samples for updates that would do nothing.
  virtual bool trainable() const { return true; }
  /// A copy of everything train_step changes, and its undo: the trainer takes one before a step's
  /// estimator updates and restores it if the step throws after them, so a failed step leaves the
  /// estimator as it was. The default holds nothing (for an estimator whose train_step changes nothing).
  virtual std::any snapshot() const { return {}; }
  virtual void restore(const std::any& /*snapshot*/) {}
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

/// A residual stack of MLPs (torch_ext::ResidualStack, signs included) trained with (residual)
/// SSM-VR or (residual) LSE on Hutchinson divergences.
class parametric_latent_score final : public latent_score_estimator {
 public:
  explicit parametric_latent_score(const parametric_score_options& options)
      : options_(options),
        stack_(torch_ext::residual_stack_options{.network = {.input_dim = options.latent_dim,
                                                             .output_dim = options.latent_dim,
                                                             .hidden = options.hidden,
                                                             .depth = options.depth,
                                                             .condition_dim = options.context_dim},
                                                 .levels = options.levels,
                                                 .noise_levels = 1,
                                                 .beta = options.sign_decay}),
        optimizer_(stack_->parameters(), torch::optim::RMSpropOptions(options.learning_rate)),
        // Probes drawn from the global stream once, so torch::manual_seed fixes the whole run.
        probe_generator_(at::detail::createCPUGenerator(
            static_cast<std::uint64_t>(torch::randint(1LL << 40, {1}, torch::kInt64).item<int64_t>()))) {}

  double train_step(const torch::Tensor& z, const torch::Tensor& context) override {
    // Refused before the probes are drawn, so that a bad batch leaves the probe stream where it was
    // (the losses would refuse non-finite modes only after the draw).
    scorelift::detail::require(z.defined() && torch::isfinite(z).all().item<bool>(), "parametric_latent_score::train_step",
                               "argument 'z' of shape ", scorelift::detail::tensor_shape_string(z), " holds NaN or Inf");
    // All L levels' divergences in one backward pass: level l reads its own copy of z.
    const auto model = [&](const torch::Tensor& leaf) { return stack_->forward(leaf, context); };
    const auto div = torch_ext::hutchinson_divergence(model, z, {.probes = options_.probes}, probe_generator_,
                                                      options_.levels);
    torch_ext::objective_output out;
    if (options_.objective == score_objective::lse) {
      out = torch_ext::lifted_residual_loss(div.outputs,
                                            {.divergence = div.divergence, .signs = stack_->signs(div.outputs)});
    } else {
      out = torch_ext::residual_score_matching_loss(div.outputs, {.divergence = div.divergence});
    }
    optimizer_.zero_grad();
    out.loss.backward();
    optimizer_.step();
    // Residual SSM's stack is sign-free (r_{l+1} = r_l − f_l): its signs stay +1.
    if (options_.objective == score_objective::lse) stack_->update_signs(out.residual_alignment);
    return out.loss.item<double>();
  }

  /// Deep copies of the stack's parameters and buffers (the soft signs), RMSProp's per-parameter state and
  /// the probe stream. RMSProp updates its averages in place, so they are cloned, not shared.
  std::any snapshot() const override {
    saved_state saved;
    saved.probe_generator = probe_generator_.clone();
    for (const auto& t : stack_->parameters()) saved.parameters.push_back(t.detach().clone());
    for (const auto& t : stack_->buffers()) saved.buffers.push_back(t.clone());
    for (const auto& [key, state] : optimizer_.state())
      saved.optimizer.emplace(key, deep_copy(static_cast<const torch::optim::RMSpropParamState&>(*state)));
    return std::make_shared<const saved_state>(std::move(saved));  // std::any needs a copyable value
  }

  /// Puts back a snapshot of this estimator, in place: the optimiser keys its state by the parameters.
  void restore(const std::any& snapshot) override {
    const auto* held = std::any_cast<std::shared_ptr<const saved_state>>(&snapshot);
    scorelift::detail::require(held != nullptr && *held != nullptr, "parametric_latent_score::restore",
                               "argument 'snapshot' was not taken by parametric_latent_score::snapshot");
    const saved_state& saved = **held;
    auto parameters = stack_->parameters();
    auto buffers = stack_->buffers();
    scorelift::detail::require(saved.parameters.size() == parameters.size() && saved.buffers.size() == buffers.size(),
                               "parametric_latent_score::restore", "argument 'snapshot' holds ",
                               saved.parameters.size(), " parameters and ", saved.buffers.size(),
                               " buffers but this estimator has ", parameters.size(), " and ", buffers.size());
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(saved.parameters[i]);
      for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved.buffers[i]);
    }
    std::remove_cvref_t<decltype(optimizer_.state())> state;  // entries the failed step added go too
    for (const auto& [key, entry] : saved.optimizer) state.emplace(key, deep_copy(*entry));
    optimizer_.state() = std::move(state);
    probe_generator_ = saved.probe_generator.clone();
  }

  /// ŝ = Σ_l κ_l f_l (κ ≡ +1 for residual SSM).
  torch::Tensor score(const torch::Tensor& z, const torch::Tensor& context) override {
    torch::NoGradGuard no_grad;
    return stack_->score(z, context);
  }

  const parametric_score_options& options() const { return options_; }
  torch_ext::ResidualStack& stack() { return stack_; }

 private:
  using optimizer_state_map = std::remove_cvref_t<decltype(std::declval<torch::optim::RMSprop&>().state())>;
  struct saved_state {
    std::vector<torch::Tensor> parameters, buffers;
    std::map<optimizer_state_map::key_type, std::unique_ptr<torch::optim::RMSpropParamState>> optimizer;
    at::Generator probe_generator;
  };

  static std::unique_ptr<torch::optim::RMSpropParamState> deep_copy(const torch::optim::RMSpropParamState& state) {
    auto copy = std::make_unique<torch::optim::RMSpropParamState>(state);
    const auto clone = [](const torch::Tensor& t) { return t.defined() ? t.clone() : t; };
    copy->square_avg(clone(state.square_avg()));
    copy->momentum_buffer(clone(state.momentum_buffer()));
    copy->grad_avg(clone(state.grad_avg()));
    return copy;
  }

  parametric_score_options options_;
  torch_ext::ResidualStack stack_;
  torch::optim::RMSprop optimizer_;
  at::Generator probe_generator_;
};

}  // namespace scorelift::implicit

// scorelift/torch/weight_ema.hpp — an exponential moving average of a module's parameters, the weights
// that diffusion models sample from (iDDPM and EDM both do):
//
//   θ̄₀ = θ₀,   θ̄ₜ = β θ̄ₜ₋₁ + (1 − β) θₜ   after each optimiser step t,
//
// so θ̄ₜ = βᵗ θ₀ + (1 − β) Σ_{s=1..t} β^{t−s} θ_s: a window of about 1/(1 − β) steps. With `warmup`
// the decay is min(β, (1 + t)/(10 + t)), so that the first steps (far from where training goes) are
// forgotten quickly instead of lingering for 1/(1 − β) steps.
//
// Only parameters are averaged. Buffers (a residual stack's signs) belong to the live model and stay
// as they are when the average is swapped in for sampling: they are statistics of the data, not weights.
// The averages live on the parameters' device, in their dtype, and go into checkpoints (save / load).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scorelift/errors.hpp"

namespace scorelift::torch_ext {

struct weight_ema_options {
  double decay = 0.999;  // β in [0, 1)
  bool warmup = false;   // β_t = min(β, (1 + t)/(10 + t))
};

class weight_ema {
 public:
  /// Starts the average at `model`'s current parameters.
  weight_ema(torch::nn::Module& model, const weight_ema_options& options = {}) : options_(options) {
    using scorelift::detail::require;  // not torch_ext::detail, which other headers declare
    constexpr const char* where = "weight_ema";
    require(std::isfinite(options.decay) && options.decay >= 0.0 && options.decay < 1.0, where,
            "option 'decay' is ", options.decay, " but must be in [0, 1)");
    torch::NoGradGuard no_grad;
    for (const auto& p : model.parameters()) averages_.push_back(p.detach().clone());
  }

  /// θ̄ ← β_t θ̄ + (1 − β_t) θ with `model`'s parameters after an optimiser step.
  void update(torch::nn::Module& model) {
    const auto parameters = matching_parameters(model, "weight_ema::update");
    const double beta = current_decay();
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < averages_.size(); ++i) averages_[i].lerp_(parameters[i].detach(), 1.0 - beta);
    ++updates_;
  }

  /// Swaps the averaged and the live parameters of `model` (call again to swap back): sample from
  /// the average, then resume training from the live weights. Copies values, so the parameters keep
  /// their storage (an optimiser's state, or flat_adam's views of one buffer, stay valid). Do not
  /// update() while swapped.
  void swap_into(torch::nn::Module& model) {
    auto parameters = matching_parameters(model, "weight_ema::swap_into");
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < averages_.size(); ++i) {
      torch::Tensor live = parameters[i].detach().clone();
      parameters[i].copy_(averages_[i]);
      averages_[i] = std::move(live);
    }
  }

  const std::vector<torch::Tensor>& averages() const { return averages_; }
  std::int64_t updates() const { return updates_; }
  /// β_t for the next update.
  double current_decay() const {
    if (!options_.warmup) return options_.decay;
    const double t = static_cast<double>(updates_);
    return std::min(options_.decay, (1.0 + t) / (10.0 + t));
  }

  void save(torch::serialize::OutputArchive& archive) const {
    archive.write("decay", torch::tensor(options_.decay, torch::kFloat64));
    archive.write("updates", torch::tensor(updates_, torch::kInt64));
    archive.write("count", torch::tensor(static_cast<std::int64_t>(averages_.size()), torch::kInt64));
    for (std::size_t i = 0; i < averages_.size(); ++i) archive.write("average" + std::to_string(i), averages_[i]);
  }

  /// Reads what save wrote. All or nothing: a count, shape or dtype that differs from this average's
  /// is refused naming it, and the average is left as it was.
  void load(torch::serialize::InputArchive& archive) {
    using scorelift::detail::require;
    constexpr const char* where = "weight_ema::load";
    torch::Tensor count, updates;
    archive.read("count", count);
    archive.read("updates", updates);
    require(count.numel() == 1 && count.item<std::int64_t>() == static_cast<std::int64_t>(averages_.size()),
            where, "the archive holds ", count.numel() == 1 ? count.item<std::int64_t>() : -1,
            " averaged tensors but this model has ", averages_.size(), " parameters");
    require(updates.numel() == 1 && updates.item<std::int64_t>() >= 0, where,
            "the archive's update count is not a non-negative number");
    std::vector<torch::Tensor> loaded(averages_.size());
    for (std::size_t i = 0; i < averages_.size(); ++i) {
      archive.read("average" + std::to_string(i), loaded[i]);
      require(loaded[i].sizes() == averages_[i].sizes() && loaded[i].dtype() == averages_[i].dtype(), where,
              "averaged tensor ", i, " has shape ", loaded[i].sizes(), " but the parameter has shape ",
              averages_[i].sizes());
      loaded[i] = loaded[i].to(averages_[i].device());
    }
    averages_ = std::move(loaded);
    updates_ = updates.item<std::int64_t>();
  }

 private:
  std::vector<torch::Tensor> matching_parameters(torch::nn::Module& model, const char* where) const {
    using scorelift::detail::require;
    auto parameters = model.parameters();
    require(parameters.size() == averages_.size(), where, "argument 'model' has ", parameters.size(),
            " parameters but the average was started with ", averages_.size());
    // Every parameter is checked before any is touched: update() and swap_into() then cannot fail
    // half-way (lerp_/copy_ refuse a dtype change), leaving some averages advanced and others not.
    for (std::size_t i = 0; i < parameters.size(); ++i)
      require(parameters[i].sizes() == averages_[i].sizes() && parameters[i].device() == averages_[i].device() &&
                  parameters[i].dtype() == averages_[i].dtype(),
              where, "parameter ", i, " of 'model' has shape ", parameters[i].sizes(), " (", parameters[i].dtype(),
              ") on ", parameters[i].device(), " but the average has shape ", averages_[i].sizes(), " (",
              averages_[i].dtype(), ") on ", averages_[i].device());
    return parameters;
  }

  weight_ema_options options_;
  std::vector<torch::Tensor> averages_;
  std::int64_t updates_ = 0;
};

}  // namespace scorelift::torch_ext

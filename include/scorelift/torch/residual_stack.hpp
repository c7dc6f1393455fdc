// scorelift/torch/residual_stack.hpp — a residual score model as one LibTorch module: L networks
// f_1..f_L and the sign state κ that turns them into a score estimate ŝ(x) = Σ_l κ_l f_l(x).
//
// The signs are state, not parameters: the soft signs A (residual/sign_tracker.hpp: EMA with β of
// the residual alignment, κ = sgn A) are a registered buffer of shape [noise_levels, L] — one row
// for global signs, one per timestep / noise level for diffusion — so torch::save / torch::load
// carry them with the weights, bit for bit. The EMA itself is the core's sign_tracker, run on a copy
// of the buffer (a few hundred doubles at most per update).
//
// forward(x) evaluates every level on the same x [B, D]; forward(x) with x of shape [L, B, D] lets
// level l read x[l] only — that is what torch/hutchinson.hpp needs to take all L divergences in one
// backward pass.
#pragma once

#include <torch/torch.h>

#include <span>
#include <string>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/residual/score_estimate.hpp"
#include "scorelift/residual/sign_tracker.hpp"
#include "scorelift/torch/mlp.hpp"

namespace scorelift::torch_ext {

struct residual_stack_options {
  mlp_options network{};     // the architecture of every level
  index_t levels = 1;        // L
  index_t noise_levels = 1;  // 1: global signs; T: one sign per timestep / noise level and mode
  double beta = 0.5;         // EMA decay of the soft signs (the paper's 0.5)
};

class ResidualStackImpl : public torch::nn::Module {
 public:
  explicit ResidualStackImpl(const residual_stack_options& options) : options_(options) {
    // The tracker validates noise_levels and beta with its own messages (same names); it calls the
    // levels 'modes', so they are checked here under the option's name.
    scorelift::detail::require(options.levels >= 1, "ResidualStack", "argument 'options.levels' is ", options.levels,
                               " but at least one level is needed");
    const sign_tracker fresh(options.levels, options.noise_levels, options.beta);
    for (index_t l = 0; l < options.levels; ++l) networks_->push_back(MLP(options.network));
    register_module("networks", networks_);
    soft_signs_ = register_buffer("soft_signs", torch::zeros({options.noise_levels, options.levels}, torch::kFloat64));
  }

  const residual_stack_options& options() const { return options_; }
  index_t levels() const { return options_.levels; }

  /// The unsigned modes f_l: [L, B, D]. `x` is [B, D] (shared) or [L, B, D] (level l reads x[l]);
  /// `c` is the optional conditioning input [B, k] of every level.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c = {}) {
    constexpr const char* where = "ResidualStack::forward";
    scorelift::detail::require(x.defined() && (x.dim() == 2 || (x.dim() == 3 && x.size(0) == levels())), where,
                               "argument 'x' has shape ", scorelift::detail::tensor_shape_string(x),
                               " but [B, D] or [L, B, D] with L = ", levels(), " was expected");
    std::vector<torch::Tensor> modes;
    for (index_t l = 0; l < levels(); ++l) modes.push_back(network(l)(x.dim() == 2 ? x : x.select(0, l), c));
    return torch::stack(modes);
  }

  /// Level l's network.
  MLP network(index_t l) const { return MLP(networks_->ptr<MLPImpl>(static_cast<std::size_t>(l))); }

  /// The EMA state as the core's tracker (a copy: store it back with `set_tracker`).
  sign_tracker tracker() const {
    sign_tracker out(options_.levels, options_.noise_levels, options_.beta);
    out.set_state(torch_backend<double>::vector_to_host(soft_signs_.reshape({-1})));
    return out;
  }
  void set_tracker(const sign_tracker& tracker) {
    scorelift::detail::require(tracker.modes() == levels() && tracker.noise_levels() == options_.noise_levels,
                               "ResidualStack::set_tracker", "the tracker has ", tracker.modes(), " modes and ",
                               tracker.noise_levels(), " noise levels but the stack has ", levels(), " and ",
                               options_.noise_levels);
    torch::NoGradGuard no_grad;
    soft_signs_.copy_(torch::tensor(tracker.state(), torch::kFloat64).view(soft_signs_.sizes()));
  }

  /// A ← βA + (1−β)a with the batch's residual alignments a_l (global signs).
  void update_signs(std::span<const double> residual_alignment) {
    auto t = tracker();
    t.update(residual_alignment);
    set_tracker(t);
  }
  /// Per noise level: sample b has level noise_levels[b] and alignments per_sample[l][b].
  void update_signs(const torch::Tensor& noise_levels, const std::vector<torch::Tensor>& per_sample) {
    update_signs_from_sums(sign_sums(noise_levels, per_sample));
  }
  /// The per-level sums and counts that update (sign_tracker::level_sums): what a data-parallel job
  /// all-reduces before update_signs_from_sums (distributed/sign_synchronisation.hpp).
  level_alignment_sums sign_sums(const torch::Tensor& noise_levels, const std::vector<torch::Tensor>& per_sample) const {
    const auto host_levels = levels_to_host(noise_levels, "ResidualStack::sign_sums");
    return tracker().level_sums<torch_backend<double>>(host_levels, to_double(per_sample));
  }
  void update_signs_from_sums(const level_alignment_sums& sums) {
    auto t = tracker();
    t.update_from_sums(sums);
    set_tracker(t);
  }

  /// The same with the alignments as one [L, B] tensor (torch_ext::per_sample_residual_alignment).
  void update_signs(const torch::Tensor& noise_levels, const torch::Tensor& per_sample) {
    scorelift::detail::require(per_sample.defined() && per_sample.dim() == 2 && per_sample.size(0) == levels(),
                               "ResidualStack::update_signs", "argument 'per_sample' has shape ",
                               scorelift::detail::tensor_shape_string(per_sample), " but [L, B] with L = ", levels(),
                               " was expected");
    update_signs(noise_levels, std::vector<torch::Tensor>(per_sample.unbind(0)));
  }

  /// κ_l: [L] (global signs), in the dtype and on the device of `like`.
  torch::Tensor signs(const torch::Tensor& like) const {
    return torch::tensor(tracker().signs(), torch::kFloat64).to(like.options());
  }
  /// κ_l at each sample's noise level: [L, B], in the dtype and on the device of `like`.
  torch::Tensor signs_for(const torch::Tensor& noise_levels, const torch::Tensor& like) const {
    const auto rows = tracker().signs_for(levels_to_host(noise_levels, "ResidualStack::signs_for"));
    std::vector<torch::Tensor> out;
    for (const auto& row : rows) out.push_back(torch::tensor(row, torch::kFloat64));
    return torch::stack(out).to(like.options());
  }

  /// ŝ(x) = Σ_l κ_l f_l(x): [B, D]. With per-level signs, pass each sample's noise level.
  torch::Tensor score(const torch::Tensor& x, const torch::Tensor& c = {}, const torch::Tensor& noise_levels = {}) {
    const auto modes = forward(x, c);
    const auto kappa =
        noise_levels.defined() ? signs_for(noise_levels, x) : signs(x).unsqueeze(1).expand({levels(), x.size(0)});
    const auto run = [&]<class Scalar>() {
      std::vector<torch::Tensor> views, per_sample;
      for (index_t l = 0; l < levels(); ++l) {
        views.push_back(modes.select(0, l));
        per_sample.push_back(kappa.select(0, l));
      }
      return score_estimate<torch_backend<Scalar>>(views, per_sample);
    };
    return x.scalar_type() == torch::kFloat64 ? run.template operator()<double>() : run.template operator()<float>();
  }

 private:
  std::vector<index_t> levels_to_host(const torch::Tensor& noise_levels, const char* where) const {
    scorelift::detail::require(noise_levels.defined() && noise_levels.dim() == 1 && !noise_levels.is_floating_point(),
                               where, "argument 'noise_levels' (", scorelift::detail::tensor_description(noise_levels),
                               ") must be an integer tensor of shape [B]");
    const auto host = noise_levels.to(torch::kCPU, torch::kInt64).contiguous();
    return std::vector<index_t>(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
  }
  static std::vector<torch::Tensor> to_double(const std::vector<torch::Tensor>& tensors) {
    std::vector<torch::Tensor> out;
    for (const auto& t : tensors) out.push_back(t.detach().to(torch::kFloat64));
    return out;
  }

  residual_stack_options options_;
  torch::nn::ModuleList networks_;
  torch::Tensor soft_signs_;
};
TORCH_MODULE(ResidualStack);

}  // namespace scorelift::torch_ext

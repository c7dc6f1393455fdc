// scorelift/torch/mlp_tangent_pass.hpp — one MLP's tangent forward pass, kept for its hand-written reverse
// pass, whose parameter gradients go straight into .grad: the building block of the objective gradients
// that need no autograd graph (torch/denoising_step.hpp, torch/tangent_objectives.hpp).
//
// The forward pass (torch/mlp_tangent.hpp) gives f(x) and J_f(x) v_m; a caller that knows the objective's
// closed-form gradients ∂J/∂f and ∂J/∂(J v_m) hands them to backward() as seeds. That is what
// mlp_jvp + a loss Function + loss.backward() computes, without recording or walking a graph.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "scorelift/torch/mlp.hpp"
#include "scorelift/torch/mlp_tangent.hpp"

namespace scorelift::torch_ext::detail {

class mlp_tangent_pass {
 public:
  /// The forward pass of `network` on `input` = [x, c] (network_input) with `probe_count` probes stacked
  /// in `probes` [M·B, D] (M = 0: an empty [0, D] tensor, the plain forward).
  mlp_tangent_pass(MLP& network, torch::Tensor input, torch::Tensor probes, int64_t probe_count,
                   tangent_kernels how = tangent_kernels::automatic)
      : params_(network->parameters()),
        act_(network->options().act),
        input_(std::move(input)),
        probes_(std::move(probes)),
        probe_count_(probe_count),
        how_(how) {
    torch::NoGradGuard no_graph;  // the parameters require grad; nothing here may record a graph
    result_ = tangent_forward(params_, act_, input_, probes_, probe_count_, tape_, how_);
  }

  /// f(x) [B, D_out] and J v_m [M, B, D_out].
  const mlp_tangents& result() const { return result_; }

  /// Adds ∂J/∂θ to each parameter's .grad (like backward(): zero them first), for the seeds ∂J/∂f
  /// [B, D_out] and ∂J/∂(J v) [M, B, D_out] (either undefined: zero).
  void backward(const torch::Tensor& grad_outputs, const torch::Tensor& grad_tangents) const {
    torch::NoGradGuard no_graph;
    const auto grads = tangent_backward(params_, act_, input_, probes_, probe_count_, tape_, grad_outputs,
                                        grad_tangents, /*input_grad=*/false, how_);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto& grad = params_[i].mutable_grad();
      if (grad.defined()) {
        grad.add_(grads[i + 1]);
      } else {
        grad = grads[i + 1].clone();  // it may be a pooled buffer (torch/buffer_pool.hpp) that the next call reuses
      }
    }
  }

 private:
  std::vector<torch::Tensor> params_;
  activation act_;
  torch::Tensor input_, probes_;
  int64_t probe_count_;
  tangent_kernels how_;
  tangent_tape tape_;
  mlp_tangents result_;
};

}  // namespace scorelift::torch_ext::detail

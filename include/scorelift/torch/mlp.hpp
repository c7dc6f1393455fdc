// scorelift/torch/mlp.hpp — the score network used across the examples: a plain MLP
//   f(x) = W_K σ(… σ(W_1 [x, c] + b_1) …) + b_K,
// with a smooth activation σ (SiLU or softplus: score objectives differentiate the network in its
// input, ISM/SSM twice, so a ReLU network has a zero Hessian and a piecewise-constant Jacobian) and an
// optional conditioning input c (time or noise level, e.g. log σ), appended to x.
#pragma once

#include <torch/torch.h>

#include <string>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::torch_ext {

enum class activation { silu, softplus };

struct mlp_options {
  index_t input_dim = 2;      // D of x
  index_t output_dim = 2;     // D of f(x) (= input_dim for a score model)
  index_t hidden = 128;       // width of every hidden layer
  index_t depth = 3;          // number of hidden layers
  index_t condition_dim = 0;  // width of c; 0 = unconditional
  activation act = activation::silu;
};

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const mlp_options& options) : options_(options) {
    scorelift::detail::require(options.input_dim >= 1 && options.output_dim >= 1 && options.hidden >= 1 &&
                                   options.depth >= 1 && options.condition_dim >= 0,
                               "MLP", "options input_dim = ", options.input_dim, ", output_dim = ", options.output_dim,
                               ", hidden = ", options.hidden, ", depth = ", options.depth,
                               ", condition_dim = ", options.condition_dim,
                               " must be positive (condition_dim may be 0)");
    index_t width = options.input_dim + options.condition_dim;
    for (index_t k = 0; k < options.depth; ++k) {
      layers_->push_back(torch::nn::Linear(width, options.hidden));
      width = options.hidden;
    }
    layers_->push_back(torch::nn::Linear(width, options.output_dim));
    register_module("layers", layers_);
  }

  const mlp_options& options() const { return options_; }

  /// f(x) (unconditional network) or f(x, c) with c of shape [B, condition_dim] ([B] when it is 1).
  /// One `forward` with a default argument: LibTorch's module holder cannot call an overloaded one.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c = {}) {
    scorelift::detail::require(x.defined() && x.dim() == 2 && x.size(1) == options_.input_dim, "MLP::forward",
                               "argument 'x' has shape ", scorelift::detail::tensor_shape_string(x), " but [B, ",
                               options_.input_dim, "] was expected");
    if (options_.condition_dim == 0) {
      scorelift::detail::require(!c.defined(), "MLP::forward", "argument 'c' has shape ",
                                 scorelift::detail::tensor_shape_string(c),
                                 " but this network has no conditioning input (condition_dim = 0)");
      return run(x);
    }
    scorelift::detail::require(c.defined(), "MLP::forward", "this network has condition_dim = ", options_.condition_dim,
                               ": call forward(x, c) with c of shape [B, ", options_.condition_dim, "]");
    const auto condition = c.dim() == 1 ? c.unsqueeze(1) : c;
    scorelift::detail::require(
        condition.dim() == 2 && condition.size(0) == x.size(0) && condition.size(1) == options_.condition_dim,
        "MLP::forward", "argument 'c' has shape ", scorelift::detail::tensor_shape_string(c), " but x has shape ",
        scorelift::detail::tensor_shape_string(x), " and condition_dim = ", options_.condition_dim);
    return run(torch::cat({x, condition.to(x.dtype())}, 1));
  }

 private:
  torch::Tensor run(torch::Tensor h) {
    const auto n = layers_->size();
    for (std::size_t k = 0; k + 1 < n; ++k) {
      h = layers_[k]->as<torch::nn::Linear>()->forward(h);
      h = options_.act == activation::silu ? torch::silu(h) : torch::softplus(h);
    }
    return layers_[n - 1]->as<torch::nn::Linear>()->forward(h);
  }

  mlp_options options_;
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(MLP);

}  // namespace scorelift::torch_ext

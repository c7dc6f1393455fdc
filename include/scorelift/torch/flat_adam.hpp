// scorelift/torch/flat_adam.hpp — Adam over parameters that live in one contiguous buffer.
//
// torch::optim::Adam runs ~7 ATen ops per parameter tensor per step (an MLP with 4 layers: ~60 small
// dispatches). Here the parameters and their gradients are views of two flat buffers, so a step is
// three vectorised passes over all of them at once. Same maths as torch::optim::Adam (Kingma & Ba,
// with its eps placement):
//     g ← g + λ p                                   (weight decay λ, if any)
//     m ← β₁ m + (1 − β₁) g,   u ← β₂ u + (1 − β₂) g²
//     p ← p − (lr / (1 − β₁ᵗ)) · m / (√u / √(1 − β₂ᵗ) + ε)
//
// Construction copies every parameter into the flat buffer and re-points the tensor at its slice
// (`set_`), and gives it a gradient that is a view of the flat gradient buffer; autograd then
// accumulates into that view in place (AccumulateGrad adds into a defined .grad outside grad mode).
// zero_grad() zeroes the buffer (it must not set gradients to None). A parameter whose gradient was
// replaced or reset is copied back in (undefined: zero gradient, so its moments still decay — where
// torch::optim::Adam would skip it).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::torch_ext {

struct flat_adam_options {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

namespace detail {

// The step is split in three passes over the flat buffers so that each one vectorises: the build
// has no -ffast-math, and std::sqrt in a loop (errno) keeps GCC from vectorising it, so the square
// root is ATen's vectorised sqrt between two plain loops.

/// m ← β₁ m + (1 − β₁) g,  u ← β₂ u + (1 − β₂) g²  with g = ∇ + λ p.
template <class T>
void adam_moments(const T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const flat_adam_options& o) {
  const T beta1 = static_cast<T>(o.beta1), beta2 = static_cast<T>(o.beta2);
  const T rest1 = static_cast<T>(1 - o.beta1), rest2 = static_cast<T>(1 - o.beta2);
  const T decay = static_cast<T>(o.weight_decay);
  for (int64_t i = 0; i < n; ++i) {
    const T g = grad[i] + decay * param[i];
    exp_avg[i] = beta1 * exp_avg[i] + rest1 * g;
    exp_avg_sq[i] = beta2 * exp_avg_sq[i] + rest2 * g * g;
  }
}

/// p ← p − step_size · m / (√u / √(1 − β₂ᵗ) + ε), with `root_u` = √u.
template <class T>
void adam_update(T* param, const T* exp_avg, const T* root_u, int64_t n, double step_size, double root_correction,
                 double eps) {
  const T step = static_cast<T>(step_size), root = static_cast<T>(root_correction), e = static_cast<T>(eps);
  for (int64_t i = 0; i < n; ++i) param[i] -= step * exp_avg[i] / (root_u[i] / root + e);
}

}  // namespace detail

class flat_adam {
 public:
  explicit flat_adam(std::vector<torch::Tensor> parameters, const flat_adam_options& options = {})
      : parameters_(std::move(parameters)), options_(options) {
    constexpr const char* where = "flat_adam";
    using scorelift::detail::require;
    require(!parameters_.empty(), where, "argument 'parameters' is empty");
    require(options.lr >= 0 && options.eps >= 0 && options.weight_decay >= 0 && options.beta1 >= 0 &&
                options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
            where, "options lr = ", options.lr, ", betas = (", options.beta1, ", ", options.beta2,
            "), eps = ", options.eps, ", weight_decay = ", options.weight_decay,
            " must satisfy lr, eps, weight_decay >= 0 and 0 <= beta < 1");
    const auto& first = parameters_.front();
    int64_t total = 0;
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      const auto& p = parameters_[k];
      require(p.defined() && p.is_leaf() && p.requires_grad() && p.device().is_cpu() &&
                  p.scalar_type() == first.scalar_type() &&
                  (p.scalar_type() == torch::kFloat32 || p.scalar_type() == torch::kFloat64),
              where, "argument 'parameters[", k, "]' (", scorelift::detail::tensor_description(p),
              ") must be a CPU float32/float64 leaf that requires grad, like parameters[0] (",
              scorelift::detail::tensor_description(first), ")");
      offsets_.push_back(total);
      total += p.numel();
    }
    const auto options_like = first.options().requires_grad(false);
    flat_parameters_ = torch::empty({total}, options_like);
    flat_gradients_ = torch::zeros({total}, options_like);
    exp_avg_ = torch::zeros({total}, options_like);
    exp_avg_sq_ = torch::zeros({total}, options_like);
    root_buffer_ = torch::empty({total}, options_like);
    torch::NoGradGuard no_grad;
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      auto& p = parameters_[k];
      flat_parameters_.narrow(0, offsets_[k], p.numel()).copy_(p.reshape(-1));
      std::vector<int64_t> strides(static_cast<std::size_t>(p.dim()), 1);  // contiguous (row-major)
      for (int64_t d = p.dim() - 1; d > 0; --d)
        strides[static_cast<std::size_t>(d - 1)] = strides[static_cast<std::size_t>(d)] * p.size(d);
      p.set_(flat_parameters_.storage(), offsets_[k], p.sizes(), strides);
      attach_gradient(k);
    }
  }

  /// Zeroes every gradient (one fill of the flat buffer); gradients stay views of it.
  void zero_grad() { flat_gradients_.zero_(); }

  /// One Adam step over all parameters.
  void step() {
    gather_gradients();
    ++steps_;
    const double step_size = options_.lr / (1 - std::pow(options_.beta1, static_cast<double>(steps_)));
    const double root_correction = std::sqrt(1 - std::pow(options_.beta2, static_cast<double>(steps_)));
    torch::NoGradGuard no_grad;
    const int64_t n = flat_parameters_.numel();
    AT_DISPATCH_FLOATING_TYPES(flat_parameters_.scalar_type(), "flat_adam", [&] {
      detail::adam_moments(flat_parameters_.data_ptr<scalar_t>(), flat_gradients_.data_ptr<scalar_t>(),
                           exp_avg_.data_ptr<scalar_t>(), exp_avg_sq_.data_ptr<scalar_t>(), n, options_);
      at::sqrt_out(root_buffer_, exp_avg_sq_);
      detail::adam_update(flat_parameters_.data_ptr<scalar_t>(), exp_avg_.data_ptr<scalar_t>(),
                          root_buffer_.data_ptr<scalar_t>(), n, step_size, root_correction, options_.eps);
    });
  }

  const std::vector<torch::Tensor>& parameters() const { return parameters_; }
  const torch::Tensor& flat_parameters() const { return flat_parameters_; }
  const torch::Tensor& flat_gradients() const { return flat_gradients_; }
  int64_t steps() const { return steps_; }

 private:
  void attach_gradient(std::size_t k) {
    auto& p = parameters_[k];
    p.mutable_grad() = flat_gradients_.narrow(0, offsets_[k], p.numel()).view(p.sizes());
  }

  /// Every gradient must still be the view into the flat buffer; one that was replaced (set to None,
  /// assigned, first accumulated elsewhere) is copied back in. The parameters themselves must not move.
  void gather_gradients() {
    const auto element = static_cast<int64_t>(flat_parameters_.element_size());
    const auto* params_base = static_cast<const char*>(flat_parameters_.data_ptr());
    const auto* grads_base = static_cast<const char*>(flat_gradients_.data_ptr());
    torch::NoGradGuard no_grad;
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      auto& p = parameters_[k];
      scorelift::detail::require(p.data_ptr() == params_base + offsets_[k] * element, "flat_adam::step", "parameter ",
                                 k, " (", scorelift::detail::tensor_description(p),
                                 ") no longer lives in the flat buffer (moved or converted after construction)");
      const auto& g = p.grad();
      if (g.defined() && g.data_ptr() == grads_base + offsets_[k] * element) continue;
      auto slice = flat_gradients_.narrow(0, offsets_[k], p.numel());
      if (g.defined()) {
        slice.copy_(g.reshape(-1));
      } else {
        slice.zero_();
      }
      attach_gradient(k);
    }
  }

  std::vector<torch::Tensor> parameters_;
  flat_adam_options options_;
  std::vector<int64_t> offsets_;
  torch::Tensor flat_parameters_, flat_gradients_, exp_avg_, exp_avg_sq_, root_buffer_;  // root: √u
  int64_t steps_ = 0;
};

}  // namespace scorelift::torch_ext

// scorelift/torch/targets/banana.hpp — the twisted-Gaussian "banana" in 2-D.
//
//   z ~ N(0, diag(a², 1)),  x₁ = z₁,  x₂ = z₂ + b (z₁² − a²),
//   log p(x) = −x₁²/(2a²) − u²/2 + const,   u = x₂ − b (x₁² − a²)   (the map has unit Jacobian),
//   s(x) = ( −x₁/a² + 2 b x₁ u ,  −u ).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "scorelift/torch/targets/target.hpp"

namespace scorelift::torch_ext {

class banana {
 public:
  /// a: standard deviation along x₁; b: curvature of the bend.
  explicit banana(double a = 2.0, double b = 0.25) : a_(a), b_(b) {
    scorelift::detail::require(a > 0 && std::isfinite(a) && std::isfinite(b), "banana", "arguments 'a' = ", a,
                               " and 'b' = ", b, " must be finite with a > 0");
  }

  std::string name() const { return "banana"; }
  index_t dim() const { return 2; }

  torch::Tensor sample(index_t n, at::Generator& gen, torch::TensorOptions options) const {
    detail::require_sample_request(n, options, "banana::sample");
    const auto z = torch::randn({n, 2}, gen, detail::cpu_like(options));
    const auto x1 = a_ * z.select(1, 0);
    const auto x2 = z.select(1, 1) + b_ * (x1.pow(2) - a_ * a_);
    return torch::stack({x1, x2}, 1).to(options.device());
  }

  torch::Tensor score(const torch::Tensor& x) const {
    detail::require_points(x, 2, "banana::score");
    const auto x1 = x.select(1, 0);
    const auto u = x.select(1, 1) - b_ * (x1.pow(2) - a_ * a_);
    return torch::stack({-x1 / (a_ * a_) + 2.0 * b_ * x1 * u, -u}, 1);
  }

 private:
  double a_, b_;
};

static_assert(KnownScoreTarget<banana>);

}  // namespace scorelift::torch_ext

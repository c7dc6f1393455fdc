// scorelift/torch/targets/funnel.hpp — Neal's funnel in D = 2..10 dimensions.
//
//   v ~ N(0, τ²),  x_i | v ~ N(0, e^v)  (i = 1..D−1),  the first coordinate is v.
//   log p = −v²/(2τ²) − (D−1) v/2 − e^{−v} Σ_i x_i² / 2 + const,
//   s_v   = −v/τ² − (D−1)/2 + e^{−v} Σ_i x_i² / 2,
//   s_i   = −x_i e^{−v}.
// The score grows like e^{−v} in the neck (v ≪ 0), so its Fisher divergence is dominated by rare,
// very large values: report it next to the relative divergence E‖ŝ − s‖² / E‖s‖².
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "scorelift/detail/funnel_parameters.hpp"
#include "scorelift/torch/targets/target.hpp"

namespace scorelift::torch_ext {

class funnel {
 public:
  explicit funnel(index_t dim = 2, double tau = 3.0) : dim_(dim), tau_(tau) {
    scorelift::detail::require_funnel_parameters("funnel", dim, tau);
  }

  std::string name() const { return "funnel_" + std::to_string(dim_) + "d"; }
  index_t dim() const { return dim_; }

  torch::Tensor sample(index_t n, at::Generator& gen, torch::TensorOptions options) const {
    detail::require_sample_request(n, options, "funnel::sample");
    const auto z = torch::randn({n, dim_}, gen, detail::cpu_like(options));
    const auto v = tau_ * z.narrow(1, 0, 1);                       // [n, 1]
    const auto rest = z.narrow(1, 1, dim_ - 1) * (0.5 * v).exp();  // standard deviation e^{v/2}
    return torch::cat({v, rest}, 1).to(options.device());
  }

  torch::Tensor score(const torch::Tensor& x) const {
    detail::require_points(x, dim_, "funnel::score");
    const auto v = x.narrow(1, 0, 1);
    const auto rest = x.narrow(1, 1, dim_ - 1);
    const auto precision = (-v).exp();  // e^{−v}
    const auto s_v = -v / (tau_ * tau_) - 0.5 * static_cast<double>(dim_ - 1) +
                     0.5 * precision * rest.pow(2).sum(1, /*keepdim=*/true);
    return torch::cat({s_v, -rest * precision}, 1);
  }

 private:
  index_t dim_;
  double tau_;
};

static_assert(KnownScoreTarget<funnel>);

}  // namespace scorelift::torch_ext

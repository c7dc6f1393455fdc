// scorelift/torch/targets/correlated_gaussian.hpp — a zero-mean Gaussian in D dimensions (100 in the
// suite) with AR(1) covariance Σ_ij = ρ^{|i−j|}: strongly correlated neighbours and condition number
// ((1+ρ)/(1−ρ))² ≈ 361 at ρ = 0.9, yet everything is closed form:
//   sampling:  x₁ = z₁,  x_i = ρ x_{i−1} + √(1−ρ²) z_i   (the Cholesky factor applied as a recursion),
//   score:     s(x) = −Σ⁻¹ x, with the tridiagonal precision
//              Σ⁻¹ = (1/(1−ρ²)) · tridiag(−ρ; 1, 1+ρ², …, 1+ρ², 1; −ρ).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "scorelift/torch/targets/target.hpp"

namespace scorelift::torch_ext {

class correlated_gaussian {
 public:
  explicit correlated_gaussian(index_t dim = 100, double rho = 0.9) : dim_(dim), rho_(rho) {
    scorelift::detail::require(dim >= 2, "correlated_gaussian", "argument 'dim' is ", dim, " but must be >= 2");
    scorelift::detail::require(std::abs(rho) < 1.0, "correlated_gaussian", "argument 'rho' is ", rho,
                               " but |rho| < 1 is needed for a positive-definite covariance");
    const double scale = 1.0 / (1.0 - rho * rho);
    auto diagonal = torch::full({dim}, (1.0 + rho * rho) * scale, torch::kFloat64);
    diagonal[0] = scale;
    diagonal[dim - 1] = scale;
    const auto off = torch::full({dim - 1}, -rho * scale, torch::kFloat64);
    precision_ = torch::diag(diagonal) + torch::diag(off, 1) + torch::diag(off, -1);
  }

  std::string name() const { return "correlated_gaussian_" + std::to_string(dim_) + "d"; }
  index_t dim() const { return dim_; }
  /// Σ⁻¹ as a dense [D, D] double matrix on the CPU.
  const torch::Tensor& precision() const { return precision_; }

  torch::Tensor sample(index_t n, at::Generator& gen, torch::TensorOptions options) const {
    detail::require_sample_request(n, options, "correlated_gaussian::sample");
    const auto z = torch::randn({n, dim_}, gen, detail::cpu_like(options));
    auto x = torch::empty_like(z);
    x.select(1, 0).copy_(z.select(1, 0));
    const double innovation = std::sqrt(1.0 - rho_ * rho_);
    for (index_t i = 1; i < dim_; ++i) x.select(1, i).copy_(rho_ * x.select(1, i - 1) + innovation * z.select(1, i));
    return x.to(options.device());
  }

  torch::Tensor score(const torch::Tensor& x) const {
    detail::require_points(x, dim_, "correlated_gaussian::score");
    return -torch::matmul(x, precision_.to(x.options()));  // Σ⁻¹ is symmetric: (Σ⁻¹ x_b)ᵀ = x_bᵀ Σ⁻¹
  }

 private:
  index_t dim_;
  double rho_;
  torch::Tensor precision_;
};

static_assert(KnownScoreTarget<correlated_gaussian>);

}  // namespace scorelift::torch_ext

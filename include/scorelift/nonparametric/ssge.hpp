// scorelift/nonparametric/ssge.hpp — the spectral Stein gradient estimator of Shi, Sun & Zhu (2018).
//
// Eigenpairs K uⱼ = μⱼ uⱼ of the N×N Gram matrix give Nyström eigenfunctions of the kernel,
//   ψⱼ(x) = (√N/μⱼ) Σₘ uⱼₘ k(x, xₘ),
// and Stein's identity with test functions ψⱼ gives the coefficients of the score in that basis:
//   βⱼ = −(1/N) Σₘ ∇ψⱼ(xₘ),   ŝ(x) = Σⱼ₌₁..J βⱼ ψⱼ(x).
// With Σₘ ∇ₓk(xₘ, xₘ') = −N ζ̂(xₘ') this collapses to one kernel expansion (α = 0):
//   ŝ(x) = Σₘ k(x, xₘ) wₘ,   W = N U_J M_J⁻² U_Jᵀ ζ̂(X),
// i.e. spectral cut-off regularisation of L̂ = K/N (Zhou et al. 2020): at the samples ŝ = N U_J M_J⁻¹ U_Jᵀ ζ̂.
// The cut-off keeps the J largest eigenvalues, chosen by a relative threshold or a kept fraction.
#pragma once

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>

#include "scorelift/nonparametric/kernel_expansion.hpp"

namespace scorelift::nonparametric {

template <class Scalar>
struct spectral_cutoff {
  enum class rule { relative_threshold, kept_fraction };
  rule kind = rule::relative_threshold;
  Scalar value = Scalar(0.01);

  /// Keep eigenvalues μⱼ ≥ τ · μ_max.
  static spectral_cutoff threshold(Scalar tau) { return {rule::relative_threshold, tau}; }
  /// Keep the ⌈f·N⌉ largest eigenvalues.
  static spectral_cutoff fraction(Scalar f) { return {rule::kept_fraction, f}; }
};

template <matrix_kernel Kernel = diagonal_gaussian<double>>
class ssge_estimator {
  static_assert(!Kernel::is_curl_free, "ssge_estimator: SSGE's eigenfunctions are those of a scalar kernel; "
                                       "use a diagonal kernel (curl-free kernels: tikhonov_estimator, nu_method)");

 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;

  explicit ssge_estimator(Kernel kernel = {}, spectral_cutoff<scalar_type> cutoff = {})
      : kernel_(kernel), cutoff_(cutoff) {}

  ssge_estimator& fit(const view_type& samples) {
    constexpr const char* where = "ssge_estimator::fit";
    detail::require_samples<scalar_type>(samples, where);
    const bool threshold = cutoff_.kind == spectral_cutoff<scalar_type>::rule::relative_threshold;
    scorelift::detail::require(cutoff_.value > 0 && cutoff_.value <= 1, where, threshold ? "threshold tau = " : "kept fraction f = ", cutoff_.value,
                               " but must lie in (0, 1]");
    const index_t n = samples.rows();
    const Kernel kernel = with_resolved_bandwidth(kernel_, samples, where);
    matrix_type x = samples;
    const auto on_samples = kernel.make_block(x, x);
    using col_matrix = Eigen::Matrix<scalar_type, Eigen::Dynamic, Eigen::Dynamic>;
    const Eigen::SelfAdjointEigenSolver<col_matrix> eigen(on_samples.dense().matrix());  // ascending μ
    scorelift::detail::require(eigen.info() == Eigen::Success, where, "the eigensolver did not converge");
    const auto& mu = eigen.eigenvalues();
    const scalar_type mu_max = mu(n - 1);

    kept_ = threshold ? (mu.array() >= cutoff_.value * mu_max).count()
                      : static_cast<index_t>(std::ceil(cutoff_.value * static_cast<scalar_type>(n)));
    kept_ = std::clamp<index_t>(kept_, 1, n);
    const auto mu_kept = mu.tail(kept_);
    // Λ_J⁻² blows up for eigenvalues at rounding level: refuse rather than return noise.
    const scalar_type floor = static_cast<scalar_type>(n) * std::numeric_limits<scalar_type>::epsilon() * mu_max;
    scorelift::detail::require(mu_kept.minCoeff() > floor, where, "the cut-off keeps ", kept_,
                               " eigenvalues down to ", mu_kept.minCoeff(), ", below rounding level ", floor,
                               " (largest ", mu_max, "): the Gram matrix of 'samples' (shape ",
                               scorelift::detail::shape_string({n, x.cols()}),
                               ") is singular there; keep fewer eigenvalues");
    const auto u = eigen.eigenvectors().rightCols(kept_);
    const matrix_type zeta = detail::stein_target(on_samples, n);
    // W = N U_J M_J⁻² U_Jᵀ ζ̂(X)
    const col_matrix projected = (static_cast<scalar_type>(n) * mu_kept.array().square().inverse()).matrix().asDiagonal() *
                                 (u.transpose() * zeta);
    matrix_type w = u * projected;
    fitted_ = kernel_expansion<Kernel>(kernel, std::move(x), scalar_type(0), matrix_type(), std::move(w));
    return *this;
  }

  matrix_type score(const view_type& x) const { return fitted_.score(x); }
  const kernel_expansion<Kernel>& expansion() const { return fitted_; }
  /// J, the number of eigenpairs the last fit kept.
  index_t kept_eigenpairs() const { return kept_; }

 private:
  Kernel kernel_;
  spectral_cutoff<scalar_type> cutoff_;
  kernel_expansion<Kernel> fitted_;
  index_t kept_ = 0;
};

}  // namespace scorelift::nonparametric

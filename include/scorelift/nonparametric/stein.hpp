// scorelift/nonparametric/stein.hpp — the Stein gradient estimator of Li & Turner (2018).
//
// With test functions h(x) = [k(x, x₁), …, k(x, x_N)] in Stein's identity E[h sᵀ + ∇h] = 0, the
// empirical identity −K G ≈ ∇K, (∇K)ᵢ = Σⱼ ∇_{xⱼ} k(xᵢ, xⱼ), is solved with a ridge η:
//   Ĝ = −(K + ηI)⁻¹ ∇K          (rows: the estimated scores at the samples).
// Since Σⱼ ∇_{xⱼ} k(xᵢ, xⱼ) = −N ζ̂(xᵢ), this is exactly Tikhonov with a diagonal kernel and λ = η/N
// (Zhou et al. 2020, §4.2), which also supplies an out-of-sample extension:
//   ŝ(x) = −(1/η)[∇K(x) + Σᵢ k(x, xᵢ) Ĝᵢ],   ŝ(xⱼ) = Ĝⱼ.
// Li & Turner have their own (their §3.4, as kscore's stein.py Stein._compute_gradients_one cites and
// implements it): refit with x appended to the samples, η fixed, and read x's row, through the Schur
// complement k(x, x) + η − k(X, x)ᵀ(K + ηI)⁻¹k(X, x). It is a different function of x; this class offers
// only the Tikhonov extension above (the Li–Turner one: not yet).
// So this class is that Tikhonov estimator with Li & Turner's parameter η (fixed, not scaled by N).
// kscore's Stein(lam) sets η = N²·lam (Stein.fit, "for the unified meaning of λ"), but at the samples that
// is its Tikhonov with λ = N·lam, not with lam: use eta = N²·lam here for the same Ĝ.
#pragma once

#include "scorelift/nonparametric/tikhonov.hpp"

namespace scorelift::nonparametric {

template <class Scalar>
struct stein_options {
  Scalar eta = Scalar(1);  ///< η > 0 in Ĝ = −(K + ηI)⁻¹ ∇K
};

template <matrix_kernel Kernel = diagonal_gaussian<double>>
class stein_gradient_estimator {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using options_type = stein_options<scalar_type>;

  explicit stein_gradient_estimator(Kernel kernel = {}, options_type options = {})
      : tikhonov_(kernel), options_(options) {}

  stein_gradient_estimator& fit(const view_type& samples) {
    detail::require_samples<scalar_type>(samples, "stein_gradient_estimator::fit");
    // λ = η/N must be a normal number: α = 1/λ = N/η must be finite.
    scorelift::detail::require(options_.eta > 0 && std::isfinite(options_.eta) &&
                                   std::isfinite(static_cast<scalar_type>(samples.rows()) / options_.eta),
                               "stein_gradient_estimator::fit", "eta = ", options_.eta,
                               " but must be finite and > 0 with N/eta finite");
    tikhonov_.options().lambda = options_.eta / static_cast<scalar_type>(samples.rows());
    tikhonov_.options().solver = tikhonov_solver::cholesky;
    tikhonov_.fit(samples);
    return *this;
  }

  matrix_type score(const view_type& x) const { return tikhonov_.score(x); }
  const kernel_expansion<Kernel>& expansion() const { return tikhonov_.expansion(); }
  options_type& options() { return options_; }

 private:
  tikhonov_estimator<Kernel> tikhonov_;
  options_type options_;
};

}  // namespace scorelift::nonparametric

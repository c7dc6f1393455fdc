// scorelift/nonparametric/kernel_expansion.hpp — the fitted form shared by every estimator here:
//
//   ŝ(x) = α ζ̂(x) + Σⱼ K(x, zⱼ) wⱼ,     ζ̂(x) = −(1/N) Σᵢ div_y K(x, y)|_{y = xᵢ},
//
// where x₁..x_N are the fitted samples and z₁..z_M the centres (the samples themselves, or a
// Nyström subset). ζ̂ is the Stein-identity estimate of L_K s = E[K(·, x) s(x)] (integration by
// parts: E[K(·, x) ∇log p(x)] = −E[div_x K(·, x)]), so ζ̂ needs only the samples. Tikhonov,
// Landweber and the ν-method give α ≠ 0; SSGE and Nyström Tikhonov give α = 0.
//
// For a curl-free kernel both terms are gradients, ŝ = ∇E with the energy
//   E(x) = −(α/N) Σᵢ Δφ(x − xᵢ) − Σⱼ ∇φ(x − zⱼ)ᵀ wⱼ   (log p up to an additive constant).
#pragma once

#include <cmath>
#include <string_view>
#include <utility>

#include "scorelift/nonparametric/matrix_kernel.hpp"

namespace scorelift::nonparametric {

namespace detail {

/// An estimate (or a fit's coefficients) must be finite: a fit that produced ±∞/NaN from finite samples
/// (a regulariser or bandwidth at the edge of the floating-point range) is refused, naming it.
template <class Values>
void require_finite_estimate(const Values& values, std::string_view where, const char* what) {
  scorelift::detail::require(values.allFinite(), where, what, " is not finite (overflow): the kernel system is too ",
                             "ill-conditioned for this regulariser and bandwidth; increase the regulariser or rescale "
                             "the samples");
}

/// What every fit checks before it keeps its expansion ŝ = α ζ̂ + Σ K w.
template <class Scalar, class Weights>
void require_finite_fit(Scalar alpha, const Weights& weights, std::string_view where) {
  scorelift::detail::require(std::isfinite(alpha), where, "the fitted coefficient alpha = ", alpha, " is not finite");
  require_finite_estimate(weights, where, "the fitted weights");
}

}  // namespace detail

template <matrix_kernel Kernel>
class kernel_expansion {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using vector_type = column_vector<scalar_type>;

  kernel_expansion() = default;
  /// centres empty ⇒ the centres are the samples (the usual case; no second copy is kept).
  kernel_expansion(Kernel kernel, matrix_type samples, scalar_type alpha, matrix_type centres, matrix_type weights)
      : kernel_(std::move(kernel)), samples_(std::move(samples)), centres_(std::move(centres)),
        weights_(std::move(weights)), alpha_(alpha) {}

  /// ŝ(x) for each row of x (M×D → M×D). Finite coefficients can still sum past the largest float
  /// (huge weights from a tiny regulariser): such an estimate is refused, not returned as ±∞/NaN.
  matrix_type score(const view_type& x) const {
    constexpr const char* where = "kernel_expansion::score";
    detail::require_queries<scalar_type>(x, dim(), where);
    matrix_type out;
    if (centres_.size() == 0) {  // one block serves both terms
      const auto on_samples = kernel_.make_block(x, samples_);
      out = on_samples.apply(weights_);
      if (alpha_ != 0) out -= (alpha_ / n()) * on_samples.divergence_sum();
    } else {
      out = kernel_.make_block(x, centres_).apply(weights_);
      if (alpha_ != 0) out -= (alpha_ / n()) * kernel_.make_block(x, samples_).divergence_sum();
    }
    detail::require_finite_estimate(out, where, "the estimated score");
    return out;
  }

  /// E(x) with ∇E = ŝ, for curl-free kernels (log-density up to a constant).
  vector_type energy(const view_type& x) const
    requires curl_free_matrix_kernel<Kernel>
  {
    constexpr const char* where = "kernel_expansion::energy";
    detail::require_queries<scalar_type>(x, dim(), where);
    vector_type out;
    if (centres_.size() == 0) {
      const auto on_samples = kernel_.make_block(x, samples_);
      out = -on_samples.potential_apply(weights_);
      if (alpha_ != 0) out -= (alpha_ / n()) * on_samples.laplacian_sum();
    } else {
      out = -kernel_.make_block(x, centres_).potential_apply(weights_);
      if (alpha_ != 0) out -= (alpha_ / n()) * kernel_.make_block(x, samples_).laplacian_sum();
    }
    detail::require_finite_estimate(out, where, "the estimated energy");
    return out;
  }

  index_t dim() const { return samples_.cols(); }
  scalar_type n() const { return static_cast<scalar_type>(samples_.rows()); }
  const Kernel& kernel() const { return kernel_; }
  const matrix_type& samples() const { return samples_; }
  const matrix_type& centres() const { return centres_.size() == 0 ? samples_ : centres_; }
  const matrix_type& weights() const { return weights_; }
  scalar_type alpha() const { return alpha_; }

 private:
  Kernel kernel_{};
  matrix_type samples_, centres_, weights_;
  scalar_type alpha_ = 0;
};

namespace detail {

/// What every estimator fitted to a kernel_expansion answers (ŝ, E and the expansion itself), and the
/// one place where a fit is kept: only once its coefficients are known finite, so that a fit which
/// throws leaves the previous one in place. Each estimator records its own diagnostics of a fit (J,
/// η, the solver's report) after keep() returns, for the same reason.
template <matrix_kernel Kernel>
class fitted_expansion {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using vector_type = column_vector<scalar_type>;

  matrix_type score(const view_type& x) const { return fitted_.score(x); }
  /// E(x) with ∇E = ŝ (curl-free kernels; log-density up to a constant).
  vector_type energy(const view_type& x) const
    requires curl_free_matrix_kernel<Kernel>
  {
    return fitted_.energy(x);
  }
  const kernel_expansion<Kernel>& expansion() const { return fitted_; }

 protected:
  /// ŝ = α ζ̂ + Σⱼ K(·, zⱼ) wⱼ (centres empty ⇒ the samples), refused when α or w is not finite.
  void keep(const Kernel& kernel, matrix_type samples, scalar_type alpha, matrix_type centres, matrix_type weights,
            std::string_view where) {
    require_finite_fit(alpha, weights, where);
    fitted_ = kernel_expansion<Kernel>(kernel, std::move(samples), alpha, std::move(centres), std::move(weights));
  }

 private:
  kernel_expansion<Kernel> fitted_;
};

/// ζ̂(xᵢ) = −(1/N) Σⱼ div_y K(xᵢ, xⱼ), from a block whose second set is the N samples.
template <class Block>
auto stein_target(const Block& on_samples, index_t n) {
  auto zeta = on_samples.divergence_sum();
  zeta /= -static_cast<typename decltype(zeta)::Scalar>(n);
  return zeta;
}

}  // namespace detail
}  // namespace scorelift::nonparametric

// scorelift/nonparametric/iterative_estimator.hpp — iterative spectral regularisation of Zhou et al. (2020):
// Landweber iteration and the ν-method, run on the operator equation L̂ f = ζ̂ with the number of
// iterations T as the regulariser (landweber.hpp, nu_method.hpp give the two coefficient schedules).
//
// Both are the two-step recursion (Engl, Hanke & Neubauer 1996, §6.3; Lo Gerfo et al. 2008)
//   f_t = f_{t−1} + u_t (f_{t−1} − f_{t−2}) + ω_t η (ζ̂ − L̂ f_{t−1}),   f_0 = f_{−1} = 0,
// with step η = 1/κ for κ ≥ ‖L̂‖ = ‖K‖/N (the Gershgorin bound of the kernel block), so that the
// iteration's spectral filter acts on ηL̂ with spectrum in [0, 1]. Every iterate has the form
//   f_t(x) = α_t ζ̂(x) + (1/N) Σᵢ K(x, xᵢ) βₜᵢ,
// and L̂ f_{t−1} = (1/N) K(·, X) h_{t−1} with h = f(X), so the scalars α, the N×D coefficients β and
// the sample values h follow the same recursion — one kernel product per step, T − 2 in all (h₀ = 0
// needs none, and h_T is not part of the fit):
//   α_t = α_{t−1} + u_t(α_{t−1} − α_{t−2}) + ω_t η
//   β_t = β_{t−1} + u_t(β_{t−1} − β_{t−2}) − ω_t η h_{t−1}
//   h_t = h_{t−1} + u_t(h_{t−1} − h_{t−2}) + ω_t η (ζ̂(X) − K h_{t−1} / N).
#pragma once

#include <utility>

#include "scorelift/nonparametric/kernel_expansion.hpp"

namespace scorelift::nonparametric {

/// `Method` supplies `iterations` and `coefficients(t) -> {u_t, ω_t}` (t = 1..T) and checks itself.
template <matrix_kernel Kernel, class Method>
class iterative_estimator {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using vector_type = column_vector<scalar_type>;

  explicit iterative_estimator(Kernel kernel = {}, Method method = {}) : kernel_(kernel), method_(method) {}

  iterative_estimator& fit(const view_type& samples) {
    const char* where = Method::fit_name;
    detail::require_samples<scalar_type>(samples, where);
    method_.validate(where);
    const index_t n = samples.rows();
    const Kernel kernel = with_resolved_bandwidth(kernel_, samples, where);
    matrix_type x = samples;
    const auto on_samples = kernel.make_block(x, x);
    const matrix_type zeta = detail::stein_target(on_samples, n);
    const scalar_type inv_n = scalar_type(1) / static_cast<scalar_type>(n);
    step_ = scalar_type(1) / (on_samples.norm_bound() * inv_n);  // η = 1/κ

    scalar_type alpha = 0, alpha_prev = 0;
    matrix_type beta = matrix_type::Zero(n, x.cols()), beta_prev = beta;
    matrix_type h = beta, h_prev = beta;
    for (index_t t = 1; t <= method_.iterations; ++t) {
      const auto [u, omega] = method_.coefficients(t);
      const scalar_type we = omega * step_;
      alpha = std::exchange(alpha_prev, alpha);  // alpha ← f_{t−2}'s, alpha_prev ← f_{t−1}'s
      alpha = alpha_prev + u * (alpha_prev - alpha) + we;
      beta.swap(beta_prev);
      beta = beta_prev + u * (beta_prev - beta) - we * h;
      // The fit is α_T and β_T: h_T, and with it the last product, is never needed.
      if (t == method_.iterations) break;
      matrix_type residual = zeta;  // ζ̂(X) − K h / N; h₀ = 0, so the first step needs no product
      if (t > 1) residual.noalias() -= on_samples.apply(h) * inv_n;
      h.swap(h_prev);
      h = h_prev + u * (h_prev - h) + we * residual;
    }
    matrix_type w = beta * inv_n;
    detail::require_finite_fit(alpha, w, where);
    fitted_ = kernel_expansion<Kernel>(kernel, std::move(x), alpha, matrix_type(), std::move(w));
    return *this;
  }

  matrix_type score(const view_type& x) const { return fitted_.score(x); }
  vector_type energy(const view_type& x) const
    requires curl_free_matrix_kernel<Kernel>
  {
    return fitted_.energy(x);
  }

  const kernel_expansion<Kernel>& expansion() const { return fitted_; }
  /// η = N / (Gershgorin bound of K) used by the last fit.
  scalar_type step() const { return step_; }
  Method& method() { return method_; }

 private:
  Kernel kernel_;
  Method method_;
  kernel_expansion<Kernel> fitted_;
  scalar_type step_ = 0;
};

}  // namespace scorelift::nonparametric

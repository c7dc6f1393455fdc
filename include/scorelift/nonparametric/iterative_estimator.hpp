// scorelift/nonparametric/iterative_estimator.hpp — iterative spectral regularisation of Zhou et al. (2020):
// Landweber iteration and the ν-method, run on the operator equation L̂ f = ζ̂ with the number of
// iterations T as the regulariser (landweber.hpp, nu_method.hpp give the two coefficient schedules).
//
// Both are the two-step recursion (Engl, Hanke & Neubauer 1996, §6.3; Lo Gerfo et al. 2008)
//   f_t = f_{t−1} + u_t (f_{t−1} − f_{t−2}) + ω_t η (ζ̂ − L̂ f_{t−1}),   f_0 = f_{−1} = 0,
// with step η = 1/κ for κ ≥ ‖L̂‖ = ‖K‖/N (the Gershgorin bound of the kernel block), so that the
// iteration's spectral filter acts on ηL̂ with spectrum in [0, 1] — or a step the user gives (iteration_step:
// η on L̂, or γ on the unnormalised K, η = Nγ). Every iterate has the form
//   f_t(x) = α_t ζ̂(x) + (1/N) Σᵢ K(x, xᵢ) βₜᵢ,
// and L̂ f_{t−1} = (1/N) K(·, X) h_{t−1} with h = f(X), so the scalars α, the N×D coefficients β and
// the sample values h follow the same recursion — one kernel product per step, T − 2 in all (h₀ = 0
// needs none, and h_T is not part of the fit):
//   α_t = α_{t−1} + u_t(α_{t−1} − α_{t−2}) + ω_t η
//   β_t = β_{t−1} + u_t(β_{t−1} − β_{t−2}) − ω_t η h_{t−1}
//   h_t = h_{t−1} + u_t(h_{t−1} − h_{t−2}) + ω_t η (ζ̂(X) − K h_{t−1} / N).
//
// A given step must keep the iteration bounded: Landweber's filter (1 − (1 − ησ)^T)/σ grows without bound
// once ησ > 2 for an eigenvalue σ of L̂, and the ν-method's polynomials are bounded only for ησ ∈ [0, 1]
// (Engl, Hanke & Neubauer, §6.3) — Method::step_limit. A step within the limit of the Gershgorin bound κ
// is accepted at once; one beyond it is checked against ρ, the largest eigenvalue of L̂ that ζ̂(X) reaches
// (power iteration from ζ̂(X), whose Krylov space is where every iterate lives), and refused when
// ηρ > limit. ρ converges from below: a step within a relative 1e-9 of limit/ρ can pass.
#pragma once

#include <cmath>
#include <limits>
#include <utility>

#include "scorelift/detail/whole_as_written.hpp"
#include "scorelift/nonparametric/kernel_expansion.hpp"

namespace scorelift::nonparametric {

/// The step η of the iteration on L̂ = K/N.
template <class Scalar>
struct iteration_step {
  enum class rule { normalised, on_operator, on_gram };
  rule kind = rule::normalised;
  Scalar value = Scalar(0);  ///< η (on_operator) or γ (on_gram)

  /// η = 1/κ, κ = (Gershgorin bound of K)/N ≥ ‖L̂‖: ηL̂'s spectrum lies in [0, 1] for any kernel (default).
  static iteration_step normalised() { return {}; }
  /// η on L̂ = K/N:  f_t = f_{t−1} + η(ζ̂ − L̂ f_{t−1}). kscore's NuMethod uses η = 1.
  static iteration_step on_operator(Scalar eta) { return {rule::on_operator, eta}; }
  /// γ on the unnormalised Gram matrix K: the values h = f(X) step as h ← h + γ(N ζ̂(X) − K h), Landweber on
  /// K h = N ζ̂(X); that is η = Nγ on L̂. kscore's Landweber(stepsize = γ) (its update is wrong, landweber.hpp).
  static iteration_step on_gram(Scalar gamma) { return {rule::on_gram, gamma}; }
};

namespace detail {

/// The number of iterations kscore derives from λ: ⌊q⌋ + 1 with q = 1/λ (Landweber) or 1/√λ (ν-method),
/// q taken as written (1/0.1 = 10, so 11 iterations, whatever the rounding of 0.1).
template <class Scalar>
index_t iterations_from_lambda(Scalar lambda, bool square_root, const char* where) {
  scorelift::detail::require(lambda > 0 && std::isfinite(lambda), where, "lambda = ", lambda,
                             " but must be finite and > 0");
  const double l = static_cast<double>(lambda);
  const double q = square_root ? 1.0 / std::sqrt(l) : 1.0 / l;
  scorelift::detail::require(q < 1e9, where, "lambda = ", lambda, " asks for ", q,
                             " iterations (more than 1e9): use a larger lambda");
  const auto whole = scorelift::detail::whole_as_written(q, static_cast<double>(std::numeric_limits<Scalar>::epsilon()));
  return static_cast<index_t>(whole ? *whole : std::floor(q)) + 1;
}

/// η on L̂ from the rule (κ = the Gershgorin bound of K/N), checked: finite and > 0, and bounded by the
/// method's limit on ηρ (see the header comment). `apply` is L̂'s product, `zeta` = ζ̂(X).
template <class Scalar, class Apply, class Matrix>
Scalar resolve_step(const iteration_step<Scalar>& step, Scalar kappa, index_t n, Scalar limit, const Apply& apply,
                    const Matrix& zeta, const char* where) {
  using rule = typename iteration_step<Scalar>::rule;
  Scalar eta = 0;
  switch (step.kind) {
    case rule::normalised: return Scalar(1) / kappa;
    case rule::on_operator: eta = step.value; break;
    case rule::on_gram: eta = static_cast<Scalar>(n) * step.value; break;
    default: scorelift::detail::fail(where, "step rule ", static_cast<int>(step.kind), " is not an iteration_step rule");
  }
  const char* name = step.kind == rule::on_gram ? "step gamma (on K) = " : "step eta (on K/N) = ";
  scorelift::detail::require(step.value > 0 && std::isfinite(eta), where, name, step.value,
                             " but must be > 0 with N·gamma finite");
  if (eta * kappa <= limit) return eta;  // κ ≥ ‖L̂‖: nothing to check
  // Power iteration on L̂ from ζ̂(X): Rayleigh quotients rise to ρ.
  Matrix v = zeta;
  Scalar norm = v.norm(), rho = 0;
  for (int k = 0; k < 500 && norm > 0; ++k) {
    v /= norm;
    Matrix w = apply(v);
    const Scalar next = v.cwiseProduct(w).sum();  // vᵀ L̂ v, ‖v‖ = 1
    scorelift::detail::require(eta * next <= limit, where, name, step.value, " gives eta = ", eta,
                               " on K/N, whose largest eigenvalue is at least ", next, ": eta times it is ",
                               eta * next, " > ", limit, ", where the iteration diverges (the normalised step is ",
                               Scalar(1) / kappa, ")");
    const bool settled = std::abs(next - rho) <= Scalar(1e-9) * next;
    rho = next;
    if (settled) break;
    v = std::move(w);
    norm = v.norm();
  }
  return eta;
}

}  // namespace detail

/// `Method` supplies `iterations`, `step` (an iteration_step), `step_limit` (the bound on ησ for every
/// eigenvalue σ of L̂) and `coefficients(t) -> {u_t, ω_t}` (t = 1..T), and checks itself.
template <matrix_kernel Kernel, class Method>
class iterative_estimator : public detail::fitted_expansion<Kernel> {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;

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
    const scalar_type eta = detail::resolve_step<scalar_type>(
        method_.step, on_samples.norm_bound() * inv_n, n, Method::step_limit,
        [&](const matrix_type& v) -> matrix_type { return on_samples.apply(v) * inv_n; }, zeta, where);

    scalar_type alpha = 0, alpha_prev = 0;
    matrix_type beta = matrix_type::Zero(n, x.cols()), beta_prev = beta;
    matrix_type h = beta, h_prev = beta;
    for (index_t t = 1; t <= method_.iterations; ++t) {
      const auto [u, omega] = method_.coefficients(t);
      const scalar_type we = omega * eta;
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
    this->keep(kernel, std::move(x), alpha, matrix_type(), matrix_type(beta * inv_n), where);
    step_ = eta;
    return *this;
  }

  /// η on L̂ = K/N used by the last fit: N / (Gershgorin bound of K) by default, else the method's step.
  scalar_type step() const { return step_; }
  Method& method() { return method_; }

 private:
  Kernel kernel_;
  Method method_;
  scalar_type step_ = 0;
};

}  // namespace scorelift::nonparametric

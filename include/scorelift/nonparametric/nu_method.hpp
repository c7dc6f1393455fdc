// scorelift/nonparametric/nu_method.hpp — the ν-method (Engl, Hanke & Neubauer 1996, §6.3), the accelerated
// Landweber iteration of Zhou et al. (2020, §3.3): T iterations regularise like Landweber with ~T²
// iterations, i.e. like Tikhonov with λ ≈ κ/T². ν > 0 is the qualification (ν = 1 is customary).
// Coefficients of the recursion in iterative_estimator.hpp, for t ≥ 1:
//   u_t = (t−1)(2t−3)(2t+2ν−1) / [(t+2ν−1)(2t+4ν−1)(2t+2ν−3)]
//   ω_t = 4(2t+2ν−1)(t+ν−1) / [(t+2ν−1)(2t+4ν−1)]
// (u₁ = 0 and ω₁ = (4ν+2)/(4ν+1): the first step is a scaled Landweber step.)
// kscore (kscore/estimators/nu_method.py, NuMethod) has the same u_t, ω_t, first step and T (iternum, or
// T = ⌊1/√lam⌋ + 1 from lam; lam = 1/T² from iternum), and its recursion is right (its a = −α, H = −ζ̂(X)),
// but with step η = 1 on L̂ = K/N and no step argument. That needs ‖K‖/N ≤ 1: true for a diagonal kernel
// with ψ(0) = 1, not in general for a curl-free one (K(x, x) = −2ψ'(0)I = I/σ² for kscore's Gaussian and
// IMQ). Here η = 1/κ by default (iterative_estimator.hpp), so the same T regularises alike only when κ = 1;
// kscore's choice is nu_method<S>::from_lambda(lam, ν, iteration_step<S>::on_operator(1)), refused where
// ‖K‖/N > 1 makes it diverge.
#pragma once

#include <cmath>
#include <utility>

#include "scorelift/nonparametric/iterative_estimator.hpp"

namespace scorelift::nonparametric {

template <class Scalar>
struct nu_method {
  static constexpr const char* fit_name = "nu_method_estimator::fit";
  /// ησ ≤ 1 for every eigenvalue σ of L̂: the ν-method's polynomials are bounded only on [0, 1].
  static constexpr Scalar step_limit = Scalar(1);
  index_t iterations = 10;        ///< T ≥ 1
  Scalar nu = Scalar(1);          ///< qualification ν > 0
  iteration_step<Scalar> step{};  ///< η on L̂; normalised (1/κ) by default

  /// kscore's NuMethod(lam): T = ⌊1/√λ⌋ + 1.
  static nu_method from_lambda(Scalar lambda, Scalar nu = Scalar(1), iteration_step<Scalar> step = {}) {
    return {detail::iterations_from_lambda(lambda, true, "nu_method::from_lambda"), nu, step};
  }

  void validate(const char* where) const {
    scorelift::detail::require(iterations >= 1, where, "iterations = ", iterations, " but must be >= 1");
    scorelift::detail::require(nu > 0 && std::isfinite(nu), where, "nu = ", nu, " but must be finite and > 0");
  }
  std::pair<Scalar, Scalar> coefficients(index_t step) const {
    // t = 1 separately: for ν = 1/2 the general u_t formula is 0/0 there.
    if (step == 1) return {Scalar(0), (4 * nu + 2) / (4 * nu + 1)};
    const auto t = static_cast<Scalar>(step);
    const Scalar u = (t - 1) * (2 * t - 3) * (2 * t + 2 * nu - 1) /
                     ((t + 2 * nu - 1) * (2 * t + 4 * nu - 1) * (2 * t + 2 * nu - 3));
    const Scalar omega = 4 * (2 * t + 2 * nu - 1) * (t + nu - 1) / ((t + 2 * nu - 1) * (2 * t + 4 * nu - 1));
    return {u, omega};
  }
};

template <matrix_kernel Kernel = diagonal_gaussian<double>>
using nu_method_estimator = iterative_estimator<Kernel, nu_method<typename Kernel::scalar_type>>;

}  // namespace scorelift::nonparametric

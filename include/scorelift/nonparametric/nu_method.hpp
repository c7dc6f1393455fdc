// scorelift/nonparametric/nu_method.hpp — the ν-method (Engl, Hanke & Neubauer 1996, §6.3), the accelerated
// Landweber iteration of Zhou et al. (2020, §3.3): T iterations regularise like Landweber with ~T²
// iterations, i.e. like Tikhonov with λ ≈ κ/T². ν > 0 is the qualification (ν = 1 is customary).
// Coefficients of the recursion in iterative_estimator.hpp, for t ≥ 1:
//   u_t = (t−1)(2t−3)(2t+2ν−1) / [(t+2ν−1)(2t+4ν−1)(2t+2ν−3)]
//   ω_t = 4(2t+2ν−1)(t+ν−1) / [(t+2ν−1)(2t+4ν−1)]
// (u₁ = 0 and ω₁ = (4ν+2)/(4ν+1): the first step is a scaled Landweber step.)
#pragma once

#include <cmath>
#include <utility>

#include "scorelift/nonparametric/iterative_estimator.hpp"

namespace scorelift::nonparametric {

template <class Scalar>
struct nu_method {
  static constexpr const char* fit_name = "nu_method_estimator::fit";
  index_t iterations = 10;  ///< T ≥ 1
  Scalar nu = Scalar(1);    ///< qualification ν > 0

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

// scorelift/nonparametric/landweber.hpp — Landweber iteration (Zhou et al. 2020, §3.3):
//   f_t = f_{t−1} + η (ζ̂ − L̂ f_{t−1}),  i.e. u_t = 0, ω_t = 1 in iterative_estimator.hpp.
// Its spectral filter on L̂'s eigenvalue σ is g_T(σ) = (1 − (1 − ησ)^T)/σ: T iterations regularise
// like Tikhonov with λ ≈ 1/(Tη) = κ/T (κ the norm bound of L̂) — more iterations, less smoothing.
#pragma once

#include <utility>

#include "scorelift/nonparametric/iterative_estimator.hpp"

namespace scorelift::nonparametric {

template <class Scalar>
struct landweber_method {
  static constexpr const char* fit_name = "landweber_estimator::fit";
  index_t iterations = 10;  ///< T ≥ 1

  void validate(const char* where) const {
    scorelift::detail::require(iterations >= 1, where, "iterations = ", iterations, " but must be >= 1");
  }
  std::pair<Scalar, Scalar> coefficients(index_t /*t*/) const { return {Scalar(0), Scalar(1)}; }
};

template <matrix_kernel Kernel = diagonal_gaussian<double>>
using landweber_estimator = iterative_estimator<Kernel, landweber_method<typename Kernel::scalar_type>>;

}  // namespace scorelift::nonparametric

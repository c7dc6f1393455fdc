// scorelift/nonparametric/blocked_cholesky.hpp — the in-place lower Cholesky factor of a dense symmetric
// positive definite matrix, right-looking in panels, with its two level-3 steps (the triangular solve of
// a panel and the symmetric rank update of the trailing matrix) on Eigen or on the system BLAS.
//
// The rank update is the O(n³) part, so the factor runs at the rate of the GEMM kernel behind it. Eigen's
// own float GEMM reaches ~70–79 GFLOP/s on one AVX-512 core (n = 2000: 41–44 ms), OpenBLAS's ~103
// (29.5 ms; measured side by side, 2026-12-02: git log -p benchmarks/RESULTS.md). On a Zen 5 core (full-width AVX-512) the order
// depends on OpenBLAS's kernels: 15.7–16.8 ms with its AVX-512 ones, 21–23 ms with Eigen's (-march=native),
// 26–27 ms with OpenBLAS's AVX2 (Haswell) ones. Defining SCORELIFT_USE_BLAS (CMake: link
// scorelift::blas) routes the two steps to cblas_?trsm and cblas_?syrk; the thin products of the solves
// and refinement stay on thin_product.hpp, which beats a BLAS GEMM at their d ≈ 16 columns (2.9 ms
// against 8.9 ms for dgemm at n = 2000, d = 16).
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <type_traits>

#if defined(SCORELIFT_USE_BLAS)
#include <cblas.h>
#endif

#include "scorelift/backends/eigen.hpp"

namespace scorelift::nonparametric::detail {

template <class Scalar>
using column_major = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// The panel steps with Eigen's kernels (always available).
struct eigen_panel_steps {
  /// Panels of 384: Eigen's LLT uses at most 128, and a wider rank update runs nearer its GEMM peak.
  static constexpr index_t panel = 384;

  /// L₂₁ = A₂₁ L₁₁⁻ᵀ in place of A₂₁.
  template <class Diagonal, class Below>
  static void solve_panel(const Diagonal& l11, Below&& a21) {
    l11.template triangularView<Eigen::Lower>().transpose().template solveInPlace<Eigen::OnTheRight>(a21);
  }
  /// A₂₂ ← A₂₂ − L₂₁ L₂₁ᵀ, lower half.
  template <class Trailing, class Below>
  static void update_trailing(Trailing&& a22, const Below& l21) {
    using scalar = typename std::decay_t<Below>::Scalar;
    a22.template selfadjointView<Eigen::Lower>().rankUpdate(l21, scalar(-1));
  }
};

#if defined(SCORELIFT_USE_BLAS)
/// The panel steps with the BLAS's (column-major blocks of one n×n array, leading dimension its stride).
struct blas_panel_steps {
  /// The BLAS's update is near its peak from 128 columns on; narrower panels shorten the unblocked work.
  static constexpr index_t panel = 128;

  template <class Diagonal, class Below>
  static void solve_panel(const Diagonal& l11, Below&& a21) {
    const auto rows = static_cast<int>(a21.rows()), width = static_cast<int>(a21.cols());
    const auto ld_l = static_cast<int>(l11.outerStride()), ld_a = static_cast<int>(a21.outerStride());
    using scalar = typename std::decay_t<Below>::Scalar;
    if constexpr (std::is_same_v<scalar, float>)
      cblas_strsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rows, width, 1.0f, l11.data(),
                  ld_l, a21.data(), ld_a);
    else
      cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rows, width, 1.0, l11.data(),
                  ld_l, a21.data(), ld_a);
  }
  template <class Trailing, class Below>
  static void update_trailing(Trailing&& a22, const Below& l21) {
    const auto rows = static_cast<int>(l21.rows()), width = static_cast<int>(l21.cols());
    const auto ld_l = static_cast<int>(l21.outerStride()), ld_a = static_cast<int>(a22.outerStride());
    using scalar = typename std::decay_t<Below>::Scalar;
    if constexpr (std::is_same_v<scalar, float>)
      cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, rows, width, -1.0f, l21.data(), ld_l, 1.0f, a22.data(),
                  ld_a);
    else
      cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, rows, width, -1.0, l21.data(), ld_l, 1.0, a22.data(),
                  ld_a);
  }
};
using default_panel_steps = blas_panel_steps;
#else
using default_panel_steps = eigen_panel_steps;
#endif

/// In-place lower Cholesky factor of symmetric positive definite A (column-major; the strict upper
/// triangle is neither read nor written), right-looking in panels of `panel` columns:
///   L₁₁ = chol(A₁₁),   L₂₁ = A₂₁ L₁₁⁻ᵀ,   A₂₂ ← A₂₂ − L₂₁ L₂₁ᵀ (lower half).
/// False when a pivot is not positive.
template <class Scalar, class Steps = default_panel_steps>
bool blocked_cholesky(Eigen::Ref<column_major<Scalar>> a, index_t panel = Steps::panel) {
  const index_t n = a.rows();
  for (index_t k = 0; k < n; k += panel) {
    const index_t width = std::min(panel, n - k), rest = n - k - width;
    auto a11 = a.block(k, k, width, width);
    const Eigen::LLT<Eigen::Ref<column_major<Scalar>>, Eigen::Lower> diagonal(a11);
    if (diagonal.info() != Eigen::Success) return false;
    if (rest == 0) break;
    auto a21 = a.block(k + width, k, rest, width);
    Steps::solve_panel(a11, a21);
    Steps::update_trailing(a.block(k + width, k + width, rest, rest), a21);
  }
  return true;
}

}  // namespace scorelift::nonparametric::detail

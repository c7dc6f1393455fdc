// scorelift/nonparametric/refined_cholesky.hpp — A C = B for a large symmetric positive definite A in double
// precision from a single-precision Cholesky factor and iterative refinement in double.
//
// The O(n³) factorisation dominates a dense kernel solve, and in float it runs at twice the
// arithmetic rate with half the memory traffic. With A = L̃L̃ᵀ + E, ‖E‖ ≲ c·n·ε_f·‖A‖ (ε_f = 2⁻²⁴),
// classical refinement
//   R = B − A X  (double),   L̃L̃ᵀ Δ = R  (float),   X ← X + Δ
// contracts the error by ‖(L̃L̃ᵀ)⁻¹E‖ ≲ c·n·ε_f·κ(A) per step (Golub & Van Loan, §3.5.3; Higham, Accuracy
// and Stability, ch. 12). For the kernel systems here κ(K + ηI) ≤ 1 + ‖K‖/η — about 2·10³ for Stein's
// estimator at N = 2000, η = 1 — so 2–3 steps reach double precision. Converged means the residual is at
// double rounding level, ‖Rⱼ‖∞ ≤ ε·‖A‖∞·‖Xⱼ‖∞ for every column j (what a double Cholesky solve attains
// on these systems), or, once the steps stop contracting, within the usual mixed-precision criterion
// √n·ε·‖A‖∞·‖Xⱼ‖∞ (where the residual's own rounding error lies). When float cannot factor A, or the
// steps stall above that, the caller solves in double instead.
//
// The last correction is taken without a residual to verify it when the previous step's contraction
// predicts one 16× inside the bound. Refinement is a stationary iteration, E ← (I − (L̃L̃ᵀ)⁻¹A) E, and
// its first error is already that operator applied to X (E₀ = (L̃L̃ᵀ)⁻¹B − X), so the ratio of
// successive residuals is the operator's contraction from the first step on: predicted rⱼ₊₁ = rⱼ²/rⱼ₋₁
// in units of the bound. Below the bound a residual meets its own rounding floor, which a double
// Cholesky solve meets too: Stein at N = 2000 went r = 3·10⁸, 1.2·10³, then a predicted 5·10⁻³ and a
// measured 0.6; across the kernel systems of test_refined_cholesky the accepted residuals are within 2×
// of a double LLT solve's. The skipped N×N×D double product is 2.8 ms of a ~55 ms fit. (Demmel et al.,
// "Error bounds from extra-precise iterative refinement", 2006, also stop on such ratios.)
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "scorelift/nonparametric/blocked_cholesky.hpp"
#include "scorelift/nonparametric/thin_product.hpp"

namespace scorelift::nonparametric::detail {

/// Below this order the double factorisation is cheap and refinement's fixed costs do not pay.
inline constexpr index_t refined_cholesky_min_order = 1024;

/// Y ← (L Lᵀ)⁻¹ Y for a lower factor L (column-major n×n) and a row-major Y (n×d), in blocks β of rows:
///   forward   Yᵦ ← L_ββ⁻¹ (Yᵦ − L_β,<β Y_<β),   backward   Yᵦ ← L_ββ⁻ᵀ (Yᵦ − L_>β,βᵀ Y_>β).
/// The off-diagonal products, all but w/n of the work, read L in place from the row-major view of its
/// storage (Lᵀ) by thin_product; only the w×w diagonal blocks go through Eigen's triangular solve, which
/// packs the blocks of L on every call (float, n = 2000, d = 16: 4.6 ms for Eigen's two solves).
template <class Scalar>
void cholesky_solve_in_place(const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>& l, row_major<Scalar>& y,
                             index_t block = 128) {
  const index_t n = l.rows();
  const Eigen::Map<const row_major<Scalar>> lt(l.data(), n, n);  // lt(j, i) = L(i, j)
  for (index_t s = 0; s < n; s += block) {
    const index_t w = std::min(block, n - s);
    auto part = y.middleRows(s, w);
    // L[s..s+w, 0..s) = (Lᵀ[0..s, s..s+w))ᵀ
    if (s > 0) thin_product_transposed<Scalar>(lt.block(0, s, s, w), y.topRows(s), part, Scalar(-1), false);
    l.block(s, s, w, w).template triangularView<Eigen::Lower>().solveInPlace(part);
  }
  for (index_t s = (n - 1) / block * block; s >= 0; s -= block) {
    const index_t w = std::min(block, n - s), end = s + w;
    auto part = y.middleRows(s, w);
    // L[end..n, s..end)ᵀ = Lᵀ[s..end, end..n)
    if (end < n) thin_product<Scalar>(lt.block(s, end, w, n - end), y.bottomRows(n - end), part, Scalar(-1), false);
    l.block(s, s, w, w).transpose().template triangularView<Eigen::Upper>().solveInPlace(part);
  }
}

/// X with A X = B (A n×n symmetric positive definite, contiguous, either storage order, read only;
/// B n×d row-major) to double rounding level, or nullopt when the single-precision route cannot deliver it.
/// `infinity_norm`: ‖A‖∞ when the caller has it (a kernel block sums its rows as it makes them), else
/// it is summed here from the lower triangle.
template <class Dense>
std::optional<row_major<double>> refined_cholesky_solve(const Dense& a, const row_major<double>& b,
                                                        std::optional<double> infinity_norm = std::nullopt,
                                                        int max_steps = 8) {
  using float_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
  using float_rhs = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const index_t n = a.rows();
  const Eigen::Map<const row_major<double>> a_rows(a.data(), n, n);
  // A is symmetric: its storage read column-major is A again, Eigen's native layout for the factor.
  // One pass over the lower triangle, all the factor reads, makes the float copy (the strict upper
  // triangle is left unset) and, unless given, ‖A‖∞: column j's entries i ≥ j add to row sums j (by
  // symmetry) and i.
  const Eigen::Map<const Eigen::MatrixXd> a_columns(a.data(), n, n);
  float_matrix factor(n, n);
  Eigen::ArrayXd row_sums = Eigen::ArrayXd::Zero(infinity_norm ? 0 : n), column(infinity_norm ? 0 : n);
  for (index_t j = 0; j < n; ++j) {
    const auto lower = a_columns.col(j).tail(n - j);
    factor.col(j).tail(n - j) = lower.template cast<float>();
    if (infinity_norm) continue;
    auto magnitude = column.head(n - j);
    magnitude = lower.array().abs();
    row_sums(j) += magnitude.sum();
    row_sums.tail(n - j - 1) += magnitude.tail(n - j - 1);
  }
  const double a_norm = infinity_norm ? *infinity_norm : row_sums.maxCoeff();  // ‖A‖∞
  const double largest = a_rows.diagonal().maxCoeff();
  // A float pivot near its rounding level means κ(A)·ε_f is not small: refinement would not converge.
  const double floor = static_cast<double>(n) * std::numeric_limits<float>::epsilon() * largest;
  if (!blocked_cholesky<float>(factor) || !(largest > 0) ||
      !(static_cast<double>(factor.diagonal().cwiseAbs2().minCoeff()) > floor))
    return std::nullopt;
  const auto solve = [&](const row_major<double>& r) -> row_major<double> {  // (L Lᵀ)⁻¹ R in float
    float_rhs y = r.template cast<float>();
    cholesky_solve_in_place<float>(factor, y);
    return y.template cast<double>();
  };

  const double tolerance = std::numeric_limits<double>::epsilon() * a_norm;
  row_major<double> x = solve(b);
  row_major<double> residual(n, b.cols());
  double previous = std::numeric_limits<double>::infinity();
  for (int step = 0; step <= max_steps; ++step) {
    residual = b;
    thin_product<double>(a_rows, x, residual, -1.0, false);  // R = B − A X
    const Eigen::ArrayXd r_norm = residual.cwiseAbs().colwise().maxCoeff().transpose();
    const Eigen::ArrayXd x_norm = x.cwiseAbs().colwise().maxCoeff().transpose();
    if (!r_norm.allFinite()) return std::nullopt;
    if ((r_norm <= tolerance * x_norm).all()) return x;
    // Each step must at least halve the worst relative residual; a stall is accepted at the residual's
    // rounding level (√n·tolerance), anywhere above it the double solve takes over.
    const double worst = (r_norm / (tolerance * x_norm).max(std::numeric_limits<double>::min())).maxCoeff();
    if (!(worst < 0.5 * previous) || step == max_steps) {
      if (worst <= std::sqrt(static_cast<double>(n))) return x;
      return std::nullopt;
    }
    x += solve(residual);
    // The next residual predicted from this step's contraction (see above); step 0 has none to go by.
    if (step > 0 && worst * (worst / previous) <= 1.0 / 16) return x;
    previous = worst;
  }
  return std::nullopt;
}

}  // namespace scorelift::nonparametric::detail

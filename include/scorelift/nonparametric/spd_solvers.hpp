// scorelift/nonparametric/spd_solvers.hpp — the two ways the estimators solve (A + shift I) C = B for a
// symmetric positive (semi)definite kernel operator A: a checked Cholesky factorisation of the dense
// matrix (in double, or for large systems a float one refined to double precision), and conjugate
// gradients that only need products A·P.
//
// C and B are N×D. "Coupled" systems (curl-free kernels) are one system in the ND unknowns of the
// row-major flattening; uncoupled ones (diagonal kernels) are D independent systems sharing A, which
// CG runs in lockstep so that every product is one GEMM.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "scorelift/nonparametric/pairwise.hpp"
#include "scorelift/nonparametric/refined_cholesky.hpp"

namespace scorelift::nonparametric {

/// What conjugate gradients did: iterations run and the final max_column ‖r‖/‖b‖.
struct cg_report {
  index_t iterations = 0;
  double relative_residual = 0;
  bool converged = false;
};

namespace detail {

/// Factors A = L Lᵀ in place (L in the lower triangle; blocked_cholesky: on the BLAS where the build has
/// it), or throws when A is numerically singular: a pivot ℓᵢᵢ² below n·ε·max Aᵢᵢ means the system's
/// condition number exceeds what the precision can resolve.
template <class Scalar>
void checked_cholesky(Eigen::Ref<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>> a, std::string_view where) {
  const index_t n = a.rows();
  const Scalar largest = a.diagonal().maxCoeff();
  const bool factored = blocked_cholesky<Scalar>(a);
  const Scalar floor = static_cast<Scalar>(n) * std::numeric_limits<Scalar>::epsilon() * largest;
  const bool ok = factored && largest > 0 && a.diagonal().cwiseAbs2().minCoeff() > floor;
  scorelift::detail::require(ok, where, "the ", n, "x", n,
                             " kernel system is singular to working precision (duplicate samples, a too-small "
                             "regulariser or a too-small bandwidth); increase the regulariser");
}

/// Solves A C = B for symmetric positive definite A (square, n×n) with B reshaped to n rows:
/// B is N×D with n = N (uncoupled) or n = ND (coupled, B read as its row-major flattening).
/// A (a contiguous matrix or array, either storage order) is overwritten by its factor.
/// Throws when A is numerically singular: a Cholesky pivot ℓᵢᵢ² below n·ε·max Aᵢᵢ means the
/// system's condition number exceeds what the precision can resolve. `infinity_norm`: ‖A‖∞ when the
/// caller knows it (spares the refined route a pass over A).
template <class Scalar, class Dense>
row_matrix<Scalar> cholesky_solve(Dense& a, const row_matrix<Scalar>& b, std::string_view where,
                                  std::optional<Scalar> infinity_norm = std::nullopt) {
  using col_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const index_t n = a.rows();
  if constexpr (std::is_same_v<Scalar, double>) {
    // Large uncoupled systems: a float factor refined to double precision (refined_cholesky.hpp: about
    // 0.7× the time at N = 2000). Where float cannot factor A, or refinement stalls, A is untouched
    // and the double factorisation below decides — a system it accepts passes the float pivot test,
    // which is stricter, so the singularity check keeps its meaning.
    if (n >= refined_cholesky_min_order && n == b.rows())
      if (auto refined = refined_cholesky_solve(a, b, infinity_norm)) return *std::move(refined);
  }
  // A is symmetric, so its row-major storage is also A column-major: factor that view in place
  // (no second n×n copy).
  Eigen::Map<col_matrix> a_columns(a.data(), n, n);
  checked_cholesky<Scalar>(a_columns, where);
  // C = L⁻ᵀ L⁻¹ B, B read as n rows: N×D itself, or (coupled) its row-major flattening as one column
  row_matrix<Scalar> out = b;
  Eigen::Map<row_matrix<Scalar>> rows(out.data(), n, out.size() / n);
  const auto lower = a_columns.template triangularView<Eigen::Lower>();
  lower.solveInPlace(rows);
  lower.adjoint().solveInPlace(rows);
  return out;
}

/// The parameters of conjugate gradients, where they enter: 0 < tolerance < 1 (0 never stops early,
/// ≥ 1 stops before the first step and returns C = 0; NaN fails both) and max_iterations >= 1.
template <class Scalar>
void require_cg_parameters(Scalar tolerance, index_t max_iterations, std::string_view where) {
  scorelift::detail::require(tolerance > 0 && tolerance < 1, where, "conjugate gradients tolerance = ", tolerance,
                             " but must lie in (0, 1)");
  scorelift::detail::require(max_iterations >= 1, where, "conjugate gradients max_iterations = ", max_iterations,
                             " but must be >= 1");
}

/// Conjugate gradients for (A + shift I) C = B from C = 0, A given by `apply(P)`.
/// Stops when every column (or, coupled, the whole matrix) has ‖r‖ ≤ tolerance·‖b‖.
template <class Scalar, class Apply>
cg_report conjugate_gradient(const Apply& apply, Scalar shift, const row_matrix<Scalar>& b, row_matrix<Scalar>& c,
                             bool coupled, Scalar tolerance, index_t max_iterations, std::string_view where) {
  using row_array = Eigen::Array<Scalar, 1, Eigen::Dynamic>;
  // Per-column inner products; a coupled system replaces them by their total in every column.
  const auto inner = [coupled](const row_matrix<Scalar>& u, const row_matrix<Scalar>& v) -> row_array {
    row_array per_column = u.cwiseProduct(v).colwise().sum().array();
    if (coupled) per_column.setConstant(per_column.sum());
    return per_column;
  };
  const auto safe_ratio = [](const row_array& num, const row_array& den) -> row_array {
    return (den > 0).select(num / den, row_array::Zero(num.size()));
  };

  require_cg_parameters(tolerance, max_iterations, where);
  cg_report report;
  c.setZero(b.rows(), b.cols());
  row_matrix<Scalar> r = b, p = b, q;
  row_array rr = inner(r, r);
  const row_array bb = rr;
  const auto residual = [&] { return std::sqrt(safe_ratio(rr, bb).maxCoeff()); };
  while ((rr > tolerance * tolerance * bb).any() && report.iterations < max_iterations) {
    q = apply(p);
    q += shift * p;
    const row_array pq = inner(p, q);
    scorelift::detail::require(((pq > 0) || (rr == 0)).all(), where,
                               "conjugate gradients met pᵀ(A + λI)p <= 0: the kernel system (N x D = ",
                               scorelift::detail::shape_string({b.rows(), b.cols()}),
                               ") is not positive definite; increase the regulariser");
    const row_array step = safe_ratio(rr, pq);  // α = rᵀr / pᵀAp
    c.noalias() += p * step.matrix().asDiagonal();
    r.noalias() -= q * step.matrix().asDiagonal();
    const row_array rr_next = inner(r, r);
    p = r + p * safe_ratio(rr_next, rr).matrix().asDiagonal();  // β = r'ᵀr' / rᵀr
    rr = rr_next;
    ++report.iterations;
  }
  report.relative_residual = static_cast<double>(residual());
  report.converged = report.relative_residual <= static_cast<double>(tolerance);
  scorelift::detail::require(std::isfinite(report.relative_residual), where,
                             "conjugate gradients diverged (non-finite residual)");
  return report;
}

}  // namespace detail
}  // namespace scorelift::nonparametric

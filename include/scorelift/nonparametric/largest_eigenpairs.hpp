// scorelift/nonparametric/largest_eigenpairs.hpp — the J largest eigenpairs of a symmetric N×N matrix A,
// where J itself is chosen from the eigenvalues (SSGE's cut-off), without the full O(N³) eigendecomposition.
//
// Block Krylov (block Lanczos with full reorthogonalisation) and Rayleigh–Ritz:
//   Q = orth[V₀, A V₀, A² V₀, …]  (N×m, blocks of b columns, V₀ seeded Gaussian),
//   T = Qᵀ A Q  (m×m),  T S = S Θ,  Ritz pairs (θₖ, Q sₖ)  with residual rₖ = A Q sₖ − θₖ Q sₖ.
// Each block costs one N×N×b GEMM plus O(N m b) for orthogonalisation and for the new row of T; the
// m×m eigenproblem is small. Stop when the J wanted Ritz pairs *and the first unwanted one* have
// ‖rₖ‖ ≤ tol·θ₁, and the first unwanted Ritz value stays unwanted when raised by its residual norm
// (an eigenvalue lies within ‖r‖ of it; that pair need not converge, as it usually sits in the slowly
// converging bulk of the spectrum). This certifies J up to the usual Krylov caveat: an eigenvalue whose
// eigenvector is (nearly) absent from V₀, or one of exact multiplicity above b, is found late; the block
// size b absorbs clusters of up to b near-equal eigenvalues.
// A converged residual bounds the error: each θₖ lies within ‖rₖ‖ of an eigenvalue, and sₖ's vector is
// within ‖rₖ‖/gap of its eigenvector (Parlett, The Symmetric Eigenvalue Problem, §11.5).
// When the basis would exceed `max_basis` columns the caller falls back to the dense solver.
#pragma once

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>

#include "scorelift/nonparametric/pairwise.hpp"

namespace scorelift::nonparametric {

/// Eigenvalues in descending order and their eigenvectors as columns.
template <class Scalar>
struct eigenpairs {
  column_vector<Scalar> values;
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> vectors;
};

namespace detail {

template <class Scalar>
using col_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// Every eigenpair by Eigen's dense solver (Householder tridiagonalisation + implicit QR), descending.
template <class Scalar>
std::optional<eigenpairs<Scalar>> dense_eigenpairs(const Eigen::Ref<const col_matrix<Scalar>>& a) {
  const Eigen::SelfAdjointEigenSolver<col_matrix<Scalar>> solver(a);
  if (solver.info() != Eigen::Success) return std::nullopt;
  return eigenpairs<Scalar>{solver.eigenvalues().reverse(), solver.eigenvectors().rowwise().reverse()};
}

/// Makes the b columns of V orthonormal and orthogonal to the m orthonormal columns of Q, by classical
/// Gram–Schmidt applied twice ("twice is enough": Giraud et al. 2005) — block-wise against Q (two pairs
/// of GEMMs), column-wise inside V. A column that loses all but √ε of its norm lies in the span already
/// (an invariant subspace was reached): it is replaced by a fresh Gaussian vector, so the basis keeps growing.
template <class Scalar>
void orthonormalise_block(const Eigen::Ref<const col_matrix<Scalar>>& q, Eigen::Ref<col_matrix<Scalar>> v,
                          std::mt19937_64& generator) {
  const Scalar drop = std::sqrt(std::numeric_limits<Scalar>::epsilon());
  const column_vector<Scalar> before = v.colwise().norm().transpose();
  for (int pass = 0; pass < 2 && q.cols() > 0; ++pass) v.noalias() -= q * (q.transpose() * v);
  std::normal_distribution<double> normal;
  for (index_t j = 0; j < v.cols(); ++j) {
    auto column = v.col(j);
    Scalar reference = before(j);
    for (int attempt = 0;; ++attempt) {
      for (int pass = 0; pass < 2 && j > 0; ++pass) column.noalias() -= v.leftCols(j) * (v.leftCols(j).transpose() * column);
      const Scalar after = column.norm();
      if (after > drop * reference && after > 0) {
        column /= after;
        break;
      }
      scorelift::detail::require(attempt < 8, "largest_eigenpairs", "cannot extend a basis of ", q.cols() + j,
                                 " vectors in dimension ", v.rows());
      for (index_t i = 0; i < column.size(); ++i) column(i) = static_cast<Scalar>(normal(generator));
      reference = column.norm();
      for (int pass = 0; pass < 2 && q.cols() > 0; ++pass) column.noalias() -= q * (q.transpose() * column);
    }
  }
}

/// The J largest eigenpairs of symmetric A (N×N, only read through products A·V), where
/// J = wanted(θ) is evaluated on the current Ritz values θ (descending) and must be ≥ 1.
/// Returns nullopt when the basis would exceed max_basis columns before convergence.
template <class Scalar, class Wanted>
std::optional<eigenpairs<Scalar>> krylov_eigenpairs(const Eigen::Ref<const col_matrix<Scalar>>& a, const Wanted& wanted,
                                                    index_t block, index_t max_basis, Scalar tolerance,
                                                    std::uint64_t seed = 0x5eed) {
  const index_t n = a.rows();
  const index_t b = std::min(block, n);
  max_basis = std::min(max_basis, n);
  col_matrix<Scalar> q(n, max_basis), aq(n, max_basis), t(max_basis, max_basis);
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal;
  col_matrix<Scalar> v = col_matrix<Scalar>::NullaryExpr(n, b, [&] { return static_cast<Scalar>(normal(generator)); });
  index_t m = 0;
  while (m + b <= max_basis) {
    orthonormalise_block<Scalar>(q.leftCols(m), v, generator);
    q.middleCols(m, b) = v;
    aq.middleCols(m, b).noalias() = a * v;  // the one O(N²b) step
    // New columns of T = Qᵀ A Q, and by symmetry its new rows.
    t.block(0, m, m + b, b).noalias() = q.leftCols(m + b).transpose() * aq.middleCols(m, b);
    t.block(m, 0, b, m) = t.block(0, m, m, b).transpose();
    m += b;
    const Eigen::SelfAdjointEigenSolver<col_matrix<Scalar>> ritz(t.topLeftCorner(m, m));
    if (ritz.info() != Eigen::Success) return std::nullopt;
    const column_vector<Scalar> theta = ritz.eigenvalues().reverse();
    const index_t j = std::clamp<index_t>(wanted(theta), 1, m);
    const index_t certified = std::min(j + 1, n);  // the wanted pairs and the first unwanted one
    if (certified <= m) {
      const col_matrix<Scalar> s = ritz.eigenvectors().rowwise().reverse().leftCols(certified);
      const col_matrix<Scalar> vectors = q.leftCols(m) * s;
      // rₖ = A Q sₖ − θₖ Q sₖ
      const column_vector<Scalar> residual =
          (aq.leftCols(m) * s - vectors * theta.head(certified).asDiagonal()).colwise().norm().transpose();
      const Scalar scale = std::max(std::abs(theta(0)), std::abs(theta(m - 1)));
      // The first unwanted pair need not converge (it usually sits in the dense bulk of the spectrum,
      // where it converges slowly): it only has to stay unwanted with its eigenvalue anywhere in
      // [θ − ‖r‖, θ + ‖r‖].
      column_vector<Scalar> upper = theta;
      if (certified > j) upper(j) += residual(j);
      const bool settled = wanted(upper) == j;
      if ((residual.head(j).array() <= tolerance * scale).all() && settled)
        return eigenpairs<Scalar>{theta.head(j), vectors.leftCols(j)};
    }
    v = aq.middleCols(m - b, b);  // next Krylov block A Vₖ
  }
  return std::nullopt;
}

}  // namespace detail
}  // namespace scorelift::nonparametric

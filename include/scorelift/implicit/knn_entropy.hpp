// scorelift/implicit/knn_entropy.hpp — the Kozachenko–Leonenko nearest-neighbour estimate of the
// differential entropy h(q) = −E log q(z) from N samples, in nats.
//
//   ĥ = ψ(N) − ψ(k) + log V_D + (D / N) Σ_i log ε_i,     V_D = π^{D/2} / Γ(1 + D/2),
//
// where ε_i is the Euclidean distance from sample i to its k-th nearest other sample. It is
// consistent (ĥ → h as N → ∞) and, because ε_i scales with the samples, exactly equivariant:
// ĥ(a·z + c) = ĥ(z) + D log |a|. The implicit-model example needs it because an implicit encoder has
// no density: the entropy term of the ELBO / WAE objective on the test set is estimated this way,
// the same way for every method (and checked against the exact entropy of the Gaussian posterior).
// Cost: O(N² D) (brute-force distances), fine for the few hundred samples it is used with.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "scorelift/errors.hpp"

namespace scorelift {

namespace detail {

/// ψ(n) for a positive integer n: −γ + Σ_{j<n} 1/j.
inline double digamma_of_integer(index_t n) {
  double value = -0.57721566490153286061;  // −γ (Euler–Mascheroni)
  for (index_t j = 1; j < n; ++j) value += 1.0 / static_cast<double>(j);
  return value;
}

}  // namespace detail

/// Kozachenko–Leonenko entropy estimate (nats) of the distribution of the rows of `samples` (N × D).
inline double knn_entropy(const Eigen::Ref<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic,
                                                               Eigen::RowMajor>>& samples,
                          index_t k = 1) {
  constexpr const char* where = "knn_entropy";
  const index_t n = samples.rows();
  const index_t d = samples.cols();
  detail::require(k >= 1, where, "argument 'k' is ", k, " but must be >= 1");
  detail::require(n > k && d >= 1, where, "argument 'samples' has shape ", detail::shape_string({n, d}),
                  " but needs more than k = ", k, " rows and at least 1 column");
  detail::require(samples.allFinite(), where, "argument 'samples' of shape ", detail::shape_string({n, d}),
                  " has non-finite entries");

  // Squared distances from ‖a‖² + ‖b‖² − 2⟨a, b⟩ (one matrix product), clamped at 0 against rounding,
  // on centred samples: the estimate is translation-invariant, and far from the origin the expansion
  // would cancel ‖a‖² ≈ ⟨a, b⟩ ≫ ‖a − b‖² and round near neighbours to 0 (a false "duplicate").
  const Eigen::MatrixXd centred = samples.rowwise() - samples.colwise().mean();
  const Eigen::VectorXd norms = centred.rowwise().squaredNorm();
  Eigen::MatrixXd squared = -2.0 * (centred * centred.transpose());
  squared.colwise() += norms;
  squared.rowwise() += norms.transpose();

  double sum_log_distance = 0.0;
  std::vector<double> row(static_cast<std::size_t>(n - 1));
  for (index_t i = 0; i < n; ++i) {
    std::size_t m = 0;
    for (index_t j = 0; j < n; ++j)
      if (j != i) row[m++] = std::max(squared(i, j), 0.0);
    std::nth_element(row.begin(), row.begin() + (k - 1), row.end());
    const double kth = row[static_cast<std::size_t>(k - 1)];
    detail::require(kth > 0.0, where, "argument 'samples' of shape ", detail::shape_string({n, d}), " has sample ", i,
                    " with ", k, " or more exact duplicates (zero nearest-neighbour distance)");
    sum_log_distance += 0.5 * std::log(kth);
  }
  const double half_d = 0.5 * static_cast<double>(d);
  const double log_unit_ball = half_d * std::log(std::numbers::pi) - std::lgamma(1.0 + half_d);
  return detail::digamma_of_integer(n) - detail::digamma_of_integer(k) + log_unit_ball +
         static_cast<double>(d) / static_cast<double>(n) * sum_log_distance;
}

}  // namespace scorelift

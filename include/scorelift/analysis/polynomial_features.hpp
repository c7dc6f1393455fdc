// scorelift/analysis/polynomial_features.hpp — all monomials up to a degree as a FeatureMap.
//
//   φ(x) = ( 1 | x_1 … x_D | x_i x_j for i ≤ j | x_i x_j x_k for i ≤ j ≤ k | … )   up to `degree`,
// each monomial x_{i_1} ⋯ x_{i_m} stored as its non-decreasing index sequence (graded, then lexicographic
// order), so that its derivative is the product rule over the positions:
//   ∂(x_{i_1} ⋯ x_{i_m})/∂x_d = Σ_{p : i_p = d} Π_{q ≠ p} x_{i_q}        (x_i² gives 2 x_i).
// Degree 1 with the constant, φ(x) = (x, 1) in effect, makes W φ every affine field A x + b: the family
// that contains the score −Σ⁻¹(x − μ) of any Gaussian, which is why it is the reference model of the
// closed-form tests. Degree 3 holds the banana's score (a cubic). There are C(D + m − 1, m) monomials of
// degree m; the constructor refuses more than `max_features` in all rather than allocate them.
#pragma once

#include <Eigen/Core>
#include <vector>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::analysis {

class polynomial_features {
 public:
  static constexpr index_t max_features = 100000;

  /// `dim` = D ≥ 1, `degree` ≥ 1; `constant` adds the feature 1 (degree 0).
  polynomial_features(index_t dim, int degree, bool constant = true) : dim_(dim), constant_(constant) {
    constexpr const char* where = "polynomial_features";
    scorelift::detail::require(dim >= 1, where, "argument 'dim' is ", dim, " but must be >= 1");
    scorelift::detail::require(degree >= 1, where, "argument 'degree' is ", degree, " but must be >= 1");
    // Count first (C(D + m − 1, m) per degree, each step exact in integers) so nothing is allocated for a
    // request that is refused.
    index_t count = constant ? 1 : 0, of_degree = 1;
    for (int m = 1; m <= degree; ++m) {
      of_degree = of_degree * (dim + m - 1) / m;
      count += of_degree;
      scorelift::detail::require(count <= max_features, where, "arguments 'dim' = ", dim, " and 'degree' = ", degree,
                                 " give more than ", max_features, " monomials");
    }
    std::vector<index_t> indices;
    for (int m = 1; m <= degree; ++m) add_monomials(indices, 0, m);
  }

  [[nodiscard]] index_t input_dim() const { return dim_; }
  [[nodiscard]] index_t feature_count() const { return (constant_ ? 1 : 0) + static_cast<index_t>(monomials_.size()); }

  [[nodiscard]] row_matrix features(const sample_view& x) const {
    require_samples(*this, x, "polynomial_features::features", "x");
    row_matrix phi(x.rows(), feature_count());
    index_t k = 0;
    if (constant_) phi.col(k++).setOnes();
    for (const std::vector<index_t>& monomial : monomials_) {
      auto column = phi.col(k++);
      column = x.col(monomial.front());
      for (std::size_t p = 1; p < monomial.size(); ++p) column = column.cwiseProduct(x.col(monomial[p]));
    }
    return phi;
  }

  [[nodiscard]] Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const {
    require_point(*this, x, "polynomial_features::jacobian");
    Eigen::MatrixXd jac = Eigen::MatrixXd::Zero(feature_count(), dim_);
    index_t k = constant_ ? 1 : 0;
    for (const std::vector<index_t>& monomial : monomials_) {
      for (std::size_t p = 0; p < monomial.size(); ++p) {
        double others = 1.0;  // Π_{q ≠ p} x_{i_q}
        for (std::size_t q = 0; q < monomial.size(); ++q)
          if (q != p) others *= x(monomial[q]);
        jac(k, monomial[p]) += others;
      }
      ++k;
    }
    return jac;
  }

 private:
  /// Appends every non-decreasing continuation of `prefix` by `remaining` indices ≥ `first`.
  void add_monomials(std::vector<index_t>& prefix, index_t first, int remaining) {
    if (remaining == 0) {
      monomials_.push_back(prefix);
      return;
    }
    for (index_t i = first; i < dim_; ++i) {
      prefix.push_back(i);
      add_monomials(prefix, i, remaining - 1);
      prefix.pop_back();
    }
  }

  index_t dim_;
  bool constant_;
  std::vector<std::vector<index_t>> monomials_;
};

static_assert(check_feature_map<polynomial_features>());

}  // namespace scorelift::analysis

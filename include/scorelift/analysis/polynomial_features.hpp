// scorelift/analysis/polynomial_features.hpp — monomials of degree ≤ 2 as a FeatureMap.
//
//   φ(x) = ( 1 | x_1 … x_D | x_i x_j for i ≤ j ),   up to the requested degree (0, 1 or 2),
//   ∂1/∂x_d = 0,   ∂x_i/∂x_d = δ_id,   ∂(x_i x_j)/∂x_d = δ_id x_j + δ_jd x_i.
// Degree 1 with the constant, φ(x) = (x, 1) in effect, makes W φ every affine field A x + b: the family
// that contains the score −Σ⁻¹(x − μ) of any Gaussian, which is why it is the reference model of the
// closed-form tests. Degree 2 adds the D(D+1)/2 products.
#pragma once

#include <Eigen/Core>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::analysis {

class polynomial_features {
 public:
  /// `dim` = D ≥ 1, `degree` ∈ {1, 2}; `constant` adds the feature 1 (degree 0).
  polynomial_features(index_t dim, int degree, bool constant = true) : dim_(dim), degree_(degree), constant_(constant) {
    scorelift::detail::require(dim >= 1, "polynomial_features", "argument 'dim' is ", dim, " but must be >= 1");
    scorelift::detail::require(degree == 1 || degree == 2, "polynomial_features", "argument 'degree' is ", degree,
                               " but must be 1 or 2");
  }

  [[nodiscard]] index_t input_dim() const { return dim_; }
  [[nodiscard]] index_t feature_count() const {
    return (constant_ ? 1 : 0) + dim_ + (degree_ == 2 ? dim_ * (dim_ + 1) / 2 : 0);
  }

  [[nodiscard]] row_matrix features(const sample_view& x) const {
    require_samples(*this, x, "polynomial_features::features", "x");
    row_matrix phi(x.rows(), feature_count());
    index_t k = 0;
    if (constant_) phi.col(k++).setOnes();
    phi.middleCols(k, dim_) = x;
    k += dim_;
    if (degree_ == 2)
      for (index_t i = 0; i < dim_; ++i)
        for (index_t j = i; j < dim_; ++j) phi.col(k++) = x.col(i).cwiseProduct(x.col(j));
    return phi;
  }

  [[nodiscard]] Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const {
    require_point(*this, x, "polynomial_features::jacobian");
    Eigen::MatrixXd jac = Eigen::MatrixXd::Zero(feature_count(), dim_);
    index_t k = constant_ ? 1 : 0;
    jac.middleRows(k, dim_).setIdentity();
    k += dim_;
    if (degree_ == 2)
      for (index_t i = 0; i < dim_; ++i)
        for (index_t j = i; j < dim_; ++j, ++k) {
          jac(k, i) += x(j);
          jac(k, j) += x(i);  // i = j: ∂x_i²/∂x_i = 2 x_i
        }
    return jac;
  }

 private:
  index_t dim_;
  int degree_;
  bool constant_;
};

static_assert(check_feature_map<polynomial_features>());

}  // namespace scorelift::analysis

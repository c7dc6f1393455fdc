// scorelift/analysis/rbf_features.hpp — Gaussian bumps at fixed centres as a FeatureMap.
//
//   φ_k(x) = exp(−‖x − c_k‖² / (2h²)),    ∂φ_k/∂x = −φ_k(x) (x − c_k)ᵀ / h²,
// for K centres c_k (rows of a K×D matrix) and one bandwidth h > 0. A bump field W φ can bend locally,
// which an affine field cannot: the model used for the Gaussian-mixture targets. Bumps vanish far from
// the centres, so pair them with polynomial features (two residual levels) when the score grows there.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::analysis {

class rbf_features {
 public:
  /// `centres` K×D (K, D ≥ 1, finite), `bandwidth` h > 0.
  rbf_features(row_matrix centres, double bandwidth) : centres_(std::move(centres)), bandwidth_(bandwidth) {
    scorelift::detail::require(centres_.rows() >= 1 && centres_.cols() >= 1 && centres_.allFinite(), "rbf_features",
                               "argument 'centres' has shape ",
                               scorelift::detail::shape_string({centres_.rows(), centres_.cols()}),
                               " but must be K×D with K, D >= 1 and finite entries");
    scorelift::detail::require(bandwidth > 0.0 && std::isfinite(bandwidth), "rbf_features", "argument 'bandwidth' is ",
                               bandwidth, " but must be finite and > 0");
  }

  [[nodiscard]] index_t input_dim() const { return centres_.cols(); }
  [[nodiscard]] index_t feature_count() const { return centres_.rows(); }
  [[nodiscard]] const row_matrix& centres() const { return centres_; }
  [[nodiscard]] double bandwidth() const { return bandwidth_; }

  [[nodiscard]] row_matrix features(const sample_view& x) const {
    require_samples(*this, x, "rbf_features::features", "x");
    // ‖x − c‖² = ‖x‖² − 2 xᵀc + ‖c‖², clamped at 0 against rounding.
    const Eigen::VectorXd x2 = x.rowwise().squaredNorm();
    const Eigen::RowVectorXd c2 = centres_.rowwise().squaredNorm().transpose();
    row_matrix sq = -2.0 * x * centres_.transpose();
    sq.colwise() += x2;
    sq.rowwise() += c2;
    return (-sq.cwiseMax(0.0) / (2.0 * bandwidth_ * bandwidth_)).array().exp().matrix();
  }

  [[nodiscard]] Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const {
    require_point(*this, x, "rbf_features::jacobian");
    const row_matrix diff = (-centres_).rowwise() + x.transpose();  // row k: (x − c_k)ᵀ
    const Eigen::VectorXd phi = (-diff.rowwise().squaredNorm() / (2.0 * bandwidth_ * bandwidth_)).array().exp();
    return -(phi.asDiagonal() * diff) / (bandwidth_ * bandwidth_);
  }

 private:
  row_matrix centres_;
  double bandwidth_;
};

static_assert(check_feature_map<rbf_features>());

}  // namespace scorelift::analysis

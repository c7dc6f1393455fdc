// Shared helpers for the analysis tests: seeded Gaussian samples, central finite differences in a
// matrix argument, and the chain rule from the library's input-gradients (∂/∂f_b, ∂/∂div_b) to ∂/∂W.
#pragma once

#include <Eigen/Core>
#include <functional>
#include <random>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/backends/eigen.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift::analysis::test {

using eigen = eigen_backend<double>;

inline row_matrix standard_normal(index_t rows, index_t cols, std::mt19937_64& gen) {
  std::normal_distribution<double> z;
  return row_matrix::NullaryExpr(rows, cols, [&] { return z(gen); });
}

/// Central differences of a scalar function of a matrix, entry by entry (step h).
inline Eigen::MatrixXd finite_difference(const std::function<double(const Eigen::MatrixXd&)>& f, const Eigen::MatrixXd& at,
                                         double h = 1e-6) {
  Eigen::MatrixXd grad(at.rows(), at.cols());
  for (index_t i = 0; i < at.size(); ++i) {
    Eigen::MatrixXd plus = at, minus = at;
    plus.data()[i] += h;
    minus.data()[i] -= h;
    grad.data()[i] = (f(plus) - f(minus)) / (2 * h);
  }
  return grad;
}

/// ∂value/∂W = Σ_b (∂value/∂f_b) φ_bᵀ + Σ_b (∂value/∂div_b) ∇φ(x_b)ᵀ for f_b = W φ(x_b), div_b = tr(W ∇φ(x_b))
/// (d tr(W J) / dW = Jᵀ). `grad_divergence` may be empty (target objectives).
template <FeatureMap Phi>
Eigen::MatrixXd chain_rule(const Phi& phi, const sample_view& x, const row_matrix& grad_modes,
                           const Eigen::VectorXd* grad_divergence) {
  Eigen::MatrixXd grad = grad_modes.transpose() * phi.features(x);
  if (grad_divergence)
    for (index_t b = 0; b < x.rows(); ++b) grad += (*grad_divergence)(b) * phi.jacobian(x.row(b).transpose()).transpose();
  return grad;
}

}  // namespace scorelift::analysis::test

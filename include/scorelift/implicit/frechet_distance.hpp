// scorelift/implicit/frechet_distance.hpp — the Fréchet distance between two sets of feature
// vectors, each summarised by its mean and covariance (the "FID" recipe, with whatever feature
// extractor the caller uses: the implicit-model example uses a small Fashion-MNIST classifier).
//
//   FD = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}
//
// the squared 2-Wasserstein distance between N(μ₁, Σ₁) and N(μ₂, Σ₂). tr (Σ₁Σ₂)^{1/2} is computed
// through the symmetric matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2} (same eigenvalues as Σ₁Σ₂, but symmetric, so a
// self-adjoint eigensolver applies and no complex square root is needed). Eigenvalues that round
// below zero are clamped to zero.
#pragma once

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

#include "scorelift/errors.hpp"

namespace scorelift {

/// Mean and (unbiased, divide by N − 1) covariance of N feature vectors of dimension D.
struct feature_moments {
  Eigen::VectorXd mean;
  Eigen::MatrixXd covariance;
  index_t count = 0;
};

/// Moments of the rows of `features` (N × D, N ≥ 2, finite).
inline feature_moments moments_of(const Eigen::Ref<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic,
                                                                       Eigen::RowMajor>>& features) {
  constexpr const char* where = "moments_of";
  detail::require(features.rows() >= 2 && features.cols() >= 1, where, "argument 'features' has shape ",
                  detail::shape_string({features.rows(), features.cols()}), " but needs at least 2 rows and 1 column");
  detail::require(features.allFinite(), where, "argument 'features' of shape ",
                  detail::shape_string({features.rows(), features.cols()}), " has non-finite entries");
  feature_moments out;
  out.count = features.rows();
  out.mean = features.colwise().mean().transpose();
  const Eigen::MatrixXd centred = features.rowwise() - out.mean.transpose();
  out.covariance = centred.transpose() * centred / static_cast<double>(out.count - 1);
  return out;
}

/// The Fréchet distance between the Gaussians with the given moments (≥ 0 up to rounding).
inline double frechet_distance(const feature_moments& a, const feature_moments& b) {
  constexpr const char* where = "frechet_distance";
  const index_t d = a.mean.size();
  detail::require(d >= 1 && b.mean.size() == d && a.covariance.rows() == d && a.covariance.cols() == d &&
                      b.covariance.rows() == d && b.covariance.cols() == d,
                  where, "argument 'a' has mean ", detail::shape_string({a.mean.size()}), " and covariance ",
                  detail::shape_string({a.covariance.rows(), a.covariance.cols()}), " but 'b' has mean ",
                  detail::shape_string({b.mean.size()}), " and covariance ",
                  detail::shape_string({b.covariance.rows(), b.covariance.cols()}));
  detail::require(a.mean.allFinite() && b.mean.allFinite() && a.covariance.allFinite() && b.covariance.allFinite(),
                  where, "moments have non-finite entries");

  // Σ₁^{1/2} from the eigendecomposition of the symmetric PSD Σ₁.
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> first(a.covariance);
  const Eigen::VectorXd root_values = first.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const Eigen::MatrixXd root = first.eigenvectors() * root_values.asDiagonal() * first.eigenvectors().transpose();
  // tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2} = Σ_i √λ_i of the symmetric product.
  const Eigen::MatrixXd product = root * b.covariance * root;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> middle(0.5 * (product + product.transpose()),
                                                               Eigen::EigenvaluesOnly);
  const double cross = middle.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();

  const double value = (a.mean - b.mean).squaredNorm() + a.covariance.trace() + b.covariance.trace() - 2.0 * cross;
  return std::max(value, 0.0);
}

}  // namespace scorelift

// scorelift/diffusion/gaussian_mixture.hpp — a Gaussian mixture whose noisy score is known exactly at
// every noise level: the reference target for samplers and for measuring learned scores.
//
// p(x) = Σ_k π_k N(x; μ_k, Σ_k). Through the channel x̃ = α x + σ ε (ε ~ N(0, I)) every component stays
// Gaussian, so
//   p_t(x̃) = Σ_k π_k N(x̃; α μ_k, C_k),        C_k = α² Σ_k + σ² I,
//   ∇ log p_t(x̃) = −Σ_k γ_k(x̃) C_k⁻¹ (x̃ − α μ_k),   γ_k ∝ π_k N(x̃; α μ_k, C_k)  (responsibilities).
// Responsibilities are a softmax of log-densities (max subtracted), so far-out points do not underflow.
// The divergence of the noisy score (the exact trace term of ISM at the optimum) follows from
// ∇ log γ_k = s_k − s with s_k = −C_k⁻¹(x̃ − α μ_k):
//   ∇s = Σ_k γ_k ∇s_k + Σ_k s_k ∇γ_kᵀ = −Σ_k γ_k C_k⁻¹ + Σ_k γ_k s_k (s_k − s)ᵀ,
//   tr ∇s = Σ_k γ_k (‖s_k‖² − tr C_k⁻¹) − ‖s‖².
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "scorelift/diffusion/noise_level.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

class gaussian_mixture {
 public:
  using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using square = Eigen::MatrixXd;
  using vector = Eigen::VectorXd;

  /// weights [K] (positive; normalised here), means [K, D], covariances K symmetric positive-definite D×D.
  gaussian_mixture(vector weights, matrix means, std::vector<square> covariances)
      : weights_(std::move(weights)), means_(std::move(means)), covariances_(std::move(covariances)) {
    const index_t K = weights_.size();
    const index_t D = means_.cols();
    scorelift::detail::require(K >= 1 && D >= 1, "gaussian_mixture", "argument 'means' has shape ",
                    scorelift::detail::shape_string({means_.rows(), D}), " but needs K >= 1 components in D >= 1 dimensions");
    scorelift::detail::require(means_.rows() == K, "gaussian_mixture", "argument 'means' has shape ",
                    scorelift::detail::shape_string({means_.rows(), D}), " but 'weights' has shape ", scorelift::detail::shape_string({K}));
    scorelift::detail::require(static_cast<index_t>(covariances_.size()) == K, "gaussian_mixture", "argument 'covariances' has ",
                    covariances_.size(), " entries but 'weights' has shape ", scorelift::detail::shape_string({K}));
    scorelift::detail::require(weights_.allFinite() && (weights_.array() > 0.0).all(), "gaussian_mixture",
                    "argument 'weights' must be finite and positive");
    // π / max π first: Σ π of weights near DBL_MAX would overflow to ∞ and normalise every weight to 0.
    weights_ /= weights_.maxCoeff();
    weights_ /= weights_.sum();
    for (index_t k = 0; k < K; ++k) {
      const square& cov = covariances_[static_cast<std::size_t>(k)];
      scorelift::detail::require(cov.rows() == D && cov.cols() == D, "gaussian_mixture", "argument 'covariances[", k,
                      "]' has shape ", scorelift::detail::shape_string({cov.rows(), cov.cols()}), " but means have D = ", D);
      Eigen::LLT<square> llt(cov);
      scorelift::detail::require(llt.info() == Eigen::Success && cov.allFinite(), "gaussian_mixture", "argument 'covariances[",
                      k, "]' is not symmetric positive-definite");
      factors_.push_back(llt.matrixL());
    }
  }

  /// K components with covariance s_k² I.
  static gaussian_mixture isotropic(vector weights, matrix means, const vector& stds) {
    std::vector<square> covs;
    for (index_t k = 0; k < stds.size(); ++k)
      covs.push_back(stds(k) * stds(k) * square::Identity(means.cols(), means.cols()));
    return gaussian_mixture(std::move(weights), std::move(means), std::move(covs));
  }

  [[nodiscard]] index_t dim() const { return means_.cols(); }
  [[nodiscard]] index_t components() const { return weights_.size(); }
  [[nodiscard]] const vector& weights() const { return weights_; }
  [[nodiscard]] const matrix& means() const { return means_; }
  [[nodiscard]] const std::vector<square>& covariances() const { return covariances_; }

  /// E[x] = Σ π_k μ_k.
  [[nodiscard]] vector mean() const { return means_.transpose() * weights_; }
  /// Cov[x] = Σ π_k (Σ_k + μ_k μ_kᵀ) − E[x] E[x]ᵀ.
  [[nodiscard]] square covariance() const {
    square second = square::Zero(dim(), dim());
    for (index_t k = 0; k < components(); ++k) {
      const vector mu = means_.row(k).transpose();
      second += weights_(k) * (covariances_[static_cast<std::size_t>(k)] + mu * mu.transpose());
    }
    const vector m = mean();
    return second - m * m.transpose();
  }

  /// n clean samples (one per row); `labels`, when given, receives each sample's component.
  template <class Generator>
  matrix sample(index_t n, Generator& gen, std::vector<index_t>* labels = nullptr) const {
    scorelift::detail::require(n >= 0, "gaussian_mixture::sample", "argument 'n' is ", n, " but must be >= 0");
    std::discrete_distribution<index_t> pick(weights_.data(), weights_.data() + weights_.size());
    std::normal_distribution<double> normal;
    matrix x(n, dim());
    if (labels) labels->assign(static_cast<std::size_t>(n), 0);
    vector z(dim());
    for (index_t b = 0; b < n; ++b) {
      const index_t k = pick(gen);
      for (index_t d = 0; d < dim(); ++d) z(d) = normal(gen);
      x.row(b) = means_.row(k) + (factors_[static_cast<std::size_t>(k)] * z).transpose();
      if (labels) (*labels)[static_cast<std::size_t>(b)] = k;
    }
    return x;
  }

  /// log p_t(x̃) per row, for the channel n (n = {1, 0}: the clean density).
  [[nodiscard]] vector log_density(const Eigen::Ref<const matrix>& x, const noise_level& n) const {
    return evaluate(x, n, "gaussian_mixture::log_density").log_density;
  }
  /// ∇ log p_t(x̃) per row: the exact noisy score.
  [[nodiscard]] matrix score(const Eigen::Ref<const matrix>& x, const noise_level& n) const {
    return evaluate(x, n, "gaussian_mixture::score").score;
  }
  /// E[x | x̃] = (x̃ + σ² ∇ log p_t(x̃))/α (Tweedie): the exact denoiser.
  [[nodiscard]] matrix denoised(const Eigen::Ref<const matrix>& x, const noise_level& n) const {
    scorelift::detail::require(n.alpha > 0.0, "gaussian_mixture::denoised", "noise level has alpha = 0: nothing to denoise");
    matrix out = (x + n.sigma * n.sigma * score(x, n)) / n.alpha;
    scorelift::detail::require(out.allFinite(), "gaussian_mixture::denoised", "(x + sigma² score)/alpha overflows at alpha = ",
                               n.alpha, ", sigma = ", n.sigma, " (argument 'x' has shape ",
                               scorelift::detail::shape_string({x.rows(), x.cols()}), ")");
    return out;
  }
  /// tr ∇ₓ̃ ∇ log p_t(x̃) per row: the exact divergence of the noisy score (formula above).
  [[nodiscard]] vector score_divergence(const Eigen::Ref<const matrix>& x, const noise_level& n) const {
    return evaluate(x, n, "gaussian_mixture::score_divergence").score_divergence;
  }
  /// γ_k(x̃) per row: [B, K] posterior component probabilities.
  [[nodiscard]] matrix responsibilities(const Eigen::Ref<const matrix>& x, const noise_level& n) const {
    return evaluate(x, n, "gaussian_mixture::responsibilities").responsibilities;
  }

 private:
  struct evaluation {
    vector log_density;
    matrix score;
    matrix responsibilities;
    vector score_divergence;
  };

  evaluation evaluate(const Eigen::Ref<const matrix>& x, const noise_level& n, const char* where) const {
    scorelift::detail::require(x.cols() == dim(), where, "argument 'x' has shape ", scorelift::detail::shape_string({x.rows(), x.cols()}),
                    " but the mixture has D = ", dim());
    scorelift::detail::require(x.allFinite(), where, "argument 'x' has shape ", scorelift::detail::shape_string({x.rows(), x.cols()}),
                    " and contains NaN or Inf");
    scorelift::detail::require(n.alpha >= 0.0 && n.sigma >= 0.0 && std::isfinite(n.alpha) && std::isfinite(n.sigma) &&
                        (n.alpha > 0.0 || n.sigma > 0.0),
                    where, "noise level (alpha = ", n.alpha, ", sigma = ", n.sigma,
                    ") must be finite, non-negative and not both 0");
    const index_t B = x.rows(), D = dim(), K = components();
    matrix log_joint(B, K);  // log π_k + log N(x̃_b; α μ_k, C_k)
    std::vector<matrix> precision_times_diff(static_cast<std::size_t>(K));
    vector precision_trace(K);  // tr C_k⁻¹
    for (index_t k = 0; k < K; ++k) {
      const square C = n.alpha * n.alpha * covariances_[static_cast<std::size_t>(k)] +
                       n.sigma * n.sigma * square::Identity(D, D);
      const Eigen::LLT<square> llt(C);
      // α²Σ_k + σ²I is singular to working precision when both terms underflow (α, σ ≲ 1e-154).
      scorelift::detail::require(llt.info() == Eigen::Success && C.allFinite(), where, "noise level (alpha = ", n.alpha,
                                 ", sigma = ", n.sigma, ") makes the covariance alpha² Sigma_", k,
                                 " + sigma² I singular or non-finite");
      const matrix diff = x.rowwise() - n.alpha * means_.row(k);
      // C⁻¹ (x̃ − α μ_k) for every row at once: solve with the rows as right-hand sides.
      matrix solved = llt.solve(diff.transpose()).transpose();
      const double log_det = 2.0 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
      log_joint.col(k) = (-0.5 * diff.cwiseProduct(solved).rowwise().sum()).array() +
                         (std::log(weights_(k)) - 0.5 * log_det - 0.5 * static_cast<double>(D) * std::log(2.0 * std::numbers::pi));
      precision_times_diff[static_cast<std::size_t>(k)] = std::move(solved);
      precision_trace(k) = llt.solve(square::Identity(D, D)).trace();
    }
    // A row far from every component (‖x̃‖ ≳ 1e154) has Mahalanobis terms that overflow: every log π_k N is
    // −∞ and the softmax below would be NaN. Refused, naming it, rather than returned as NaN.
    if (!log_joint.allFinite())
      for (index_t b = 0; b < B; ++b)
        scorelift::detail::require(log_joint.row(b).allFinite(), where, "row ", b, " of argument 'x' (shape ",
                                 scorelift::detail::shape_string({B, D}), ", max |x| = ", x.row(b).cwiseAbs().maxCoeff(),
                                 ") is so far from every component that its log-density overflows");
    evaluation out;
    const vector row_max = log_joint.rowwise().maxCoeff();
    out.responsibilities = (log_joint.colwise() - row_max).array().exp().matrix();
    const vector total = out.responsibilities.rowwise().sum();
    out.log_density = row_max.array() + total.array().log();
    out.responsibilities.array().colwise() /= total.array();
    out.score = matrix::Zero(B, D);
    out.score_divergence = vector::Zero(B);
    for (index_t k = 0; k < K; ++k) {
      const matrix& minus_s_k = precision_times_diff[static_cast<std::size_t>(k)];
      out.score.noalias() -= out.responsibilities.col(k).asDiagonal() * minus_s_k;
      out.score_divergence.array() +=
          out.responsibilities.col(k).array() * (minus_s_k.rowwise().squaredNorm().array() - precision_trace(k));
    }
    out.score_divergence -= out.score.rowwise().squaredNorm();
    return out;
  }

  vector weights_;
  matrix means_;
  std::vector<square> covariances_;
  std::vector<square> factors_;  // Cholesky factors L_k, Σ_k = L_k L_kᵀ
};

}  // namespace scorelift::diffusion

// scorelift/analysis/random_fourier_features.hpp — random Fourier features (Rahimi & Recht) as a
// FeatureMap.
//
//   φ_k(x) = √(2/K) cos(ω_kᵀ x + b_k),   ∂φ_k/∂x = −√(2/K) sin(ω_kᵀ x + b_k) ω_kᵀ,
// with ω_k ~ N(0, I/h²) and b_k ~ U[0, 2π) drawn once from a seed: E[φ(x)ᵀφ(y)] is the Gaussian kernel
// exp(−‖x − y‖²/(2h²)), so W φ is a finite random approximation of a Gaussian-kernel vector field.
// The frequencies are fixed after construction: the model stays linear in W.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

#include "scorelift/analysis/feature_map.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::analysis {

class random_fourier_features {
 public:
  /// D = `dim` ≥ 1, K = `count` ≥ 1 features, bandwidth h > 0, frequencies drawn from `seed`.
  random_fourier_features(index_t dim, index_t count, double bandwidth, std::uint64_t seed) {
    scorelift::detail::require(dim >= 1 && count >= 1, "random_fourier_features", "arguments 'dim' = ", dim,
                               " and 'count' = ", count, " must be >= 1");
    scorelift::detail::require(bandwidth > 0.0 && std::isfinite(bandwidth), "random_fourier_features",
                               "argument 'bandwidth' is ", bandwidth, " but must be finite and > 0");
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> normal(0.0, 1.0 / bandwidth);
    std::uniform_real_distribution<double> phase(0.0, 2.0 * std::numbers::pi);
    frequencies_ = row_matrix::NullaryExpr(count, dim, [&] { return normal(gen); });
    phases_ = Eigen::VectorXd::NullaryExpr(count, [&] { return phase(gen); });
    amplitude_ = std::sqrt(2.0 / static_cast<double>(count));
  }

  [[nodiscard]] index_t input_dim() const { return frequencies_.cols(); }
  [[nodiscard]] index_t feature_count() const { return frequencies_.rows(); }

  [[nodiscard]] row_matrix features(const sample_view& x) const {
    require_samples(*this, x, "random_fourier_features::features", "x");
    row_matrix arg = x * frequencies_.transpose();
    arg.rowwise() += phases_.transpose();
    return amplitude_ * arg.array().cos().matrix();
  }

  [[nodiscard]] Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const {
    require_point(*this, x, "random_fourier_features::jacobian");
    const Eigen::VectorXd sine = (frequencies_ * x + phases_).array().sin();
    return -amplitude_ * (sine.asDiagonal() * frequencies_);
  }

 private:
  row_matrix frequencies_;  // K×D, row k = ω_kᵀ
  Eigen::VectorXd phases_;  // b_k
  double amplitude_ = 1.0;  // √(2/K)
};

static_assert(check_feature_map<random_fourier_features>());

}  // namespace scorelift::analysis

// scorelift/detail/unbiased_mmd.hpp — the unbiased MMD² U-statistic from the three kernel matrices of
// two samples, shared by every MMD-type distance (diffusion/sample_metrics.hpp's Gaussian-kernel MMD,
// implicit/kernel_distance.hpp's KID):
//
//   MMD²_u = 1/(n(n−1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i, y_j) − 2/(nm) Σ_{i,j} k(x_i, y_j)
//
// Leaving out the diagonals k(x_i, x_i) is what makes it unbiased (Gretton et al. 2012, Lemma 6): every
// term is then a mean of k over independent pairs. It can be negative when the distributions agree.
#pragma once

#include <Eigen/Core>

namespace scorelift::detail {

/// MMD²_u from K_xx (n × n, n ≥ 2), K_yy (m × m, m ≥ 2) and K_xy (n × m); the callers check the shapes.
inline double unbiased_mmd_squared(const Eigen::MatrixXd& kxx, const Eigen::MatrixXd& kyy, const Eigen::MatrixXd& kxy) {
  const auto off_diagonal_mean = [](const Eigen::MatrixXd& k) {
    const double n = static_cast<double>(k.rows());
    return (k.sum() - k.trace()) / (n * (n - 1.0));
  };
  return off_diagonal_mean(kxx) + off_diagonal_mean(kyy) - 2.0 * kxy.mean();
}

}  // namespace scorelift::detail

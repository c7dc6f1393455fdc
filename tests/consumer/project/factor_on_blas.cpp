// Built only when the installed package's `blas` component is found: factors a small SPD matrix with
// the BLAS's panel steps and checks L Lᵀ = A.
#include <scorelift/nonparametric/blocked_cholesky.hpp>

#ifndef SCORELIFT_USE_BLAS
#error "scorelift::blas must define SCORELIFT_USE_BLAS"
#endif

bool blas_factor_ok() {
  const Eigen::MatrixXd m = Eigen::MatrixXd::Random(50, 50);
  const Eigen::MatrixXd a = m * m.transpose() + 50.0 * Eigen::MatrixXd::Identity(50, 50);
  Eigen::MatrixXd factor = a;
  if (!scorelift::nonparametric::detail::blocked_cholesky<double>(factor, 16)) return false;
  const Eigen::MatrixXd l = factor.triangularView<Eigen::Lower>();
  return (l * l.transpose() - a).cwiseAbs().maxCoeff() < 1e-10;
}

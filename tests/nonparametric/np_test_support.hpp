// Shared helpers of the nonparametric tests: seeded samples, the two accuracy metrics, and
// central finite differences.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>

#include "scorelift/nonparametric/pairwise.hpp"

namespace scorelift::test {

template <class Scalar = double>
using rmat = nonparametric::row_matrix<Scalar>;

/// N×D standard normal draws from a fixed seed.
template <class Scalar = double>
rmat<Scalar> standard_normal(index_t n, index_t d, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  rmat<Scalar> out(n, d);
  for (index_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<Scalar>(normal(gen));
  return out;
}

/// Relative RMS error √(Σᵢ‖ŝᵢ − sᵢ‖² / Σᵢ‖sᵢ‖²): a ratio of sums, so points with sᵢ ≈ 0 do not dominate.
template <class A, class B>
double relative_error(const A& estimate, const B& truth) {
  return std::sqrt(static_cast<double>((estimate - truth).squaredNorm()) / static_cast<double>(truth.squaredNorm()));
}

/// Mean over rows of cos∠(ŝᵢ, sᵢ).
template <class A, class B>
double mean_cosine(const A& estimate, const B& truth) {
  double total = 0;
  for (index_t i = 0; i < truth.rows(); ++i) {
    const double denom = static_cast<double>(estimate.row(i).norm() * truth.row(i).norm());
    total += denom > 0 ? static_cast<double>(estimate.row(i).dot(truth.row(i))) / denom : 0.0;
  }
  return total / static_cast<double>(truth.rows());
}

/// ∂f/∂x_a at x by central differences, for f: R^D → R.
inline double central_difference(const std::function<double(const rmat<double>&)>& f, const rmat<double>& x, index_t a,
                                 double h = 1e-5) {
  rmat<double> plus = x, minus = x;
  plus(0, a) += h;
  minus(0, a) -= h;
  return (f(plus) - f(minus)) / (2 * h);
}

}  // namespace scorelift::test

namespace scorelift::test {

/// div_y K(x, y) (row a: Σ_b ∂K_ab/∂y_b) by central differences of kernel.value — independent of
/// the closed forms in the kernels' blocks.
template <class Kernel>
rmat<double> fd_divergence(const Kernel& kernel, const rmat<double>& x, const rmat<double>& y, double h = 1e-5) {
  const index_t d = x.cols();
  rmat<double> out = rmat<double>::Zero(1, d);
  for (index_t b = 0; b < d; ++b) {
    rmat<double> plus = y, minus = y;
    plus(0, b) += h;
    minus(0, b) -= h;
    out += ((kernel.value(x, plus) - kernel.value(x, minus)).col(b) / (2 * h)).transpose();
  }
  return out;
}

/// ζ̂(x) = −(1/N) Σᵢ div_y K(x, xᵢ), one row per row of x, by finite differences.
template <class Kernel>
rmat<double> fd_zeta(const Kernel& kernel, const rmat<double>& x, const rmat<double>& samples) {
  rmat<double> out = rmat<double>::Zero(x.rows(), x.cols());
  for (index_t q = 0; q < x.rows(); ++q)
    for (index_t i = 0; i < samples.rows(); ++i)
      out.row(q) -= fd_divergence(kernel, x.row(q), samples.row(i)) / static_cast<double>(samples.rows());
  return out;
}

/// Σⱼ K(x, yⱼ) wⱼ by explicit D×D blocks.
template <class Kernel>
rmat<double> naive_apply(const Kernel& kernel, const rmat<double>& x, const rmat<double>& y, const rmat<double>& w) {
  rmat<double> out = rmat<double>::Zero(x.rows(), x.cols());
  for (index_t i = 0; i < x.rows(); ++i)
    for (index_t j = 0; j < y.rows(); ++j)
      out.row(i) += (kernel.value(x.row(i), y.row(j)) * w.row(j).transpose()).transpose();
  return out;
}

/// div f(x) = Σₐ ∂fₐ/∂xₐ of a vector field given as rows → rows, by central differences.
inline double fd_field_divergence(const std::function<rmat<double>(const rmat<double>&)>& f, const rmat<double>& x,
                                  double h = 1e-5) {
  double total = 0;
  for (index_t a = 0; a < x.cols(); ++a) {
    rmat<double> plus = x, minus = x;
    plus(0, a) += h;
    minus(0, a) -= h;
    total += (f(plus)(0, a) - f(minus)(0, a)) / (2 * h);
  }
  return total;
}

}  // namespace scorelift::test

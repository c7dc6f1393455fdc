// scorelift/nonparametric/pairwise.hpp — the pairwise building blocks every kernel is made of:
// squared distances by one GEMM, sums of weighted differences Σⱼ Cᵢⱼ (xᵢ − yⱼ) by one more, the
// median-heuristic bandwidth, and the input checks shared by the estimators.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::nonparametric {

/// Row-major dynamic matrix, one sample per row (the layout of scorelift::eigen_backend).
template <class Scalar>
using row_matrix = typename eigen_backend<Scalar>::matrix_type;
template <class Scalar>
using matrix_view = typename eigen_backend<Scalar>::matrix_view;
template <class Scalar>
using column_vector = typename eigen_backend<Scalar>::vector_type;

namespace detail {

/// Sᵢⱼ = ‖xᵢ − yⱼ‖² = ‖xᵢ‖² + ‖yⱼ‖² − 2 xᵢᵀyⱼ: one GEMM instead of an N×M×D difference tensor.
/// Clamped at 0 because the expansion cancels catastrophically for nearby points.
template <class Scalar>
Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> squared_distances(const matrix_view<Scalar>& x,
                                                                                      const matrix_view<Scalar>& y) {
  // The norms are evaluated once: a broadcast of the unevaluated expression would recompute each
  // norm for every entry of its row or column (N·M·D work instead of (N + M)·D).
  const column_vector<Scalar> x_norms = x.rowwise().squaredNorm();
  const column_vector<Scalar> y_norms = y.rowwise().squaredNorm();
  // One N×M allocation, updated in place: at N = 2000 every fresh 32 MB buffer costs page faults
  // comparable to the GEMM itself.
  Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> s(x.rows(), y.rows());
  s.matrix().noalias() = Scalar(-2) * x * y.transpose();
  s.colwise() += x_norms.array();
  s.rowwise() += y_norms.transpose().array();
  s = s.max(Scalar(0));
  return s;
}

/// Row i: Σⱼ Cᵢⱼ (xᵢ − yⱼ) = (C 1)ᵢ xᵢ − (C Y)ᵢ — the shape of every kernel gradient sum.
template <class Scalar, class Weights>
row_matrix<Scalar> weighted_differences(const Weights& c, const matrix_view<Scalar>& x, const matrix_view<Scalar>& y) {
  const column_vector<Scalar> row_sums = c.matrix().rowwise().sum();  // evaluated once, not per entry
  row_matrix<Scalar> out = row_sums.asDiagonal() * x;
  out.noalias() -= c.matrix() * y;
  return out;
}

/// At most this many samples enter the median: the heuristic is a scale estimate, and the median of
/// 1024·1023/2 distances is already as stable as the bandwidth needs to be.
inline constexpr index_t median_subsample = 1024;

}  // namespace detail

/// Median heuristic: σ = median of the pairwise distances ‖xᵢ − xⱼ‖ over i < j (Gretton et al.;
/// the convention of Li & Turner 2018 and Shi et al. 2018, used with ψ(s) = exp(−s/(2σ²))).
/// For N > 1024 the median is taken over an evenly strided subset of 1024 samples (deterministic).
template <class Scalar>
Scalar median_bandwidth(const matrix_view<Scalar>& samples) {
  const index_t n = samples.rows();
  scorelift::detail::require(n >= 2, "median_bandwidth", "argument 'samples' has shape ",
                             scorelift::detail::shape_string({n, samples.cols()}), " but needs at least 2 rows");
  const index_t m = std::min(n, detail::median_subsample);
  row_matrix<Scalar> subset(m, samples.cols());
  for (index_t i = 0; i < m; ++i) subset.row(i) = samples.row(i * n / m);
  const auto s = detail::squared_distances<Scalar>(subset, subset);
  std::vector<Scalar> upper;
  upper.reserve(static_cast<std::size_t>(m * (m - 1) / 2));
  for (index_t i = 0; i < m; ++i)
    for (index_t j = i + 1; j < m; ++j) upper.push_back(s(i, j));
  const auto middle = upper.begin() + static_cast<std::ptrdiff_t>(upper.size() / 2);
  std::nth_element(upper.begin(), middle, upper.end());
  const Scalar sigma = std::sqrt(*middle);
  scorelift::detail::require(sigma > Scalar(0) && std::isfinite(sigma), "median_bandwidth",
                             "the median pairwise distance of 'samples' (shape ",
                             scorelift::detail::shape_string({n, samples.cols()}), ") is ", sigma,
                             "; more than half the samples coincide");
  return sigma;
}

namespace detail {

/// The checks every `fit` makes: at least 2 samples, at least one dimension, all finite.
template <class Scalar>
void require_samples(const matrix_view<Scalar>& samples, std::string_view where) {
  const auto shape = scorelift::detail::shape_string({samples.rows(), samples.cols()});
  scorelift::detail::require(samples.rows() >= 2, where, "argument 'samples' has shape ", shape,
                             " but needs at least 2 rows (one sample per row)");
  scorelift::detail::require(samples.cols() >= 1, where, "argument 'samples' has shape ", shape,
                             " but needs at least 1 column");
  scorelift::detail::require(samples.allFinite(), where, "argument 'samples' (shape ", shape,
                             ") contains NaN or Inf");
}

/// The checks every `score` / `energy` makes against the fitted samples.
template <class Scalar>
void require_queries(const matrix_view<Scalar>& x, index_t fitted_dim, std::string_view where) {
  const auto shape = scorelift::detail::shape_string({x.rows(), x.cols()});
  scorelift::detail::require(fitted_dim > 0, where, "called before fit()");
  scorelift::detail::require(x.cols() == fitted_dim, where, "argument 'x' has shape ", shape,
                             " but the estimator was fitted on samples with ", fitted_dim, " columns");
  scorelift::detail::require(x.allFinite(), where, "argument 'x' (shape ", shape, ") contains NaN or Inf");
}

}  // namespace detail
}  // namespace scorelift::nonparametric

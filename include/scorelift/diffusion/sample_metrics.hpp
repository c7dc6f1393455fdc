// scorelift/diffusion/sample_metrics.hpp — two-sample distances for judging generated samples against
// true ones (Eigen, one sample per row).
//
// MMD² with the Gaussian kernel k(x, y) = exp(−‖x − y‖²/(2h²)), the unbiased U-statistic of
// detail/unbiased_mmd.hpp (can be slightly negative when the distributions agree); h defaults to the
// median heuristic on the pooled sample.
// Sliced Wasserstein-2: SW₂² = E_θ W₂²(θᵀX, θᵀY) over θ uniform on the unit sphere, estimated with P
// random directions; in 1-D W₂² between equal-size samples is the mean squared gap of the sorted values.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "scorelift/detail/power_of_two_exponent.hpp"
#include "scorelift/detail/unbiased_mmd.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

using sample_matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {
inline void require_samples(const Eigen::Ref<const sample_matrix>& x, const Eigen::Ref<const sample_matrix>& y,
                            const char* where, index_t min_rows) {
  scorelift::detail::require(x.cols() == y.cols() && x.rows() >= min_rows && y.rows() >= min_rows, where,
                             "argument 'x' has shape ", scorelift::detail::shape_string({x.rows(), x.cols()}),
                             " and 'y' has shape ", scorelift::detail::shape_string({y.rows(), y.cols()}),
                             " but they need the same D and at least ", min_rows, " rows each");
  scorelift::detail::require(x.allFinite() && y.allFinite(), where, "arguments 'x' or 'y' contain NaN or Inf");
}

/// 2^−e with e the exponent of the largest |entry| of x and y: dividing by it is exact (a power of two),
/// and puts every entry in [−1, 1], so that squared distances neither overflow (points ~1e160 apart)
/// nor underflow (~1e−170 apart). 1 when every entry is 0.
inline double power_of_two_scale(const Eigen::Ref<const sample_matrix>& x, const Eigen::Ref<const sample_matrix>& y) {
  double largest = 0.0;
  if (x.size() > 0) largest = x.cwiseAbs().maxCoeff();
  if (y.size() > 0) largest = std::max(largest, y.cwiseAbs().maxCoeff());
  return std::ldexp(1.0, -scorelift::detail::power_of_two_exponent(largest));
}

/// ‖a_i − b_j‖² for all pairs.
inline Eigen::MatrixXd squared_distances(const Eigen::Ref<const sample_matrix>& a, const Eigen::Ref<const sample_matrix>& b) {
  const Eigen::VectorXd na = a.rowwise().squaredNorm(), nb = b.rowwise().squaredNorm();
  Eigen::MatrixXd d = (-2.0 * a * b.transpose()).colwise() + na;
  d.rowwise() += nb.transpose();
  return d.cwiseMax(0.0);
}
}  // namespace detail

/// The median of pairwise distances of the pooled sample (on at most 1000 rows of each): h for mmd_squared.
inline double median_bandwidth(const Eigen::Ref<const sample_matrix>& x, const Eigen::Ref<const sample_matrix>& y) {
  detail::require_samples(x, y, "median_bandwidth", 1);
  sample_matrix pooled(std::min<index_t>(x.rows(), 1000) + std::min<index_t>(y.rows(), 1000), x.cols());
  pooled << x.topRows(std::min<index_t>(x.rows(), 1000)), y.topRows(std::min<index_t>(y.rows(), 1000));
  // Distances of the samples scaled by a power of two (exact), scaled back at the end: no overflow.
  const double scale = detail::power_of_two_scale(x, y);
  pooled *= scale;
  const Eigen::MatrixXd d = detail::squared_distances(pooled, pooled);
  std::vector<double> upper;
  for (index_t i = 0; i < d.rows(); ++i)
    for (index_t j = i + 1; j < d.cols(); ++j) upper.push_back(d(i, j));
  std::nth_element(upper.begin(), upper.begin() + static_cast<std::ptrdiff_t>(upper.size() / 2), upper.end());
  const double h = std::sqrt(upper[upper.size() / 2]) / scale;
  scorelift::detail::require(std::isfinite(h), "median_bandwidth", "the median pairwise distance of 'x' and 'y' overflows");
  return h;
}

/// Unbiased MMD² between the rows of x and of y with bandwidth h (> 0).
inline double mmd_squared(const Eigen::Ref<const sample_matrix>& x, const Eigen::Ref<const sample_matrix>& y, double h) {
  detail::require_samples(x, y, "mmd_squared", 2);
  scorelift::detail::require(h > 0.0 && std::isfinite(h), "mmd_squared", "argument 'h' is ", h, " but must be > 0");
  // k = exp(−½ (‖x − y‖/h)²) is invariant under scaling x, y and h together: by a power of two (exact)
  // the squared distances cannot overflow; and (r/h)² rather than r²/h², so that a tiny h gives
  // k = exp(−∞) = 0 off the diagonal and exp(−0) = 1 on it instead of ∞·0 = NaN.
  const double unit = detail::power_of_two_scale(x, y);
  const sample_matrix xs = x * unit, ys = y * unit;
  const double hs = h * unit;
  scorelift::detail::require(hs > 0.0, "mmd_squared", "argument 'h' is ", h, ", too small next to samples of size ",
                             0.5 / unit, " to be represented on their scale");
  const auto gram = [&](const sample_matrix& a, const sample_matrix& b) -> Eigen::MatrixXd {
    return (-0.5 * (detail::squared_distances(a, b).cwiseSqrt() / hs).array().square()).exp().matrix();
  };
  return scorelift::detail::unbiased_mmd_squared(gram(xs, xs), gram(ys, ys), gram(xs, ys));
}

/// SW₂ (the square root of the sliced squared distance) with `projections` random directions; x and y
/// must have the same number of rows.
template <class Generator>
double sliced_wasserstein(const Eigen::Ref<const sample_matrix>& x, const Eigen::Ref<const sample_matrix>& y,
                          index_t projections, Generator& gen) {
  detail::require_samples(x, y, "sliced_wasserstein", 1);
  scorelift::detail::require(x.rows() == y.rows(), "sliced_wasserstein", "argument 'x' has ", x.rows(),
                             " rows but 'y' has ", y.rows(), ": equal sample sizes are needed");
  scorelift::detail::require(projections >= 1, "sliced_wasserstein", "argument 'projections' is ", projections,
                             " but must be >= 1");
  // On the samples scaled by a power of two (exact), so that the squared gaps cannot overflow; SW₂
  // scales back linearly.
  const double unit = detail::power_of_two_scale(x, y);
  std::normal_distribution<double> normal;
  double total = 0.0;
  for (index_t p = 0; p < projections; ++p) {
    Eigen::VectorXd theta(x.cols());
    for (index_t d = 0; d < x.cols(); ++d) theta(d) = normal(gen);
    theta.normalize();  // a normalised Gaussian vector is uniform on the sphere
    Eigen::VectorXd px = (x * unit) * theta, py = (y * unit) * theta;
    std::sort(px.data(), px.data() + px.size());
    std::sort(py.data(), py.data() + py.size());
    total += (px - py).squaredNorm() / static_cast<double>(x.rows());
  }
  return std::sqrt(total / static_cast<double>(projections)) / unit;
}

}  // namespace scorelift::diffusion

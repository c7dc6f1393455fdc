// scorelift/nonparametric/bandwidth_rule.hpp — how a kernel's bandwidth σ is chosen from the samples when
// the user fixes none (profile.sigma = 0): a rule samples → σ, held by the kernel as its `bandwidth`
// member and called once per fit (with_resolved_bandwidth, matrix_kernel.hpp).
//
// Provided: median_bandwidth (the median heuristic, the default), mean_bandwidth (the mean pairwise
// distance) and scaled_median(c) (c × the median; kscore's tests use c = 1.5). Any callable
// Scalar(const matrix_view<Scalar>&) is a rule — kscore's `heuristic_hyperparams` is the same idea.
// A std::function rather than a template parameter: the kernels stay the aggregates they were
// (diagonal_gaussian<S>{{w}} still compiles, the rule defaulted), a rule can carry state (a factor, a
// subsample), and it costs one indirect call per fit.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <utility>

#include "scorelift/detail/power_of_two_exponent.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/nonparametric/pairwise.hpp"

namespace scorelift::nonparametric {

/// A bandwidth rule: the samples (N×D) → σ > 0.
template <class Scalar>
using bandwidth_rule = std::function<Scalar(const matrix_view<Scalar>&)>;

namespace detail {

/// At most this many samples enter a distance statistic: the rules are scale estimates, and the median
/// of 1024·1023/2 distances is already as stable as the bandwidth needs to be.
inline constexpr index_t bandwidth_subsample = 1024;

/// The samples a distance statistic is taken over — at most bandwidth_subsample of them, evenly strided
/// (deterministic) — scaled by 2^−e, e the exponent of their largest |entry| (exact: a power of two), so
/// that ‖xᵢ − xⱼ‖² neither overflows (points ~1e160 apart) nor underflows. A distance d of the scaled
/// subset is ldexp(d, e) of the samples.
template <class Scalar>
std::pair<row_matrix<Scalar>, int> scaled_subset(const matrix_view<Scalar>& samples, const char* where) {
  const index_t n = samples.rows();
  scorelift::detail::require(n >= 2, where, "argument 'samples' has shape ",
                             scorelift::detail::shape_string({n, samples.cols()}), " but needs at least 2 rows");
  // A NaN or Inf makes every statistic NaN: named as such, not as coinciding samples.
  scorelift::detail::require(samples.allFinite(), where, "argument 'samples' (shape ",
                             scorelift::detail::shape_string({n, samples.cols()}), ") contains NaN or Inf");
  const index_t m = std::min(n, bandwidth_subsample);
  row_matrix<Scalar> subset(m, samples.cols());
  for (index_t i = 0; i < m; ++i) subset.row(i) = samples.row(i * n / m);
  const Scalar largest = subset.size() > 0 ? subset.cwiseAbs().maxCoeff() : Scalar(0);
  const int exponent = scorelift::detail::power_of_two_exponent(largest);
  subset *= std::ldexp(Scalar(1), -exponent);
  return {std::move(subset), exponent};
}

/// A rule's σ must be finite and > 0: `statistic` names it, `zero_means` says why it can be 0.
template <class Scalar>
Scalar require_bandwidth(Scalar sigma, const matrix_view<Scalar>& samples, const char* where, const char* statistic,
                         const char* zero_means) {
  const auto shape = scorelift::detail::shape_string({samples.rows(), samples.cols()});
  scorelift::detail::require(std::isfinite(sigma), where, "the ", statistic, " of 'samples' (shape ", shape,
                             ", largest |entry| ", samples.cwiseAbs().maxCoeff(), ") overflows");
  scorelift::detail::require(sigma > Scalar(0), where, "the ", statistic, " of 'samples' (shape ", shape, ") is ",
                             sigma, "; ", zero_means);
  return sigma;
}

}  // namespace detail

/// Median heuristic: σ = median of the pairwise distances ‖xᵢ − xⱼ‖ over i < j (Gretton et al.;
/// the convention of Li & Turner 2018 and Shi et al. 2018, used with ψ(s) = exp(−s/(2σ²))).
/// For N > 1024 the median is taken over an evenly strided subset of 1024 samples (deterministic).
/// kscore (kscore/utils.py, median_heuristic) uses σ the same way, ψ(s) = exp(−s/(2σ²)) or (1 + s/σ²)^(−p),
/// but takes the ⌊N²/2⌋-th largest of all N² distances, zeros of i = j included, over all N samples: the
/// pair distance ⌊N/4⌋ ranks (of N(N−1)/2) below this one for N ≤ 1024. Pass its value as σ for identical fits.
template <class Scalar>
Scalar median_bandwidth(const matrix_view<Scalar>& samples) {
  const auto [subset, exponent] = detail::scaled_subset<Scalar>(samples, "median_bandwidth");
  const index_t m = subset.rows();
  const auto pairs = static_cast<std::size_t>(m) * static_cast<std::size_t>(m - 1) / 2;
  const Scalar sigma =
      std::ldexp(std::sqrt(detail::kth_smallest_squared_distance<Scalar>(subset, pairs / 2)), exponent);
  return detail::require_bandwidth(sigma, samples, "median_bandwidth", "median pairwise distance",
                                   "more than half the samples coincide");
}

/// σ = mean of the pairwise distances ‖xᵢ − xⱼ‖ over i < j (of the same strided subset of 1024 samples
/// when N > 1024). Larger than the median for heavy-tailed samples, where outlying pairs pull it up.
template <class Scalar>
Scalar mean_bandwidth(const matrix_view<Scalar>& samples) {
  const auto [subset, exponent] = detail::scaled_subset<Scalar>(samples, "mean_bandwidth");
  const index_t m = subset.rows();
  // ‖xᵢ‖² + ‖xⱼ‖² − 2xᵢᵀxⱼ can round below 0 for close pairs: clamped, a distance is ≥ 0.
  const auto s = detail::squared_distances<Scalar>(subset, subset);
  double total = 0;  // up to 5·10⁵ terms: summed in double whatever Scalar is
  for (index_t i = 0; i + 1 < m; ++i)
    total += s.row(i).tail(m - 1 - i).max(Scalar(0)).sqrt().template cast<double>().sum();
  const double pairs = 0.5 * static_cast<double>(m) * static_cast<double>(m - 1);
  const Scalar sigma = std::ldexp(static_cast<Scalar>(total / pairs), exponent);
  return detail::require_bandwidth(sigma, samples, "mean_bandwidth", "mean pairwise distance",
                                   "all the samples coincide");
}

/// σ = factor × the median heuristic (kscore's tests: factor 1.5). factor must be finite and > 0.
template <class Scalar>
bandwidth_rule<Scalar> scaled_median(Scalar factor) {
  scorelift::detail::require(factor > 0 && std::isfinite(factor), "scaled_median", "factor = ", factor,
                             " but must be finite and > 0");
  return [factor](const matrix_view<Scalar>& samples) { return factor * median_bandwidth<Scalar>(samples); };
}

}  // namespace scorelift::nonparametric

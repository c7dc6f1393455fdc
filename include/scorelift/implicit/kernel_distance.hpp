// scorelift/implicit/kernel_distance.hpp — the kernel distance between two sets of feature vectors (the
// "KID" recipe of Bińkowski et al. 2018, with whatever feature extractor the caller uses): the unbiased
// MMD² with the cubic polynomial kernel
//
//   k(a, b) = (aᵀb / D + 1)³,
//
// averaged over random subsets. Unlike the Fréchet distance (frechet_distance.hpp), whose plug-in estimate
// is biased upwards by O(D/N) and so ranks models differently at different sample counts, every subset's
// U-statistic (detail/unbiased_mmd.hpp) is an unbiased estimate of the population MMD², and so is their
// mean: small sample counts compare fairly. The spread over subsets is reported beside the mean.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "scorelift/detail/unbiased_mmd.hpp"
#include "scorelift/errors.hpp"

namespace scorelift {

struct kernel_distance_options {
  /// Random subsets the estimate averages over (≥ 1).
  index_t subsets = 100;
  /// Rows drawn without replacement from each set for one subset (≥ 2), at most the smaller set's
  /// size; 0: every row of both sets, once (then `subsets` must be 1).
  index_t subset_size = 1000;
  std::uint64_t seed = 0;
};

struct kernel_distance_result {
  double mean = 0.0;                // the mean of the subsets' MMD²_u: unbiased
  double standard_deviation = 0.0;  // over the subsets (NaN for one subset)
  double standard_error = 0.0;      // standard_deviation / √subsets (NaN for one subset)
  index_t subsets = 0;
  index_t subset_size = 0;          // rows per set and subset (0: all of each set)
};

namespace detail {
using feature_rows = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// (A Bᵀ / D + 1)³ elementwise.
inline Eigen::MatrixXd cubic_polynomial_gram(const feature_rows& a, const feature_rows& b) {
  const double dimension = static_cast<double>(a.cols());
  return ((a * b.transpose()).array() / dimension + 1.0).cube().matrix();
}

/// `count` distinct row indices of [0, rows), uniformly (a partial Fisher–Yates shuffle of `order`).
template <class Generator>
std::vector<index_t> draw_rows(std::vector<index_t>& order, index_t count, Generator& gen) {
  for (index_t i = 0; i < count; ++i) {
    std::uniform_int_distribution<index_t> pick(i, static_cast<index_t>(order.size()) - 1);
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(pick(gen))]);
  }
  return {order.begin(), order.begin() + count};
}
}  // namespace detail

/// The kernel distance between the rows of `x` (N × D) and `y` (M × D), both finite.
inline kernel_distance_result kernel_distance(const Eigen::Ref<const detail::feature_rows>& x,
                                              const Eigen::Ref<const detail::feature_rows>& y,
                                              const kernel_distance_options& options = {}) {
  constexpr const char* where = "kernel_distance";
  detail::require(x.cols() >= 1 && x.cols() == y.cols() && x.rows() >= 2 && y.rows() >= 2, where,
                  "argument 'x' has shape ", detail::shape_string({x.rows(), x.cols()}), " and 'y' has shape ",
                  detail::shape_string({y.rows(), y.cols()}), " but they need the same D >= 1 and at least 2 rows each");
  detail::require(x.allFinite() && y.allFinite(), where, "arguments 'x' (shape ",
                  detail::shape_string({x.rows(), x.cols()}), ") or 'y' (shape ",
                  detail::shape_string({y.rows(), y.cols()}), ") contain NaN or Inf");
  detail::require(options.subsets >= 1, where, "option 'subsets' is ", options.subsets, " but must be >= 1");
  const index_t smaller = std::min(x.rows(), y.rows());
  detail::require(options.subset_size == 0 || (options.subset_size >= 2 && options.subset_size <= smaller), where,
                  "option 'subset_size' is ", options.subset_size, " but must be 0 (all rows) or in [2, ", smaller,
                  "] for 'x' of shape ", detail::shape_string({x.rows(), x.cols()}), " and 'y' of shape ",
                  detail::shape_string({y.rows(), y.cols()}));
  detail::require(options.subset_size != 0 || options.subsets == 1, where, "option 'subsets' is ", options.subsets,
                  " but subset_size 0 (every row) makes one subset");

  const auto estimate = [](const detail::feature_rows& a, const detail::feature_rows& b) {
    return detail::unbiased_mmd_squared(detail::cubic_polynomial_gram(a, a), detail::cubic_polynomial_gram(b, b),
                                        detail::cubic_polynomial_gram(a, b));
  };
  std::vector<double> estimates;
  if (options.subset_size == 0) {
    estimates.push_back(estimate(x, y));
  } else {
    std::mt19937_64 gen(options.seed);
    std::vector<index_t> x_order(static_cast<std::size_t>(x.rows())), y_order(static_cast<std::size_t>(y.rows()));
    std::iota(x_order.begin(), x_order.end(), index_t{0});
    std::iota(y_order.begin(), y_order.end(), index_t{0});
    detail::feature_rows a(options.subset_size, x.cols()), b(options.subset_size, x.cols());
    for (index_t s = 0; s < options.subsets; ++s) {
      const auto xi = detail::draw_rows(x_order, options.subset_size, gen);
      const auto yi = detail::draw_rows(y_order, options.subset_size, gen);
      for (index_t r = 0; r < options.subset_size; ++r) {
        a.row(r) = x.row(xi[static_cast<std::size_t>(r)]);
        b.row(r) = y.row(yi[static_cast<std::size_t>(r)]);
      }
      estimates.push_back(estimate(a, b));
    }
  }

  kernel_distance_result out;
  out.subsets = static_cast<index_t>(estimates.size());
  out.subset_size = options.subset_size;
  out.mean = std::accumulate(estimates.begin(), estimates.end(), 0.0) / static_cast<double>(estimates.size());
  detail::require(std::isfinite(out.mean), where, "the kernel values (aᵀb/D + 1)³ overflow although every input is finite");
  if (estimates.size() < 2) {
    out.standard_deviation = out.standard_error = std::nan("");
    return out;
  }
  double squares = 0.0;
  for (double e : estimates) squares += (e - out.mean) * (e - out.mean);
  out.standard_deviation = std::sqrt(squares / static_cast<double>(estimates.size() - 1));
  out.standard_error = out.standard_deviation / std::sqrt(static_cast<double>(estimates.size()));
  return out;
}

}  // namespace scorelift

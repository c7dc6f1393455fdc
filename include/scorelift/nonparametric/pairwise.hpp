// scorelift/nonparametric/pairwise.hpp — the pairwise building blocks every kernel is made of:
// squared distances by one GEMM, sums of weighted differences Σⱼ Cᵢⱼ (xᵢ − yⱼ) by one more, the
// k-th smallest pairwise distance (for the median heuristic, bandwidth_rule.hpp), and the input checks
// shared by the estimators.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/detail/power_of_two_exponent.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/nonparametric/thin_product.hpp"

namespace scorelift::nonparametric {

/// Row-major dynamic matrix, one sample per row (the layout of scorelift::eigen_backend).
template <class Scalar>
using row_matrix = typename eigen_backend<Scalar>::matrix_type;
template <class Scalar>
using matrix_view = typename eigen_backend<Scalar>::matrix_view;
template <class Scalar>
using column_vector = typename eigen_backend<Scalar>::vector_type;

namespace detail {

template <class Scalar>
using row_array = Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Entries of one tile of C in tiled_weighted_differences: 2¹⁶ (512 KiB in double), a quarter of a
/// 2 MiB L2, so a tile is produced, summed and multiplied while it is still in cache.
inline constexpr index_t tile_entries = index_t(1) << 16;

/// What every tile of S(X, Y) needs besides X's rows, made once per S instead of once per tile: the
/// squared norms of both sets (a broadcast of the unevaluated expression would recompute each norm for
/// every entry of its row or column, N·M·D work instead of (N + M)·D) and Yᵀ, D×M row-major, the thin
/// operand of the tiles' products.
template <class Scalar>
struct squared_distance_operands {
  column_vector<Scalar> x_norms, y_norms;
  row_matrix<Scalar> y_transposed;

  squared_distance_operands(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y)
      : x_norms(x.rowwise().squaredNorm()), y_norms(y.rowwise().squaredNorm()), y_transposed(y.transpose()) {}
};

/// Sᵢⱼ = ‖xᵢ − yⱼ‖² = ‖xᵢ‖² + ‖yⱼ‖² − 2 xᵢᵀyⱼ for rows [row, row + part.rows()) of X and columns
/// [column, column + part.cols()) of Y, into `part`: a product instead of an N×M×D difference tensor,
/// finished (norms added) while in cache. The product −2 X Yᵀ has only D terms per entry, where a
/// general GEMM's packing costs as much as the arithmetic: thin_product reads X's rows in place
/// (N = 2000, D = 16: 1.3 ms for the lower half of S against 2.1 ms with Eigen's GEMM). Clamped at 0
/// because the expansion cancels catastrophically for nearby points.
template <class Scalar, class Part>
void squared_distance_block(const matrix_view<Scalar>& x, const squared_distance_operands<Scalar>& operands,
                            index_t row, index_t column, Part& part) {
  const index_t rows = part.rows(), columns = part.cols();
  Eigen::Map<row_major<Scalar>, 0, Eigen::OuterStride<>> product(part.data(), rows, columns,
                                                                Eigen::OuterStride<>(part.outerStride()));
  thin_product<Scalar>(x.middleRows(row, rows), operands.y_transposed.middleCols(column, columns), product,
                       Scalar(-2), true);
  part = ((part.colwise() + operands.x_norms.segment(row, rows).array()).rowwise() +
          operands.y_norms.segment(column, columns).transpose().array())
             .max(Scalar(0));
}

/// Rows [begin, begin + part.rows()) of S, all of Y's columns (see squared_distance_block).
template <class Scalar, class Part>
void squared_distance_rows(const matrix_view<Scalar>& x, const squared_distance_operands<Scalar>& operands,
                           index_t begin, Part& part) {
  squared_distance_block<Scalar>(x, operands, begin, 0, part);
}

/// Rows per tile of an N×M pairwise array: tile_entries / M, at least 8.
inline index_t tile_rows(index_t n, index_t m) {
  return std::clamp<index_t>(tile_entries / std::max<index_t>(m, 1), 8, std::max<index_t>(n, 8));
}

/// S made in cache-sized row tiles, each handed to `each_tile(begin, rows, tile)` so that a kernel can
/// evaluate its profile on it while it is in cache: one write of S to memory instead of a GEMM pass, a
/// finishing pass and a profile pass over N×M entries.
template <class Scalar, class EachTile>
row_array<Scalar> squared_distances(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y,
                                    const EachTile& each_tile) {
  const squared_distance_operands<Scalar> operands(x, y);
  const index_t n = x.rows(), tile = tile_rows(n, y.rows());
  row_array<Scalar> s(n, y.rows());
  for (index_t begin = 0; begin < n; begin += tile) {
    const index_t rows = std::min(tile, n - begin);
    auto part = s.middleRows(begin, rows);
    squared_distance_rows<Scalar>(x, operands, begin, part);
    each_tile(begin, rows, part);
  }
  return s;
}

/// The same tiles of S from one cache-sized workspace, S never stored whole: for a kernel that keeps
/// only what it makes of S (at N = 2000 a 32 MB array less per block, whose fresh pages cost more
/// than the GEMM that remakes a tile).
template <class Scalar, class EachTile>
void for_each_squared_distance_tile(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y,
                                    const EachTile& each_tile) {
  const squared_distance_operands<Scalar> operands(x, y);
  const index_t n = x.rows(), tile = tile_rows(n, y.rows());
  row_array<Scalar> workspace(std::min(tile, n), y.rows());
  for (index_t begin = 0; begin < n; begin += tile) {
    const index_t rows = std::min(tile, n - begin);
    auto part = workspace.topRows(rows);
    squared_distance_rows<Scalar>(x, operands, begin, part);
    each_tile(begin, rows, part);
  }
}

/// A divergence sum written through the Gram matrix k of a block on its own samples:
/// Σⱼ div K(xᵢ, xⱼ) = factor·(weightsᵢ xᵢ − (k X)ᵢ) (diagonal_kernel::block::divergence_through_gram).
template <class Scalar>
struct gram_divergence {
  column_vector<Scalar> weights;
  Scalar factor;
};

/// Whether two views are the same samples (one array, one shape): then S(X, Y) is symmetric.
template <class Scalar>
bool same_samples(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y) {
  return x.data() == y.data() && x.rows() == y.rows() && x.cols() == y.cols() && x.outerStride() == y.outerStride();
}

/// The blocks of the symmetric S = S(X, X) on and below the diagonal, `each_block(row, column, s)` for
/// s = S[row.., column..] (square blocks of `side`, ragged at the end), from one cache-sized workspace.
/// The rest of S is their mirror image, so half the products and half of what `each_block` evaluates on
/// S (a kernel's transcendental pass) suffice. Square blocks rather than row tiles so that the caller
/// can write a block's mirror image while it is in cache: mirroring an N×N array afterwards reads one
/// of its triangles column-wise, across a page per entry (measured at N = 2000: 4.8 ms against 3–4 ms
/// saved by the halved work). A Gaussian diagonal block of N = 2000, D = 16 takes 8.5 ms this way
/// against 10.1 ms for full rows; in a harness that reuses the output array, side 64 beat 128 and 256
/// by 0.2–3 ms.
template <class Scalar, class EachBlock>
void for_each_lower_squared_distance_block(const matrix_view<Scalar>& x, const EachBlock& each_block,
                                           index_t side = 64) {
  const squared_distance_operands<Scalar> operands(x, x);
  const index_t n = x.rows();
  row_array<Scalar> workspace(std::min(side, n), std::min(side, n));
  for (index_t row = 0; row < n; row += side) {
    const index_t rows = std::min(side, n - row);
    for (index_t column = 0; column <= row; column += side) {
      auto s = workspace.topLeftCorner(rows, std::min(side, n - column));
      squared_distance_block<Scalar>(x, operands, row, column, s);
      each_block(row, column, s);
    }
  }
}

template <class Scalar>
row_array<Scalar> squared_distances(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y) {
  return squared_distances<Scalar>(x, y, [](index_t, index_t, const auto&) {});
}

/// Row i: Σⱼ Cᵢⱼ (xᵢ − yⱼ) = (C 1)ᵢ xᵢ − (C Y)ᵢ — the shape of every kernel gradient sum — with the
/// N×M matrix C never stored whole: `fill(begin, rows, c)` writes rows [begin, begin + rows) of C into
/// the cache-sized `c` (rows × M), which is reduced at once; `finish(begin, rows, out_rows)` may then
/// add other terms to those output rows. One pass over whatever C is made of, instead of writing C
/// to memory and reading it back twice.
template <class Scalar, class Fill, class Finish>
row_matrix<Scalar> tiled_weighted_differences(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y,
                                              row_array<Scalar>& workspace, const Fill& fill, const Finish& finish) {
  const index_t n = x.rows(), m = y.rows(), tile = tile_rows(n, m);  // the tiles of squared_distances
  workspace.resize(std::min(tile, n), m);
  row_matrix<Scalar> out(n, x.cols());
  for (index_t begin = 0; begin < n; begin += tile) {
    const index_t rows = std::min(tile, n - begin);
    auto c = workspace.topRows(rows);
    fill(begin, rows, c);
    auto out_rows = out.middleRows(begin, rows);
    out_rows.noalias() = c.rowwise().sum().matrix().asDiagonal() * x.middleRows(begin, rows);
    thin_product<Scalar>(c.matrix(), y, out_rows, Scalar(-1), false);  // − C Y
    finish(begin, rows, out_rows);
  }
  return out;
}

/// Row i: Σⱼ Cᵢⱼ (xᵢ − yⱼ) for a C given whole (an N×M array or array expression).
template <class Scalar, class Weights>
row_matrix<Scalar> weighted_differences(const Weights& c, const matrix_view<Scalar>& x, const matrix_view<Scalar>& y) {
  row_array<Scalar> workspace;
  return tiled_weighted_differences<Scalar>(
      x, y, workspace, [&](index_t begin, index_t rows, auto& tile) { tile = c.middleRows(begin, rows); },
      [](index_t, index_t, auto&) {});
}

/// The rank bracket of the sampling filter of Floyd & Rivest (CACM 1975): for the k-th smallest of n
/// values, of which `sample` (sorted) is a sample, the values at the sample ranks k·S/n ± 4 standard
/// deviations (√S / 2 each) — the k-th smallest lies between them unless the sample misrepresents the whole.
template <class Scalar>
std::pair<Scalar, Scalar> rank_bracket(const std::vector<Scalar>& sample, std::size_t k, std::size_t n) {
  const auto size = static_cast<double>(sample.size());
  const double centre = static_cast<double>(k) / static_cast<double>(n) * size;
  const double spread = 2.0 * std::sqrt(size);
  const auto at = [&](double rank) { return sample[static_cast<std::size_t>(std::clamp(rank, 0.0, size - 1))]; };
  return {at(centre - spread), at(centre + spread)};
}

/// What one pass of the filter keeps: the count of values below the bracket and those inside it.
template <class Scalar>
struct bracket_filter {
  Scalar low, high;
  std::size_t below = 0;
  std::vector<Scalar> bucket;

  /// Branch-free (a bracket holding ~6% of the values would mispredict often): every value is written
  /// at the bucket's end, which advances only past those inside; the bucket grows by ≤ 1024 at a time.
  void add(const Scalar* begin, const Scalar* end) {
    const Scalar lo = low, hi = high;
    while (begin != end) {
      const Scalar* stop = begin + std::min<std::ptrdiff_t>(end - begin, 1024);
      std::size_t count = 0, kept = bucket.size();
      bucket.resize(kept + static_cast<std::size_t>(stop - begin));
      Scalar* out = bucket.data();
      for (; begin != stop; ++begin) {
        count += *begin < lo;
        out[kept] = *begin;
        kept += (*begin >= lo) & (*begin <= hi);
      }
      below += count;
      bucket.resize(kept);
    }
  }
  /// The k-th smallest of all values passed to add(), when the bracket holds it.
  std::optional<Scalar> select(std::size_t k) {
    if (k < below || k - below >= bucket.size()) return std::nullopt;
    const auto kth = bucket.begin() + static_cast<std::ptrdiff_t>(k - below);
    std::nth_element(bucket.begin(), kth, bucket.end());
    return *kth;
  }
};

/// The k-th smallest entry of `values` (0-based; what std::nth_element puts at position k), by the
/// sampling filter (rank_bracket) of ~4096 strided entries: one pass counts the entries below the bracket
/// and keeps those inside (≈ 6% of them), and nth_element runs on that small bucket. When the bracket
/// misses (a strided sample unlike the whole), the full nth_element gives the answer: exact either way.
template <class Scalar>
Scalar kth_smallest(std::vector<Scalar>& values, std::size_t k) {
  const std::size_t n = values.size();
  constexpr std::size_t sample_size = 4096;
  if (n > 8 * sample_size) {
    const std::size_t stride = n / sample_size;
    std::vector<Scalar> sample;
    sample.reserve(sample_size + 1);
    for (std::size_t i = 0; i < n; i += stride) sample.push_back(values[i]);
    std::sort(sample.begin(), sample.end());
    const auto [low, high] = rank_bracket(sample, k, n);
    bracket_filter<Scalar> filter{low, high, 0, {}};
    filter.bucket.reserve(n / 8);
    filter.add(values.data(), values.data() + n);
    if (const auto kth = filter.select(k)) return *kth;
  }
  const auto kth = values.begin() + static_cast<std::ptrdiff_t>(k);
  std::nth_element(values.begin(), kth, values.end());
  return *kth;
}

/// The k-th smallest squared distance ‖xᵢ − xⱼ‖² over the pairs i < j of the rows of x, without the
/// m×m matrix or the list of m(m−1)/2 distances (at m = 1024, 8 MB and 4 MB of fresh memory, whose page
/// faults cost more than the arithmetic): a seeded sample of 4096 pairs brackets the answer
/// (rank_bracket), then the upper triangle is made in cache-sized row tiles (squared_distance_block)
/// and filtered as it is made. When the bracket
/// misses, the distances are listed and kth_smallest gives the answer: exact either way.
template <class Scalar>
Scalar kth_smallest_squared_distance(const matrix_view<Scalar>& x, std::size_t k) {
  const index_t m = x.rows();
  const auto pairs = static_cast<std::size_t>(m) * static_cast<std::size_t>(m - 1) / 2;
  const squared_distance_operands<Scalar> operands(x, x);
  const auto for_each_distance = [&](const auto& visit) {
    const index_t tile = tile_rows(m, m);
    row_array<Scalar> workspace(std::min(tile, m), m);
    for (index_t begin = 0; begin + 1 < m; begin += tile) {
      const index_t rows = std::min(tile, m - 1 - begin), cols = m - begin;  // rows begin.., columns j ≥ begin
      auto s = workspace.topLeftCorner(rows, cols);
      squared_distance_block<Scalar>(x, operands, begin, begin, s);
      for (index_t r = 0; r < rows; ++r) visit(&s(r, r + 1), &s(r, 0) + cols);  // the row's j > i
    }
  };
  constexpr std::size_t sample_size = 4096;
  if (pairs > 8 * sample_size) {
    std::mt19937_64 generator(0x5eed);
    std::uniform_int_distribution<index_t> pick(0, m - 1);
    std::vector<Scalar> sample;
    sample.reserve(sample_size);
    while (sample.size() < sample_size) {
      const index_t i = pick(generator), j = pick(generator);
      if (i != j) sample.push_back((x.row(i) - x.row(j)).squaredNorm());
    }
    std::sort(sample.begin(), sample.end());
    const auto [low, high] = rank_bracket(sample, k, pairs);
    bracket_filter<Scalar> filter{low, high, 0, {}};
    filter.bucket.reserve(pairs / 8);
    for_each_distance([&](const Scalar* begin, const Scalar* end) { filter.add(begin, end); });
    if (const auto kth = filter.select(k)) return *kth;
  }
  std::vector<Scalar> values;
  values.reserve(pairs);
  for_each_distance([&](const Scalar* begin, const Scalar* end) { values.insert(values.end(), begin, end); });
  return kth_smallest(values, k);
}


/// Every kernel forms ‖xᵢ − yⱼ‖² = ‖xᵢ‖² + ‖yⱼ‖² − 2xᵢᵀyⱼ, at most 4 max ‖x‖²: that must be finite, or
/// the kernel is ∞ − ∞ = NaN (points ~1e154 apart in double, ~1e19 in float). Refused, naming the size;
/// the estimates are scale-covariant (the score of the samples x/c is c·ŝ(c·)), so rescaling is the remedy.
template <class Scalar>
void require_no_distance_overflow(const matrix_view<Scalar>& x, std::string_view where, const char* name) {
  if (x.rows() == 0 || x.cols() == 0) return;
  const Scalar largest = x.rowwise().squaredNorm().maxCoeff();
  if (std::isfinite(Scalar(4) * largest)) return;
  scorelift::detail::fail(where, "argument '", name, "' (shape ", scorelift::detail::shape_string({x.rows(), x.cols()}),
                          ") has entries up to ", x.cwiseAbs().maxCoeff(),
                          " whose squared distances overflow; rescale the samples (the estimate is scale-covariant)");
}

/// The checks every `fit` makes: at least 2 samples, at least one dimension, all finite, distances finite.
template <class Scalar>
void require_samples(const matrix_view<Scalar>& samples, std::string_view where) {
  const auto shape = scorelift::detail::shape_string({samples.rows(), samples.cols()});
  scorelift::detail::require(samples.rows() >= 2, where, "argument 'samples' has shape ", shape,
                             " but needs at least 2 rows (one sample per row)");
  scorelift::detail::require(samples.cols() >= 1, where, "argument 'samples' has shape ", shape,
                             " but needs at least 1 column");
  scorelift::detail::require(samples.allFinite(), where, "argument 'samples' (shape ", shape,
                             ") contains NaN or Inf");
  require_no_distance_overflow<Scalar>(samples, where, "samples");
}

/// The checks every `score` / `energy` makes against the fitted samples.
template <class Scalar>
void require_queries(const matrix_view<Scalar>& x, index_t fitted_dim, std::string_view where) {
  const auto shape = scorelift::detail::shape_string({x.rows(), x.cols()});
  scorelift::detail::require(fitted_dim > 0, where, "called before fit()");
  scorelift::detail::require(x.cols() == fitted_dim, where, "argument 'x' has shape ", shape,
                             " but the estimator was fitted on samples with ", fitted_dim, " columns");
  scorelift::detail::require(x.allFinite(), where, "argument 'x' (shape ", shape, ") contains NaN or Inf");
  require_no_distance_overflow<Scalar>(x, where, "x");
}

/// N, the rows of a kernel block between X (N×D) and Y (M×D), once the two sets are known to share D
/// (a block's constructor sizes its members with it).
template <class Scalar>
index_t block_rows(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y, std::string_view where) {
  scorelift::detail::require(x.cols() == y.cols(), where, "argument 'x' has shape ",
                             scorelift::detail::shape_string({x.rows(), x.cols()}), " but 'y' has shape ",
                             scorelift::detail::shape_string({y.rows(), y.cols()}), " (one dimension D for both)");
  return x.rows();
}

/// A kernel's value(x, y) is for one pair of points: two 1×D rows.
template <class Scalar>
void require_one_pair(const matrix_view<Scalar>& x, const matrix_view<Scalar>& y, std::string_view where) {
  block_rows<Scalar>(x, y, where);
  scorelift::detail::require(x.rows() == 1 && y.rows() == 1, where, "arguments 'x' and 'y' have ", x.rows(), " and ",
                             y.rows(), " rows but one point each (1×D) was expected");
}

/// A block's product takes coefficients shaped `rows`×`cols` (e.g. W: one D-vector per row of Y); the
/// products read them through raw pointers (thin_product.hpp), so a wrong shape is refused, not read past.
template <class Scalar>
void require_coefficients(const matrix_view<Scalar>& w, index_t rows, index_t cols, std::string_view where,
                          const char* name) {
  scorelift::detail::require(w.rows() == rows && w.cols() == cols, where, "argument '", name, "' has shape ",
                             scorelift::detail::shape_string({w.rows(), w.cols()}), " but ",
                             scorelift::detail::shape_string({rows, cols}), " was expected");
}

}  // namespace detail
}  // namespace scorelift::nonparametric

// Pairwise building blocks: squared distances and weighted differences against loops, and the
// median heuristic against a brute-force sort.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/bandwidth_rule.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

TEST_CASE("squared_distances and weighted_differences match explicit loops") {
  const rmat<> x = test::standard_normal(7, 3, 11), y = test::standard_normal(5, 3, 12);
  const auto s = nonparametric::detail::squared_distances<double>(x, y);
  const Eigen::ArrayXXd c = Eigen::ArrayXXd::Random(7, 5);
  const rmat<> wd = nonparametric::detail::weighted_differences<double>(c, x, y);
  for (index_t i = 0; i < 7; ++i) {
    rmat<> expected = rmat<>::Zero(1, 3);
    for (index_t j = 0; j < 5; ++j) {
      CHECK(s(i, j) == doctest::Approx((x.row(i) - y.row(j)).squaredNorm()).epsilon(1e-12));
      expected += c(i, j) * (x.row(i) - y.row(j));
    }
    CHECK((wd.row(i) - expected).norm() < 1e-12);
  }
}

TEST_CASE("squared_distance_block: any block of S, ragged and offset, and the lower blocks of S(X, X)") {
  const rmat<> x = test::standard_normal(37, 5, 13), y = test::standard_normal(29, 5, 14);
  const nonparametric::detail::squared_distance_operands<double> operands(x, y);
  nonparametric::detail::row_array<double> workspace(20, 29);  // the largest block below
  for (const auto& [row, column, rows, columns] : {std::array<index_t, 4>{0, 0, 20, 20}, {17, 9, 20, 20},
                                                   {30, 21, 7, 8}, {5, 0, 1, 29}}) {
    auto s = workspace.topLeftCorner(rows, columns);
    nonparametric::detail::squared_distance_block<double>(x, operands, row, column, s);
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < columns; ++j)
        CHECK(s(i, j) == doctest::Approx((x.row(row + i) - y.row(column + j)).squaredNorm()).epsilon(1e-12));
  }
  // Blocks of side 16 of the 37×37 S(X, X): (row, column) with column ≤ row, ragged at 32.
  std::vector<std::array<index_t, 4>> seen;
  nonparametric::detail::for_each_lower_squared_distance_block<double>(
      x,
      [&](index_t row, index_t column, const auto& s) {
        seen.push_back({row, column, s.rows(), s.cols()});
        for (index_t i = 0; i < s.rows(); ++i)
          for (index_t j = 0; j < s.cols(); ++j)
            CHECK(s(i, j) == doctest::Approx((x.row(row + i) - x.row(column + j)).squaredNorm()).epsilon(1e-12));
      },
      16);
  const std::vector<std::array<index_t, 4>> expected{{0, 0, 16, 16},  {16, 0, 16, 16}, {16, 16, 16, 16},
                                                     {32, 0, 5, 16},  {32, 16, 5, 16}, {32, 32, 5, 5}};
  CHECK(seen == expected);
}

TEST_CASE("median_bandwidth is the median pairwise distance (odd and even pair counts)") {
  for (index_t n : {7, 8}) {  // 21 and 28 pairs
    const rmat<> x = test::standard_normal(n, 2, 13);
    std::vector<double> d;
    for (index_t i = 0; i < n; ++i)
      for (index_t j = i + 1; j < n; ++j) d.push_back((x.row(i) - x.row(j)).norm());
    std::sort(d.begin(), d.end());
    CHECK(median_bandwidth<double>(x) == doctest::Approx(d[d.size() / 2]).epsilon(1e-12));
  }
  // Scale equivariance: σ(3x) = 3σ(x); and N(0, I_D) has median distance ≈ √(2D) for large D.
  const rmat<> big = test::standard_normal(400, 50, 14);
  const rmat<> tripled = 3.0 * big;
  CHECK(median_bandwidth<double>(tripled) == doctest::Approx(3 * median_bandwidth<double>(big)).epsilon(1e-12));
  CHECK(median_bandwidth<double>(big) == doctest::Approx(std::sqrt(100.0)).epsilon(0.03));
}

TEST_CASE("kth_smallest equals nth_element: random, sorted, reversed, tied and constant inputs, every filter outcome") {
  std::mt19937_64 gen(16);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> inputs;
  std::vector<double> random(100000);
  for (double& v : random) v = normal(gen);
  inputs.push_back(random);
  std::vector<double> sorted = random;
  std::sort(sorted.begin(), sorted.end());
  inputs.push_back(sorted);                                  // the strided sample is then exact
  inputs.emplace_back(sorted.rbegin(), sorted.rend());
  std::vector<double> tied(100000);
  for (double& v : tied) v = std::floor(3 * normal(gen));  // a few hundred distinct values, many ties
  inputs.push_back(tied);
  inputs.emplace_back(50000, 1.5);                           // all equal: the bracket is one value
  std::vector<double> biased = random;                       // every stride-th entry huge: the sample lies
  for (std::size_t i = 0; i < biased.size(); i += biased.size() / 4096) biased[i] = 1e9;
  inputs.push_back(biased);
  for (const auto& input : inputs)
    for (std::size_t k : {std::size_t(0), input.size() / 3, input.size() / 2, input.size() - 1}) {
      std::vector<double> mine = input, reference = input;
      std::nth_element(reference.begin(), reference.begin() + static_cast<std::ptrdiff_t>(k), reference.end());
      CHECK(nonparametric::detail::kth_smallest(mine, k) == reference[k]);
    }
}

TEST_CASE("kth_smallest_squared_distance equals nth_element over the upper triangle, filtered and listed") {
  // m = 40: 780 pairs (listed directly); m = 300: 44 850 pairs (sampled bracket, tiled filter);
  // m = 300 with 200 coincident rows: most distances 0, so the bracket collapses onto ties.
  rmat<> tied = test::standard_normal(300, 4, 18);
  tied.topRows(200).rowwise() = tied.row(0);
  for (const rmat<>& x : {rmat<>(test::standard_normal(40, 3, 17)), rmat<>(test::standard_normal(300, 4, 18)), tied}) {
    const auto s = nonparametric::detail::squared_distances<double>(x, x);
    std::vector<double> upper;
    for (index_t i = 0; i < x.rows(); ++i)
      for (index_t j = i + 1; j < x.rows(); ++j) upper.push_back(s(i, j));
    for (std::size_t k : {std::size_t(0), upper.size() / 2, upper.size() - 1}) {
      std::vector<double> reference = upper;
      std::nth_element(reference.begin(), reference.begin() + static_cast<std::ptrdiff_t>(k), reference.end());
      CHECK(nonparametric::detail::kth_smallest_squared_distance<double>(x, k) ==
            doctest::Approx(reference[k]).epsilon(1e-13).scale(x.squaredNorm() / static_cast<double>(x.rows())));
    }
  }
}

TEST_CASE("median_bandwidth rejects fewer than 2 samples and coincident samples") {
  const rmat<> one = test::standard_normal(1, 3, 15);
  CHECK_THROWS_WITH_AS(median_bandwidth<double>(one), doctest::Contains("argument 'samples' has shape [1, 3]"),
                       scorelift::invalid_argument);
  const rmat<> same = rmat<>::Ones(5, 2);
  CHECK_THROWS_WITH_AS(median_bandwidth<double>(same), doctest::Contains("coincide"), scorelift::invalid_argument);
}

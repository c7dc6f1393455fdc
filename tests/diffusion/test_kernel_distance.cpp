// kernel_distance (KID): a hand-computed value, unbiasedness against the closed-form population MMD² of
// the cubic kernel between two Gaussians (which the biased V-statistic misses), ~0 for one distribution,
// and bad input.
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "scorelift/implicit/kernel_distance.hpp"

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using scorelift::kernel_distance;

namespace {

/// E (UᵀV/D + 1)³ for independent U ~ N(a, A), V ~ N(b, B), from the Gaussian moments:
/// E UᵀV = aᵀb, E (UᵀV)² = tr(M_U M_V) with M = Σ + μμᵀ, and
/// E (UᵀV)³ = Σ_ijk E[U_i U_j U_k] E[V_i V_j V_k], E[U_i U_j U_k] = a_i a_j a_k + a_i A_jk + a_j A_ik + a_k A_ij.
double expected_cubic_kernel(const Eigen::VectorXd& a, const Eigen::MatrixXd& A, const Eigen::VectorXd& b,
                             const Eigen::MatrixXd& B) {
  const int d = static_cast<int>(a.size());
  const auto third = [](const Eigen::VectorXd& m, const Eigen::MatrixXd& c, int i, int j, int k) {
    return m(i) * m(j) * m(k) + m(i) * c(j, k) + m(j) * c(i, k) + m(k) * c(i, j);
  };
  double t3 = 0.0;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < d; ++k) t3 += third(a, A, i, j, k) * third(b, B, i, j, k);
  const Eigen::MatrixXd mu = A + a * a.transpose(), mv = B + b * b.transpose();
  const double t1 = a.dot(b), t2 = (mu * mv).trace(), dd = d;
  return t3 / (dd * dd * dd) + 3.0 * t2 / (dd * dd) + 3.0 * t1 / dd + 1.0;
}

RowMatrix gaussian_rows(int n, const Eigen::VectorXd& mean, const Eigen::MatrixXd& root, std::mt19937_64& gen) {
  std::normal_distribution<double> normal;
  RowMatrix z = RowMatrix::NullaryExpr(n, mean.size(), [&] { return normal(gen); });
  return (z * root.transpose()).rowwise() + mean.transpose();
}

struct mean_and_error {
  double mean = 0.0, standard_error = 0.0;
};
mean_and_error summarise(const std::vector<double>& v) {
  double m = 0.0, s = 0.0;
  for (double e : v) m += e / static_cast<double>(v.size());
  for (double e : v) s += (e - m) * (e - m);
  return {m, std::sqrt(s / static_cast<double>(v.size() - 1) / static_cast<double>(v.size()))};
}

}  // namespace

TEST_CASE("kernel_distance: a value by hand (D = 1, every row)") {
  // x = (0, 1, 2), y = (1, 3), k(a, b) = (ab + 1)³. Off-diagonal x pairs 1, 1, 27 (each twice, over 6);
  // the y pair 64 (twice, over 2); cross terms 1, 1, 8, 64, 27, 343 (over 6): 58/6 + 64 − 2·74.
  const RowMatrix x{{0.0}, {1.0}, {2.0}}, y{{1.0}, {3.0}};
  const auto r = kernel_distance(x, y, {.subsets = 1, .subset_size = 0});
  CHECK(r.mean == doctest::Approx(58.0 / 6.0 + 64.0 - 148.0).epsilon(1e-14));
  CHECK(std::isnan(r.standard_deviation));
  CHECK(r.subsets == 1);
  // Symmetric in its arguments.
  CHECK(kernel_distance(y, x, {.subsets = 1, .subset_size = 0}).mean == doctest::Approx(r.mean).epsilon(1e-14));
}

TEST_CASE("kernel_distance is unbiased: the mean over draws matches the Gaussians' population MMD² within 4 standard errors") {
  // N(a, A) against N(b, B) in D = 3; population MMD² = E k(X, X') + E k(Y, Y') − 2 E k(X, Y).
  const int d = 3;
  Eigen::VectorXd a(d), b(d);
  a << 0.5, -0.3, 0.2;
  b << 0.1, 0.4, -0.6;
  Eigen::MatrixXd ra(d, d), rb(d, d);
  ra << 1.0, 0.0, 0.0, 0.3, 0.8, 0.0, -0.2, 0.1, 0.6;
  rb << 0.7, 0.0, 0.0, -0.1, 1.1, 0.0, 0.4, 0.2, 0.9;
  const Eigen::MatrixXd A = ra * ra.transpose(), B = rb * rb.transpose();
  const double population = expected_cubic_kernel(a, A, a, A) + expected_cubic_kernel(b, B, b, B) -
                            2.0 * expected_cubic_kernel(a, A, b, B);
  REQUIRE(population > 0.05);

  std::mt19937_64 gen(2024);
  std::vector<double> every_row, subsets, biased;
  for (int draw = 0; draw < 3000; ++draw) {
    const RowMatrix x = gaussian_rows(12, a, ra, gen), y = gaussian_rows(12, b, rb, gen);
    every_row.push_back(kernel_distance(x, y, {.subsets = 1, .subset_size = 0}).mean);
    // The V-statistic (diagonals kept) that the U-statistic corrects: biased by O(1/n).
    const auto gram = [](const RowMatrix& p, const RowMatrix& q) {
      return ((p * q.transpose()).array() / 3.0 + 1.0).cube().matrix().eval();
    };
    biased.push_back(gram(x, x).mean() + gram(y, y).mean() - 2.0 * gram(x, y).mean());
    if (draw < 1000) {
      const RowMatrix xl = gaussian_rows(30, a, ra, gen), yl = gaussian_rows(30, b, rb, gen);
      subsets.push_back(kernel_distance(xl, yl, {.subsets = 10, .subset_size = 6, .seed = static_cast<std::uint64_t>(draw)}).mean);
    }
  }
  const auto u = summarise(every_row), s = summarise(subsets), v = summarise(biased);
  INFO("population ", population, "; every row ", u.mean, " ± ", u.standard_error, "; subsets ", s.mean, " ± ",
       s.standard_error, "; biased ", v.mean, " ± ", v.standard_error);
  CHECK(std::abs(u.mean - population) < 4.0 * u.standard_error);
  CHECK(std::abs(s.mean - population) < 4.0 * s.standard_error);
  CHECK(std::abs(v.mean - population) > 8.0 * v.standard_error);  // the test can tell a biased estimator
}

TEST_CASE("kernel_distance of two samples of one distribution is ~0, and the subsets' spread is reported") {
  std::mt19937_64 gen(5);
  const Eigen::VectorXd mean = Eigen::VectorXd::Constant(4, 0.3);
  const Eigen::MatrixXd root = Eigen::MatrixXd::Identity(4, 4);
  const RowMatrix x = gaussian_rows(400, mean, root, gen), y = gaussian_rows(300, mean, root, gen);
  const auto r = kernel_distance(x, y, {.subsets = 50, .subset_size = 100, .seed = 1});
  CHECK(r.subsets == 50);
  CHECK(r.subset_size == 100);
  CHECK(r.standard_deviation > 0.0);
  CHECK(r.standard_error == doctest::Approx(r.standard_deviation / std::sqrt(50.0)));
  CHECK(std::abs(r.mean) < 4.0 * r.standard_deviation / std::sqrt(50.0) + 1e-3);
  // Seeded: the same subsets again.
  CHECK(kernel_distance(x, y, {.subsets = 50, .subset_size = 100, .seed = 1}).mean == r.mean);
}

TEST_CASE("kernel_distance: bad input is refused naming the argument") {
  const RowMatrix x = RowMatrix::Ones(5, 3), y = RowMatrix::Ones(4, 3), z = RowMatrix::Ones(4, 2);
  CHECK_THROWS_WITH_AS(kernel_distance(x, z), doctest::Contains("'y' has shape [4, 2]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(kernel_distance(x.topRows(1), y), doctest::Contains("at least 2 rows"), scorelift::invalid_argument);
  RowMatrix bad = x;
  bad(2, 1) = std::nan("");
  CHECK_THROWS_WITH_AS(kernel_distance(bad, y), doctest::Contains("NaN or Inf"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(kernel_distance(x, y, {.subsets = 0}), doctest::Contains("'subsets' is 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(kernel_distance(x, y, {.subsets = 3, .subset_size = 5}), doctest::Contains("'subset_size' is 5 but must be 0 (all rows) or in [2, 4]"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(kernel_distance(x, y, {.subsets = 3, .subset_size = 1}), doctest::Contains("'subset_size' is 1"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(kernel_distance(x, y, {.subsets = 3, .subset_size = 0}), doctest::Contains("one subset"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(kernel_distance(x * 1e120, y, {.subsets = 1, .subset_size = 0}), doctest::Contains("overflow"),
                       scorelift::invalid_argument);
}

// knn_tolerance: the measurement behind the 0.06-nat tolerance of tests/data/test_knn_entropy.cpp
// ("converges to the entropy of a correlated Gaussian"). The same Gaussians, N = 1500, k = 3, the test's
// seeds (100 + s): for each D, the error of the test's 4-seed mean, and over 64 seeds the bias and the
// standard deviation of one estimate and of a 4-seed mean. Prints a Markdown table.
#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <random>

#include "scorelift/implicit/knn_entropy.hpp"

namespace {
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix standard_normal(int n, int d, std::uint64_t seed) {  // as the test draws them
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  return RowMatrix::NullaryExpr(n, d, [&] { return normal(gen); });
}
}  // namespace

int main() {
  constexpr int seeds = 64, test_seeds = 4, samples = 1500, k = 3;
  std::printf("| D | error of the test's 4-seed mean | bias (64 seeds) | sd of one estimate | sd of a 4-seed mean |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  for (const int d : {1, 2, 6}) {
    // Σ = A Aᵀ, A lower-triangular as in the test: h = ½ log det(2πe Σ).
    RowMatrix a = RowMatrix::Identity(d, d);
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < i; ++j) a(i, j) = 0.1 * (1 + i - j);
    for (int i = 0; i < d; ++i) a(i, i) = 0.5 + 0.25 * i;
    const double exact =
        0.5 * (d * std::log(2.0 * std::numbers::pi * std::numbers::e) + 2.0 * a.diagonal().array().log().sum());
    double test_mean = 0.0, sum = 0.0, sum_squares = 0.0;
    for (int s = 0; s < seeds; ++s) {
      const RowMatrix z = standard_normal(samples, d, 100 + static_cast<std::uint64_t>(s)) * a.transpose();
      const double error = scorelift::knn_entropy(z, k) - exact;
      if (s < test_seeds) test_mean += error / test_seeds;
      sum += error;
      sum_squares += error * error;
    }
    const double bias = sum / seeds, sd = std::sqrt(sum_squares / seeds - bias * bias);
    std::printf("| %d | %+.3f | %+.3f | %.3f | %.3f |\n", d, test_mean, bias, sd, sd / std::sqrt(double{test_seeds}));
  }
}

// The two out-of-sample extensions of the Stein gradient estimator (stein.hpp) side by side: accuracy
// against the known score of N(0, I_D), s(x) = −x, at M = 500 fresh draws, and time. The same fit (same
// η, same median-heuristic Gaussian kernel) gives Ĝ at the samples; only the extension differs.
// "refit/point" is one fit on N + 1 samples: what Li & Turner's definition costs per query without the
// bordered update. Prints a Markdown table (benchmarks/RESULTS.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "scorelift/nonparametric/stein.hpp"

namespace {

using namespace scorelift;
using namespace scorelift::nonparametric;
using matrix = row_matrix<double>;

matrix standard_normal(index_t n, index_t d, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  return matrix::NullaryExpr(n, d, [&] { return normal(gen); });
}

/// Median of 5 runs of f, in milliseconds.
template <class F>
double time_ms(const F& f) {
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    runs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

double relative_error(const matrix& estimate, const matrix& truth) {
  return std::sqrt((estimate - truth).squaredNorm() / truth.squaredNorm());
}

}  // namespace

int main() {
  constexpr index_t queries = 500;
  std::printf("| D | N | eta | rel. error Tikhonov ext. | rel. error Li-Turner ext. | fit Tikhonov (ms) | fit Li-Turner (ms) "
              "| score Tikhonov (ms) | score Li-Turner (ms) | refit/point (ms) |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (const index_t d : {2, 16}) {
    for (const index_t n : {250, 1000}) {
      const matrix x = standard_normal(n, d, 7), q = standard_normal(queries, d, 8);
      const matrix truth = -q;
      for (const double eta : {0.1, 1.0, 10.0}) {
        stein_gradient_estimator<diagonal_gaussian<>> tikhonov({}, {eta, stein_extension::tikhonov});
        stein_gradient_estimator<diagonal_gaussian<>> li_turner({}, {eta, stein_extension::li_turner});
        const double fit_t = time_ms([&] { tikhonov.fit(x); });
        const double fit_l = time_ms([&] { li_turner.fit(x); });
        matrix score_t, score_l;
        const double score_t_ms = time_ms([&] { score_t = tikhonov.score(q); });
        const double score_l_ms = time_ms([&] { score_l = li_turner.score(q); });
        const matrix one_more = standard_normal(n + 1, d, 7);
        stein_gradient_estimator<diagonal_gaussian<>> refit({}, {eta});
        const double refit_ms = time_ms([&] { refit.fit(one_more); });
        std::printf("| %td | %td | %g | %.4f | %.4f | %.2f | %.2f | %.3f | %.2f | %.2f |\n", d, n, eta,
                    relative_error(score_t, truth), relative_error(score_l, truth), fit_t, fit_l, score_t_ms,
                    score_l_ms, refit_ms);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

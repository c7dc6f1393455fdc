// Fit cost of the nonparametric score estimators, D = 16, N = 250..4000: the dense O(N³) solvers
// (Stein/Tikhonov by Cholesky, SSGE by a full eigendecomposition), the O(N²D)-per-step iterative ones
// (curl-free Tikhonov by CG, ν-method, Landweber) and Nyström with M ≪ N. Each benchmark's name,
// "<estimator>/<N>", matches an entry of reference.py, which times the same algorithm in NumPy/SciPy;
// run_comparison.sh runs both and prints the ratios. Also: fit + score at N = 100 (the implicit-VAE
// use, called once per training step).
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "scorelift/nonparametric.hpp"

namespace {

using namespace scorelift;
using namespace scorelift::nonparametric;
using matrix = row_matrix<double>;

constexpr index_t dim = 16;

matrix samples(index_t n, std::uint64_t seed = 1) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  return matrix::NullaryExpr(n, dim, [&] { return normal(gen); });
}

/// K + I for the Gaussian Gram matrix K of `samples(n)` at σ² = 32 (≈ the median heuristic's at D = 16):
/// the system the float factor, the residual and the float solve below are timed on.
matrix regularised_gram(index_t n) {
  const matrix x = samples(n);
  matrix a = (-nonparametric::detail::squared_distances<double>(x, x) / (2.0 * 32.0)).exp().matrix();
  a.diagonal().array() += 1.0;
  return a;
}

/// Registers "<name>/<N>" timing `estimator.fit(x)` for each N.
template <class Estimator>
void register_fit(const std::string& name, Estimator prototype, std::initializer_list<index_t> sizes) {
  for (index_t n : sizes) {
    benchmark::RegisterBenchmark((name + "/" + std::to_string(n)).c_str(), [prototype, n](benchmark::State& state) {
      const matrix x = samples(n);
      Estimator estimator = prototype;
      for (auto _ : state) {
        estimator.fit(x);
        benchmark::DoNotOptimize(estimator.expansion().weights().data());
      }
    })->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using options = tikhonov_options<double>;
  register_fit("stein", stein_gradient_estimator<diagonal_gaussian<>>({}, {1.0}), {250, 500, 1000, 2000, 4000});
  register_fit("ssge", ssge_estimator<diagonal_gaussian<>>({}, spectral_cutoff<double>::threshold(0.01)),
               {250, 500, 1000, 2000});
  register_fit("tikhonov_cg_curl_free",
               tikhonov_estimator<curl_free_gaussian<>>(
                   {}, options{.lambda = 1e-3, .solver = tikhonov_solver::conjugate_gradient, .tolerance = 1e-6}),
               {250, 500, 1000, 2000, 4000});
  register_fit("nu_method_curl_free", nu_method_estimator<curl_free_imq<>>({}, {10, 1.0}), {250, 500, 1000, 2000, 4000});
  register_fit("landweber_diagonal", landweber_estimator<diagonal_gaussian<>>({}, {10}), {250, 500, 1000, 2000, 4000});
  register_fit("nystrom_diagonal_m100",
               tikhonov_estimator<diagonal_gaussian<>>({}, options{.lambda = 1e-3, .nystrom_centres = 100}),
               {250, 500, 1000, 2000, 4000});
  register_fit("nystrom_curl_free_m50",
               tikhonov_estimator<curl_free_gaussian<>>({}, options{.lambda = 1e-3, .nystrom_centres = 50}),
               {250, 500, 1000, 2000, 4000});

  // The implicit-VAE call: fit on N = 100 latent codes and score them, once per step.
  benchmark::RegisterBenchmark("stein_fit_and_score/100", [](benchmark::State& state) {
    const matrix x = samples(100);
    stein_gradient_estimator<diagonal_gaussian<>> estimator;
    for (auto _ : state) benchmark::DoNotOptimize(estimator.fit(x).score(x).data());
  })->Unit(benchmark::kMillisecond);

  // The float factor of refined_cholesky.hpp on its own (not in reference.py, so not in the ratio table):
  // regularised_gram(2000), with Eigen's panel steps and, when built with scorelift::blas, the BLAS's.
  // The copy the factor overwrites is made outside the timed region.
  const auto register_factor = [](const std::string& name, auto factor) {
    benchmark::RegisterBenchmark(name.c_str(), [factor](benchmark::State& state) {
      const Eigen::MatrixXf a = regularised_gram(2000).cast<float>();
      Eigen::MatrixXf work;
      for (auto _ : state) {
        state.PauseTiming();
        work = a;
        state.ResumeTiming();
        benchmark::DoNotOptimize(factor(work));
      }
    })->Unit(benchmark::kMillisecond);
  };
  register_factor("float_factor_eigen/2000",
                  [](Eigen::MatrixXf& a) { return nonparametric::detail::blocked_cholesky<float, nonparametric::detail::eigen_panel_steps>(a); });
#if defined(SCORELIFT_USE_BLAS)
  register_factor("float_factor_blas/2000",
                  [](Eigen::MatrixXf& a) { return nonparametric::detail::blocked_cholesky<float, nonparametric::detail::blas_panel_steps>(a); });
#endif

  // The refinement's thin products on their own (not in reference.py either), on the same K + I:
  // R = B − A X in double (X 2000×16: 128 MFLOP, so GFLOP/s = 128 / ms) and one float solve with A's
  // factor (the same flop count in float), each repeated back to back (A's 32 MB stream from memory, the
  // factor's 16 MB partly from L3): thin_product.hpp's tiles on this CPU at -march=native.
  benchmark::RegisterBenchmark("thin_product_double/2000", [](benchmark::State& state) {
    const matrix x = samples(2000), a = regularised_gram(2000);
    matrix residual(x.rows(), x.cols());
    for (auto _ : state) {
      residual = x;
      nonparametric::detail::thin_product<double>(a, x, residual, -1.0, false);
      benchmark::DoNotOptimize(residual.data());
    }
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("float_solve/2000", [](benchmark::State& state) {
    const matrix x = samples(2000);
    Eigen::MatrixXf l = regularised_gram(2000).cast<float>();
    if (!nonparametric::detail::blocked_cholesky<float>(l)) state.SkipWithError("the factor failed");
    const nonparametric::detail::row_major<float> b = x.cast<float>();
    nonparametric::detail::row_major<float> y;
    for (auto _ : state) {
      y = b;
      nonparametric::detail::cholesky_solve_in_place<float>(l, y);
      benchmark::DoNotOptimize(y.data());
    }
  })->Unit(benchmark::kMillisecond);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

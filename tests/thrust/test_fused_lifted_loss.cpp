// The fused two-pass lifted loss (Thrust CPP device system here; the same source runs on CUDA) and
// the generic lifted_residual_loss on the Thrust backend, against the generic loss on Eigen<double>:
// value, level values, alignments and every gradient, for odd and even B, L = 1..4, D up to 12288,
// targets and divergences, weights and per-sample signs, the distance form and the 1/D² scale.
// Double: 1e-12 relative to the quantity's scale; float: 1e-5 relative (inputs rounded to float so
// that both sides see the same numbers). The fused gradients are also checked on their own
// against central finite differences of the semi-gradient definition.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/thrust/fused_lifted_loss.hpp"
#include "thrust_convert.hpp"
#if SCORELIFT_TEST_THRUST_OMP
#include <omp.h>
#include <thrust/system/omp/execution_policy.h>
#endif

using scorelift::eigen_backend;
using scorelift::index_t;
using scorelift::lifted_options;
using scorelift::thrust_backend;
using scorelift::test::convert;
using scorelift::test::host_matrix;
using scorelift::test::backend_batch;
using scorelift::test::batch_options;
using scorelift::test::host_batch;

namespace {

/// max |got − want| ≤ tol · max(1, max |want|): a relative check of a whole tensor.
void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what) {
  REQUIRE(got.size() == want.size());
  double scale = 1.0;
  double error = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    error = std::max(error, std::abs(got[i] - want[i]));
  }
  INFO(what << ": max error " << error << " at scale " << scale);
  CHECK(error <= tol * scale);
}

template <class T>
void check_against_eigen(const scorelift::objective_result<T>& got,
                         const scorelift::objective_result<eigen_backend<double>>& want, double tol) {
  using E = eigen_backend<double>;
  check_close({got.value}, {want.value}, tol, "value");
  check_close(got.level_values, want.level_values, tol, "level values");
  check_close(got.residual_alignment, want.residual_alignment, tol, "residual alignment");
  REQUIRE(got.grad_modes.size() == want.grad_modes.size());
  for (std::size_t l = 0; l < got.grad_modes.size(); ++l)
    check_close(convert<T>::host(got.grad_modes[l]).values, convert<E>::host(want.grad_modes[l]).values, tol,
                "grad_modes");
  REQUIRE(got.grad_target.has_value() == want.grad_target.has_value());
  if (want.grad_target)
    check_close(convert<T>::host(*got.grad_target).values, convert<E>::host(*want.grad_target).values, tol,
                "grad_target");
  REQUIRE(got.grad_divergence.size() == want.grad_divergence.size());
  for (std::size_t l = 0; l < got.grad_divergence.size(); ++l)
    check_close(convert<T>::host_vector(got.grad_divergence[l]), convert<E>::host_vector(want.grad_divergence[l]), tol,
                "grad_divergence");
}

template <class S, class Policy = std::decay_t<decltype(thrust::device)>>
void compare_all(batch_options spec, const lifted_options& options, std::uint64_t seed,
                 const Policy& exec = thrust::device) {
  using T = thrust_backend<S>;
  using E = eigen_backend<double>;
  const double tol = std::is_same_v<S, double> ? 1e-12 : 1e-5;
  spec.round_to_float = true;
  std::mt19937_64 gen(seed);
  const host_batch h = scorelift::test::random_batch(spec, gen);
  const backend_batch<E> eigen(h);
  const backend_batch<T> thrust(h);
  const auto want = scorelift::lifted_residual_loss(eigen.batch, options);
  {
    INFO("fused");
    check_against_eigen(scorelift::fused_lifted_residual_loss(thrust.batch, options, exec), want, tol);
  }
  {
    INFO("generic lifted_residual_loss on the Thrust backend");
    check_against_eigen(scorelift::lifted_residual_loss(thrust.batch, options), want, tol);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("fused and generic-on-Thrust lifted loss match Eigen: targets, odd and even B, L = 1..4", S, double,
                   float) {
  for (const index_t batch : {2, 3, 8, 13}) {
    for (int levels = 1; levels <= 4; ++levels) {
      CAPTURE(batch);
      CAPTURE(levels);
      compare_all<S>({batch, 37, levels, true, false, false}, {}, 100 + static_cast<std::uint64_t>(batch * 10 + levels));
    }
  }
}

TEST_CASE_TEMPLATE("fused lifted loss matches Eigen with weights, per-sample signs, distance form and 1/D^2", S, double,
                   float) {
  const lifted_options distance{true, false};
  const lifted_options per_entry{true, true};
  for (int levels = 1; levels <= 4; ++levels) {
    CAPTURE(levels);
    compare_all<S>({11, 19, levels, true, true, true}, {}, 200 + static_cast<std::uint64_t>(levels));
    compare_all<S>({11, 19, levels, true, true, true}, distance, 210 + static_cast<std::uint64_t>(levels));
    compare_all<S>({6, 19, levels, true, false, true}, per_entry, 220 + static_cast<std::uint64_t>(levels));
  }
}

TEST_CASE_TEMPLATE("fused lifted loss matches Eigen in the divergence (LSE) form", S, double, float) {
  for (int levels = 1; levels <= 4; ++levels) {
    CAPTURE(levels);
    compare_all<S>({9, 23, levels, false, true, true}, {}, 300 + static_cast<std::uint64_t>(levels));
    compare_all<S>({4, 3, levels, false, false, false}, {false, true}, 310 + static_cast<std::uint64_t>(levels));
  }
}

TEST_CASE_TEMPLATE("fused lifted loss matches Eigen at large D (several chunks per row, odd B)", S, double, float) {
  compare_all<S>({9, 12288, 3, true, true, true}, {}, 400);
  compare_all<S>({5, 4097, 4, false, false, true}, {}, 401);  // one element past two chunks
  compare_all<S>({8, 2, 2, true, false, false}, {}, 402);     // D = 2: one tiny chunk per row
}

#if SCORELIFT_TEST_THRUST_OMP
TEST_CASE_TEMPLATE("fused lifted loss on OpenMP threads (thrust::omp::par) matches Eigen", S, double, float) {
  // Four threads whatever the machine: the reduction then combines partial sums in another order.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(4);
  compare_all<S>({128, 3072, 3, true, true, true}, {}, 500, thrust::omp::par);
  compare_all<S>({13, 12288, 2, false, true, true}, {}, 501, thrust::omp::par);
  omp_set_num_threads(threads);
}
#endif

// objectives_eigen_bench — what the generic, backend-agnostic objectives cost on Eigen (double,
// one thread), B = 128 samples, L ∈ {1, 2, 3} modes, D ∈ {2, 3072}, LDSE/DSM form (a target):
//   lifted     lifted_residual_loss: value + all input-gradients (grad_modes, grad_target);
//   residual   residual_score_matching_loss (residual DSM), same outputs;
//   validate   the input checks alone (shapes + NaN/Inf scan), the share of the above they take;
//   copy       copying (L + 1)·B·D doubles: the least traffic any implementation has — read the L
//              modes and t, write their L + 1 gradients, (2L + 2)·B·D doubles moved.
// Bytes/s are reported for that minimal traffic, so time(lifted)/time(copy) is the distance from
// the memory-bandwidth bound of the composed (unfused) backend operations.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"

namespace {

using B = scorelift::eigen_backend<double>;
constexpr scorelift::index_t batch_size = 128;

struct inputs {
  std::vector<B::matrix_type> modes;
  B::matrix_type target;
  scorelift::score_batch<B> batch;

  inputs(scorelift::index_t levels, scorelift::index_t dim) {
    std::mt19937_64 gen(1234);
    B::generator_type& g = gen;
    const B::matrix_type like(1, 1);
    for (scorelift::index_t l = 0; l < levels; ++l) modes.push_back(B::gaussian(batch_size, dim, g, like));
    target = B::gaussian(batch_size, dim, g, like);
    for (const auto& m : modes) batch.modes.emplace_back(m);
    batch.target.emplace(target);
  }
};

void shape_args(benchmark::internal::Benchmark* b) {
  for (int levels : {1, 2, 3})
    for (int dim : {2, 3072}) b->Args({levels, dim});
}

void set_bytes(benchmark::State& state) {
  const auto levels = state.range(0), dim = state.range(1);
  state.SetBytesProcessed(state.iterations() * (2 * levels + 2) * batch_size * dim *
                          static_cast<int64_t>(sizeof(double)));
}

void lifted(benchmark::State& state) {
  const inputs in(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(scorelift::lifted_residual_loss(in.batch));
  set_bytes(state);
}

void residual(benchmark::State& state) {
  const inputs in(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(scorelift::residual_score_matching_loss(in.batch));
  set_bytes(state);
}

void validate(benchmark::State& state) {
  const inputs in(state.range(0), state.range(1));
  for (auto _ : state)
    benchmark::DoNotOptimize(scorelift::detail::validate_score_batch(in.batch, "validate", 2));
  set_bytes(state);
}

void copy(benchmark::State& state) {
  const auto levels = state.range(0), dim = state.range(1);
  const B::matrix_type source = B::matrix_type::Random((levels + 1) * batch_size, dim);
  B::matrix_type destination(source.rows(), source.cols());
  for (auto _ : state) {
    destination = source;  // (L + 1) row-blocks read and written
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

BENCHMARK(lifted)->Apply(shape_args);
BENCHMARK(residual)->Apply(shape_args);
BENCHMARK(validate)->Apply(shape_args);
BENCHMARK(copy)->Apply(shape_args);

}  // namespace

BENCHMARK_MAIN();

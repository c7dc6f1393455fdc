// scorelift/cuda/lifted_cuda.cuh — the two passes of lifted_kernels.cuh as hand-written CUDA
// kernels (nvcc only). Same per-element code (sample_partials, sample_gradient); what changes is
// the reduction of pass 1: Thrust's transform_reduce reduces a struct of up to ~100 doubles per
// work item through CUB and allocates temporary storage per call, while here each block reduces
// its partial dots with warp shuffles and adds its few sums to a small global buffer atomically.
//
// Grid: y = sample b, x = block of `block_elements` consecutive elements of row b; threads read
// consecutive addresses (coalesced). Pass 1 ends in one device→host copy of the sums (the value is
// a host double); pass 2 is queued on the same stream and not waited for.
#pragma once

#if !defined(__CUDACC__)
#error "scorelift/cuda/lifted_cuda.cuh is CUDA code: include it from a .cu file compiled by nvcc"
#endif

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "scorelift/cuda/lifted_kernels.cuh"
#include "scorelift/cuda/lifted_statistics.cuh"

namespace scorelift::fused::cuda_kernels {

inline constexpr int block_threads = 256;
inline constexpr index_t block_elements = 8 * block_threads;

/// Number of doubles in the global sums buffer for L levels.
template <int Levels>
inline constexpr int sum_count = static_cast<int>(sizeof(level_sums<Levels>) / sizeof(double));

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("scorelift fused lifted loss: ") + what + ": " + cudaGetErrorString(status));
}

/// Sum of x over the warp, in lane 0.
__device__ inline double warp_sum(double x) {
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_down_sync(0xffffffffU, x, offset);
  return x;
}

template <class Scalar, int Levels>
__global__ void __launch_bounds__(block_threads) statistics_kernel(lifted_inputs<Scalar> in, double* sums) {
  using partials_t = sample_partials<Scalar, Levels>;
  constexpr int values = Levels + partials_t::pairs + 1;
  constexpr int warps = block_threads / 32;
  __shared__ double warp_totals[warps][values];
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;

  for (index_t b = blockIdx.y; b < in.batch; b += gridDim.y) {
    const index_t begin = static_cast<index_t>(blockIdx.x) * block_elements;
    const index_t end = begin + block_elements < in.dim ? begin + block_elements : in.dim;
    partials_t partials;
    partials.add(in, b * in.dim, begin + threadIdx.x, end, block_threads);

    // Block reduction: each warp by shuffles into shared memory, then thread 0 adds the warps.
    // (Fields are addressed with compile-time indices so that `partials` stays in registers.)
    const auto to_shared = [&](double x, int v) {
      x = warp_sum(x);
      if (lane == 0) warp_totals[warp][v] = x;
    };
    const auto from_shared = [&](int v) {
      double total = 0.0;
      for (int w = 0; w < warps; ++w) total += warp_totals[w][v];
      return total;
    };
    for (int l = 0; l < Levels; ++l) to_shared(partials.p[l], l);
    for (int q = 0; q < partials_t::pairs; ++q) to_shared(partials.g[q], Levels + q);
    to_shared(partials.tt, values - 1);
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int l = 0; l < Levels; ++l) partials.p[l] = from_shared(l);
      for (int q = 0; q < partials_t::pairs; ++q) partials.g[q] = from_shared(Levels + q);
      partials.tt = from_shared(values - 1);
      const level_sums<Levels> block_sums = partials.filed(in, b, blockIdx.x == 0);
      const double* terms = reinterpret_cast<const double*>(&block_sums);
      for (int i = 0; i < sum_count<Levels>; ++i)
        if (terms[i] != 0.0) atomicAdd(sums + i, terms[i]);  // the other half's entries stay 0
    }
    __syncthreads();  // warp_totals is reused by the next sample
  }
}

template <class Scalar, int Levels>
__global__ void __launch_bounds__(block_threads)
    gradient_kernel(lifted_inputs<Scalar> in, lifted_outputs<Scalar> out, gradient_coefficients<Levels> coef) {
  for (index_t b = blockIdx.y; b < in.batch; b += gridDim.y) {
    const sample_gradient<Scalar, Levels> sample(in, coef, b);
    if (blockIdx.x == 0 && threadIdx.x == 0) sample.write_divergence(out, b);
    const index_t begin = static_cast<index_t>(blockIdx.x) * block_elements;
    const index_t end = begin + block_elements < in.dim ? begin + block_elements : in.dim;
    sample.write_run(in, out, b * in.dim, begin + threadIdx.x, end, block_threads);
  }
}

/// Value and gradients on `stream`. `device_sums` is scratch for sum_count<L> doubles (null:
/// allocated and freed stream-ordered here).
template <class Scalar>
lifted_evaluation lifted_loss(const lifted_inputs<Scalar>& in, const lifted_outputs<Scalar>& out,
                              const lifted_options& options, cudaStream_t stream, double* device_sums = nullptr) {
  const dim3 grid(static_cast<unsigned>((in.dim + block_elements - 1) / block_elements),
                  static_cast<unsigned>(in.batch < 65535 ? in.batch : 65535));
  return fused::detail::with_levels(in.levels, [&](auto levels) {
    constexpr int L = decltype(levels)::value;
    const std::size_t bytes = sizeof(level_sums<L>);
    double* sums = device_sums;
    if (sums == nullptr) check(cudaMallocAsync(reinterpret_cast<void**>(&sums), bytes, stream), "cudaMallocAsync");
    check(cudaMemsetAsync(sums, 0, bytes, stream), "cudaMemsetAsync");
    statistics_kernel<Scalar, L><<<grid, block_threads, 0, stream>>>(in, sums);
    check(cudaGetLastError(), "statistics kernel launch");
    level_sums<L> host_sums;
    check(cudaMemcpyAsync(&host_sums, sums, bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
    if (device_sums == nullptr) check(cudaFreeAsync(sums, stream), "cudaFreeAsync");
    check(cudaStreamSynchronize(stream), "statistics kernel");
    lifted_evaluation evaluation = evaluate_lifted<L>(host_sums, in.batch, in.dim, options);
    if (evaluation.finite) {
      gradient_kernel<Scalar, L><<<grid, block_threads, 0, stream>>>(in, out, evaluation.coefficients<L>());
      check(cudaGetLastError(), "gradient kernel launch");
    }
    return evaluation;
  });
}

}  // namespace scorelift::fused::cuda_kernels

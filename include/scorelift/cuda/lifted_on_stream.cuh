// scorelift/cuda/lifted_on_stream.cuh — the fused lifted loss on a CUDA stream, callable from code
// that is not compiled by nvcc (the LibTorch path, torch/fused_dispatch.hpp). Plain C++: the
// definitions are in lifted_on_stream.cu, compiled once by nvcc into the `scorelift_fused_cuda`
// library (CMake builds it when nvcc is found; the LibTorch component links it when LibTorch has CUDA).
#pragma once

#include "scorelift/cuda/lifted_statistics.cuh"
#include "scorelift/objectives/lifted.hpp"

namespace scorelift::fused {

/// Which implementation of the two passes runs on the GPU (both are tested; the benchmark compares them).
enum class cuda_implementation {
  hand_written,  // lifted_cuda.cuh: block reductions + atomics, one small scratch buffer
  thrust,        // lifted_kernels.cuh through thrust::cuda::par (CUB reduction of the sums)
};

/// Doubles of device scratch `lifted_loss_on_cuda` needs for L levels (the sums of pass 1:
/// a[2][L], G[2][L(L+1)/2], T[2], alignment[L]).
constexpr index_t lifted_scratch_doubles(int levels) { return 2 * levels + levels * (levels + 1) + 2 + levels; }

/// Value and gradients of lifted_residual_loss for inputs/outputs in CUDA device memory, queued on
/// `stream` (a cudaStream_t; null = the default stream). Waits for pass 1 (the value is a host
/// number); pass 2 is left running on the stream. `device_scratch`: lifted_scratch_doubles(L)
/// doubles, or null to allocate stream-ordered. Throws std::runtime_error on a CUDA error.
template <class Scalar>
lifted_evaluation lifted_loss_on_cuda(const lifted_inputs<Scalar>& in, const lifted_outputs<Scalar>& out,
                                      const lifted_options& options, void* stream, double* device_scratch,
                                      cuda_implementation implementation = cuda_implementation::hand_written);

extern template lifted_evaluation lifted_loss_on_cuda<float>(const lifted_inputs<float>&, const lifted_outputs<float>&,
                                                             const lifted_options&, void*, double*, cuda_implementation);
extern template lifted_evaluation lifted_loss_on_cuda<double>(const lifted_inputs<double>&,
                                                              const lifted_outputs<double>&, const lifted_options&,
                                                              void*, double*, cuda_implementation);

}  // namespace scorelift::fused

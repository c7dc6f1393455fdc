// The nvcc-compiled definitions behind scorelift/cuda/lifted_on_stream.cuh (float and double).
#include <cuda_runtime.h>
#include <thrust/system/cuda/execution_policy.h>

#include "scorelift/cuda/lifted_cuda.cuh"
#include "scorelift/cuda/lifted_kernels.cuh"
#include "scorelift/cuda/lifted_on_stream.cuh"

namespace scorelift::fused {

static_assert(cuda_kernels::sum_count<1> == lifted_scratch_doubles(1));
static_assert(cuda_kernels::sum_count<max_levels> == lifted_scratch_doubles(max_levels));

template <class Scalar>
lifted_evaluation lifted_loss_on_cuda(const lifted_inputs<Scalar>& in, const lifted_outputs<Scalar>& out,
                                      const lifted_options& options, void* stream, double* device_scratch,
                                      cuda_implementation implementation) {
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  if (implementation == cuda_implementation::thrust) return lifted_loss(thrust::cuda::par.on(cuda_stream), in, out, options);
  return cuda_kernels::lifted_loss(in, out, options, cuda_stream, device_scratch);
}

template lifted_evaluation lifted_loss_on_cuda<float>(const lifted_inputs<float>&, const lifted_outputs<float>&,
                                                      const lifted_options&, void*, double*, cuda_implementation);
template lifted_evaluation lifted_loss_on_cuda<double>(const lifted_inputs<double>&, const lifted_outputs<double>&,
                                                       const lifted_options&, void*, double*, cuda_implementation);

}  // namespace scorelift::fused

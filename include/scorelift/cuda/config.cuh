// scorelift/cuda/config.cuh — the one macro that lets a functor run on the host (Thrust's CPP/OMP
// device systems, compiled by g++/clang) and on a CUDA device (compiled by nvcc) unchanged.
#pragma once

#if defined(__CUDACC__)
#define SCORELIFT_HOST_DEVICE __host__ __device__
#else
#define SCORELIFT_HOST_DEVICE
#endif

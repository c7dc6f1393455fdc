// scorelift/cuda/lifted_kernels.cuh — the lifted residual loss, value and input-gradients, in two
// passes over memory, written with Thrust so that one source runs on a CUDA GPU (nvcc) and on the
// CPU (Thrust's CPP/OMP device systems, what the tests run).
//
//   pass 1 (transform_reduce over sample × chunk): every work item reads its piece of the rows of
//          f_1..f_L and t once, forms all partial dots ⟨t, f_l⟩, ⟨f_l, f_k⟩ (k ≤ l), ‖t‖² and adds
//          them, scaled by w_b κ, into its half's sums (lifted_statistics.cuh). One reduction.
//   host:  a handful of doubles → value, L_l, c_h, G_h → per-half gradient coefficients.
//   pass 2 (for_each over sample × chunk): reads f_1..f_L and t once more and writes every
//          ∂value/∂f_l and ∂value/∂t, carrying the residual ρ_l = t − Σ_{i<l} f̃_i in a register.
//
// Memory traffic is 2(L+1) reads + (L+1) writes of B·D scalars, the minimum for a loss whose
// gradient needs batch statistics of the very rows it scales. A row is cut into chunks so that a
// GPU (or OpenMP) has B × chunks independent items: contiguous runs on the CPU (caches, SIMD),
// interleaved lanes on a GPU (neighbouring threads read neighbouring addresses: coalesced).
#pragma once

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include <type_traits>

#include "scorelift/cuda/lifted_elements.cuh"
#include "scorelift/cuda/lifted_statistics.cuh"
#include "scorelift/objectives/lifted.hpp"

#if defined(__CUDACC__)
#include <thrust/system/cuda/execution_policy.h>
#endif

namespace scorelift::fused {

namespace detail {

template <class Policy>
constexpr bool is_cuda_policy() {
#if defined(__CUDACC__)
  using P = std::decay_t<Policy>;
  return std::is_base_of_v<thrust::cuda_cub::execution_policy<P>, P>;
#else
  return false;
#endif
}

}  // namespace detail

/// The work split a policy's system prefers (see the header comment).
template <class Policy>
chunking default_chunking(const Policy& /*exec*/, index_t dim) {
  if constexpr (detail::is_cuda_policy<Policy>()) {
    return chunking::interleaved(dim, 256);
  } else {
    return chunking::contiguous(dim, 2048);
  }
}

/// Value and gradients of objectives/lifted.hpp's lifted_residual_loss in two passes. Inputs are
/// trusted (shapes are the caller's business); when a sum comes out non-finite, `finite` is false
/// and no gradient is written, so the caller can name the offending input.
template <class Policy, class Scalar>
lifted_evaluation lifted_loss(const Policy& exec, const lifted_inputs<Scalar>& in, const lifted_outputs<Scalar>& out,
                              const lifted_options& options, const chunking& ch) {
  const thrust::counting_iterator<index_t> first(0);
  const index_t items = in.batch * ch.chunks;
  return detail::with_levels(in.levels, [&](auto levels) {
    constexpr int L = decltype(levels)::value;
    const level_sums<L> sums = thrust::transform_reduce(exec, first, first + items, chunk_statistics<Scalar, L>{in, ch},
                                                        level_sums<L>{}, add_level_sums<L>{});
    lifted_evaluation evaluation = evaluate_lifted<L>(sums, in.batch, in.dim, options);
    if (evaluation.finite)
      thrust::for_each(exec, first, first + items, chunk_gradients<Scalar, L>{in, out, ch, evaluation.coefficients<L>()});
    return evaluation;
  });
}

template <class Policy, class Scalar>
lifted_evaluation lifted_loss(const Policy& exec, const lifted_inputs<Scalar>& in, const lifted_outputs<Scalar>& out,
                              const lifted_options& options = {}) {
  return lifted_loss(exec, in, out, options, default_chunking(exec, in.dim));
}

}  // namespace scorelift::fused

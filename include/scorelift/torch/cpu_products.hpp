// scorelift/torch/cpu_products.hpp — the matrix products of the hand-written MLP passes (torch/mlp_tangent.hpp).
//
// The tangent pass is GEMM-bound: 3 products of R = B(1 + M) rows per hidden layer. Two engines can run a
// float32 CPU product: at::mm (LibTorch's BLAS: OpenBLAS on Debian, MKL in pip wheels) and oneDNN's JIT sgemm
// (at::mkldnn_linear, on oneDNN's own tensor layout, so with a conversion each way). Measured on this project's
// VMs (issue 9, in the history of benchmarks/RESULTS.md): oneDNN ran the 128–256-row products 2–4× faster than OpenBLAS only
// when OpenBLAS had fallen back to its Prescott kernels on an unrecognised CPU (scripts/blas-env.sh fixes that);
// against OpenBLAS's proper AVX-512 kernels it was slower once the conversions are paid (DSM step 1.4–1.9 ms
// vs 0.6 ms). Choosing by timing each shape at run time picked the slower engine whenever load hit the timing,
// and made results depend on it, so at::mm is the engine and oneDNN an opt-in: SCORELIFT_CPU_PRODUCTS=onednn.
// Both compute the same product to float32 rounding (the summation order differs).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "scorelift/torch/buffer_pool.hpp"

namespace scorelift::torch_ext::detail {

enum class product_engine { aten_mm, onednn };

inline torch::Tensor product_nt_with(const torch::Tensor& a, const torch::Tensor& b, product_engine engine) {
  if (engine == product_engine::aten_mm) return at::mm(a, b.t());
  return at::mkldnn_linear(contiguous_in_pool(a).to_mkldnn(), contiguous_in_pool(b).to_mkldnn(), {}).to_dense();
}

/// oneDNN when the environment asks for it (SCORELIFT_CPU_PRODUCTS=onednn), read once.
inline bool onednn_requested() {
  static const bool requested = [] {
    const char* value = std::getenv("SCORELIFT_CPU_PRODUCTS");
    return value != nullptr && std::string_view(value) == "onednn";
  }();
  return requested;
}

/// A Bᵀ for A [m, k] and B [n, k] (views welcome). With `may_use_onednn` and oneDNN requested, float32 CPU
/// products of at least 16 in every dimension run on oneDNN (when LibTorch has it); else at::mm.
inline torch::Tensor product_nt(const torch::Tensor& a, const torch::Tensor& b, bool may_use_onednn) {
  const bool onednn = may_use_onednn && onednn_requested() && at::hasMKLDNN() && a.device().is_cpu() &&
                      a.scalar_type() == torch::kFloat32 && std::min({a.size(0), a.size(1), b.size(0)}) >= 16;
  return product_nt_with(a, b, onednn ? product_engine::onednn : product_engine::aten_mm);
}

}  // namespace scorelift::torch_ext::detail

// scorelift/torch/cpu_products.hpp — the matrix products of the hand-written MLP passes (torch/mlp_tangent.hpp).
//
// The tangent pass is GEMM-bound: 3 products of R = B(1 + M) rows per hidden layer. On the CPU two engines can run a
// float32 product: at::mm (LibTorch's BLAS: OpenBLAS on Debian, MKL in pip wheels) and oneDNN's JIT sgemm
// (at::mkldnn_linear, on oneDNN's own tensor layout, so with a conversion each way). Which is faster depends on the
// BLAS and its kernel choice, not on the code: measured on this project's VMs (benchmarks/RESULTS.md, issue 9), oneDNN
// ran 128–256-row products 2–4× faster than OpenBLAS's Prescott fallback kernels, and slower than OpenBLAS's AVX-512
// kernels once the conversions are paid. So product_nt times both engines once per shape and thread and keeps the
// faster one. Both compute the same product to float32 rounding (the summation order differs); double, CUDA and small
// products always use at::mm, so the double-precision tests see one engine.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>

#include "scorelift/torch/buffer_pool.hpp"

namespace scorelift::torch_ext::detail {

enum class product_engine { aten_mm, onednn };

inline torch::Tensor product_nt_with(const torch::Tensor& a, const torch::Tensor& b, product_engine engine) {
  if (engine == product_engine::aten_mm) return at::mm(a, b.t());
  return at::mkldnn_linear(contiguous_in_pool(a).to_mkldnn(), contiguous_in_pool(b).to_mkldnn(), {}).to_dense();
}

/// The faster engine for A [m, k] Bᵀ, B [n, k]: best of 5 timed runs each (after a warm-up run, which also builds
/// oneDNN's JIT kernel), measured on the first product of each shape and remembered per thread (thread counts and
/// caches differ between threads; the choice is cheap to repeat).
inline product_engine fastest_product_engine(const torch::Tensor& a, const torch::Tensor& b) {
  thread_local std::map<std::array<int64_t, 3>, product_engine> chosen;
  const std::array<int64_t, 3> shape{a.size(0), a.size(1), b.size(0)};
  if (const auto found = chosen.find(shape); found != chosen.end()) return found->second;
  const auto best_seconds = [&](product_engine engine) {
    double best = 1e300;
    for (int run = 0; run < 6; ++run) {
      const auto start = std::chrono::steady_clock::now();
      const auto product = product_nt_with(a, b, engine);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (run > 0) best = std::min(best, seconds);  // run 0: warm-up
    }
    return best;
  };
  const double mm = best_seconds(product_engine::aten_mm);
  const double onednn = best_seconds(product_engine::onednn);
  return chosen[shape] = onednn < mm ? product_engine::onednn : product_engine::aten_mm;
}

/// A Bᵀ for A [m, k] and B [n, k] (views welcome). With `may_use_onednn`, float32 CPU products of at least 16 in every
/// dimension run on the faster of at::mm and oneDNN (when LibTorch has oneDNN).
inline torch::Tensor product_nt(const torch::Tensor& a, const torch::Tensor& b, bool may_use_onednn) {
  const bool candidate = may_use_onednn && at::hasMKLDNN() && a.device().is_cpu() &&
                         a.scalar_type() == torch::kFloat32 && std::min({a.size(0), a.size(1), b.size(0)}) >= 16;
  return product_nt_with(a, b, candidate ? fastest_product_engine(a, b) : product_engine::aten_mm);
}

}  // namespace scorelift::torch_ext::detail

// scorelift/torch/buffer_pool.hpp — reusable CPU work buffers for the hand-written passes (the MLP tangent
// pass, the fused lifted loss and its Function's backward).
//
// Why: glibc serves blocks of ≥ 128 KB with fresh mmap'd pages and returns them on free, so a pass that
// allocates its 0.1–5 MB buffers afresh every step page-faults through all of them every step (measured:
// 13% of a tangent training step, a quarter of a lifted loss forward + backward at B = 128, D = 3072,
// in the kernel's clear_page). LibTorch's CPU allocator does not cache. The pool keeps the buffers it handed
// out and hands one out again only when the pool's handle is the only reference left to it and to its
// storage: nothing — a tape, a view, a gradient autograd still holds, the caller — can see the reuse.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace scorelift::torch_ext::detail {

class buffer_pool {
 public:
  /// An uninitialised tensor of these sizes and options; pooled on the CPU, a plain torch::empty elsewhere
  /// (the CUDA caching allocator already reuses memory).
  torch::Tensor get(at::IntArrayRef sizes, const torch::TensorOptions& options) {
    if (options.device().type() != c10::DeviceType::CPU) return torch::empty(sizes, options);
    for (const auto& buffer : buffers_)
      if (free(buffer) && buffer.sizes() == sizes && buffer.dtype() == options.dtype()) return buffer;
    auto fresh = torch::empty(sizes, options);
    keep(fresh);
    return fresh;
  }

 private:
  // Bounds on what the pool holds on to when shapes keep changing: beyond them a free buffer is dropped to
  // make room, and when none is free the fresh one is simply not pooled.
  static constexpr std::size_t max_buffers = 64;
  static constexpr int64_t max_bytes = int64_t{256} << 20;

  static bool free(const torch::Tensor& buffer) {
    return buffer.use_count() == 1 && buffer.storage().use_count() == 1;
  }
  static int64_t bytes(const torch::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }

  void keep(const torch::Tensor& fresh) {
    int64_t held = bytes(fresh);
    for (const auto& buffer : buffers_) held += bytes(buffer);
    for (auto it = buffers_.begin(); it != buffers_.end() && (buffers_.size() >= max_buffers || held > max_bytes);)
      if (free(*it)) {
        held -= bytes(*it);
        it = buffers_.erase(it);
      } else {
        ++it;
      }
    if (buffers_.size() < max_buffers && held <= max_bytes) buffers_.push_back(fresh);
  }

  std::vector<torch::Tensor> buffers_;
};

/// This thread's pool (the passes run on the caller's thread; buffers may be released on any thread).
inline buffer_pool& workspace() {
  thread_local buffer_pool pool;
  return pool;
}

/// `t` as a contiguous tensor, copied into a pooled buffer when it is not one already.
inline torch::Tensor contiguous_in_pool(const torch::Tensor& t) {
  return t.is_contiguous() ? t : workspace().get(t.sizes(), t.options()).copy_(t);
}

}  // namespace scorelift::torch_ext::detail

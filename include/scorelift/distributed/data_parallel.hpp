// scorelift/distributed/data_parallel.hpp — data-parallel training of any torch::nn::Module, the way
// PyTorch's DistributedDataParallel does it (LibTorch's C++ frontend has no DDP wrapper):
//   * at start, every parameter and buffer is broadcast from rank 0, so all replicas start equal;
//   * after each backward, the gradients are all-reduced in flat buckets (one c10d call per ~25 MB
//     instead of one per tensor) and averaged, so every replica takes the same optimiser step and
//     the replicas stay bit-for-bit equal (an all-reduce hands every rank the same bits).
//
// Averaging is right when each rank's loss is the mean over its own shard and the shards are equal:
// the mean of the shard gradients is then the gradient of the mean over the global batch. When the
// loss is already *global* — the lifted loss with its half sums all-reduced (lifted_statistics.hpp),
// whose per-rank gradients are partial derivatives of one global value — the shards' gradients are
// summed instead (gradient_reduction::sum).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "scorelift/distributed/process_group.hpp"

namespace scorelift::distributed {

enum class gradient_reduction {
  mean,  // Σ_r g_r / world: per-rank mean losses over equal shards (DistributedDataParallel)
  sum,   // Σ_r g_r: per-rank gradients of one global loss (global lifted statistics)
};

struct data_parallel_options {
  gradient_reduction reduction = gradient_reduction::mean;
  /// Upper bound of one flat bucket (DistributedDataParallel's default bucket_cap_mb is 25).
  std::size_t bucket_bytes = std::size_t(25) << 20U;
};

class data_parallel {
 public:
  /// Replicates `parameters` (and `buffers`, e.g. a residual stack's sign state) over `group` (kept as a
  /// copy, which shares its c10d backend). The tensors are kept as handles: the module's own parameters
  /// are updated.
  data_parallel(const process_group& group, std::vector<torch::Tensor> parameters, std::vector<torch::Tensor> buffers = {},
                const data_parallel_options& options = {})
      : group_(group), parameters_(std::move(parameters)), buffers_(std::move(buffers)), options_(options) {
    scorelift::detail::require(options.bucket_bytes > 0, "data_parallel", "argument 'bucket_bytes' is 0");
    parameter_buckets_ = make_buckets(parameters_);
    buffer_buckets_ = make_buckets(buffers_);
  }

  /// The parameters and buffers of a module.
  static data_parallel of(const process_group& group, torch::nn::Module& module, const data_parallel_options& options = {}) {
    return data_parallel(group, module.parameters(), module.buffers(), options);
  }

  const process_group& group() const { return group_; }
  gradient_reduction reduction() const { return options_.reduction; }
  std::size_t bucket_count() const { return parameter_buckets_.size(); }

  /// Every replica takes rank 0's parameters and buffers (call once before training, and after
  /// loading a checkpoint on rank 0 only).
  void broadcast_from_main() {
    if (!group_.is_distributed()) return;
    torch::NoGradGuard no_grad;
    // Everything is received before anything is written: a broadcast that fails half-way (a peer
    // gone) leaves this replica's tensors as they were, not part rank 0's and part its own.
    std::vector<torch::Tensor> parameter_flats = receive(parameter_buckets_, parameters_, "the parameters");
    std::vector<torch::Tensor> buffer_flats = receive(buffer_buckets_, buffers_, "the buffers");
    write_back(parameter_buckets_, parameters_, parameter_flats);
    write_back(buffer_buckets_, buffers_, buffer_flats);
  }

  /// Buffers only (state updated outside the optimiser step, e.g. signs kept by rank 0).
  void broadcast_buffers() {
    if (!group_.is_distributed()) return;
    torch::NoGradGuard no_grad;
    write_back(buffer_buckets_, buffers_, receive(buffer_buckets_, buffers_, "the buffers"));
  }

  /// After backward, before the optimiser step: g ← Σ_r g_r (/ world for `mean`). A parameter without a
  /// gradient on this rank counts as zero (and gets a zero gradient), so every rank reduces the same
  /// layout even when a branch went unused on one of them.
  void synchronise_gradients() {
    if (!group_.is_distributed()) return;
    const auto start = std::chrono::steady_clock::now();
    torch::NoGradGuard no_grad;
    const double divisor = options_.reduction == gradient_reduction::mean ? group_.world_size() : 1.0;
    // Two passes: every bucket is reduced before any gradient is written, so an all-reduce that fails
    // (a peer gone, a timeout) leaves every local gradient as backward made it. Each bucket keeps its
    // own flat buffer across steps anyway (a fresh multi-MB buffer every step page-faults), so the
    // second pass costs no memory.
    for (auto& bucket : parameter_buckets_) {
      if (!bucket.flat.defined()) bucket.flat = torch::empty({bucket.numel}, parameters_[bucket.members.front()].options());
      for_each_part(bucket, parameters_, bucket.flat, [](torch::Tensor& p, torch::Tensor part) {
        if (p.grad().defined()) {
          part.copy_(p.grad());
        } else {
          part.zero_();
        }
      });
      group_.all_reduce_sum(bucket.flat, "the gradients");
      if (divisor != 1.0) bucket.flat.div_(divisor);
    }
    for (auto& bucket : parameter_buckets_) {
      for_each_part(bucket, parameters_, bucket.flat, [](torch::Tensor& p, const torch::Tensor& part) {
        if (p.grad().defined()) {
          p.mutable_grad().copy_(part);
        } else {
          p.mutable_grad() = part.clone();
        }
      });
    }
    synchronise_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++synchronisations_;
  }

  /// Total wall time spent in synchronise_gradients so far, in seconds, and the number of calls.
  double seconds_synchronising() const { return synchronise_seconds_; }
  long synchronisations() const { return synchronisations_; }
  /// Mean wall time of synchronise_gradients so far (the all-reduce cost per step), in seconds.
  double seconds_per_synchronisation() const {
    return synchronisations_ == 0 ? 0.0 : synchronise_seconds_ / static_cast<double>(synchronisations_);
  }

 private:
  struct bucket {
    std::vector<std::size_t> members;  // indices into the tensor list, in order
    std::int64_t numel = 0;
    torch::Tensor flat{};  // the gradients' flat buffer (parameter buckets), made on first use
  };

  /// Consecutive tensors of one dtype and device, up to bucket_bytes each (a larger tensor alone).
  std::vector<bucket> make_buckets(const std::vector<torch::Tensor>& tensors) const {
    std::vector<bucket> out;
    std::map<std::tuple<int, std::string>, std::size_t> open;  // (dtype, device) -> index in `out`
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      scorelift::detail::require(t.defined(), "data_parallel", "tensor ", i, " is undefined");
      const auto key = std::make_tuple(static_cast<int>(t.scalar_type()), t.device().str());
      const auto bytes = static_cast<std::size_t>(t.numel()) * t.element_size();
      auto found = open.find(key);
      if (found == open.end() ||
          (static_cast<std::size_t>(out[found->second].numel) * t.element_size() + bytes > options_.bucket_bytes &&
           out[found->second].numel > 0)) {
        out.push_back({});
        found = open.insert_or_assign(key, out.size() - 1).first;
      }
      out[found->second].members.push_back(i);
      out[found->second].numel += t.numel();
    }
    return out;
  }

  /// f(tensor, part) for each member of `b`, `part` being its slice of `flat` shaped like it.
  template <class Each>
  static void for_each_part(const bucket& b, std::vector<torch::Tensor>& tensors, const torch::Tensor& flat, Each each) {
    std::int64_t offset = 0;
    for (std::size_t i : b.members) {
      auto& t = tensors[i];
      each(t, flat.narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
  }

  /// Rank 0's values of `tensors`, one flat tensor per bucket; nothing of `tensors` is written.
  std::vector<torch::Tensor> receive(const std::vector<bucket>& buckets, std::vector<torch::Tensor>& tensors,
                                     const char* what) const {
    std::vector<torch::Tensor> flats;
    flats.reserve(buckets.size());
    for (const auto& b : buckets) {
      torch::Tensor flat = torch::empty({b.numel}, tensors[b.members.front()].options());
      for_each_part(b, tensors, flat, [](torch::Tensor& t, torch::Tensor part) { part.copy_(t.detach()); });
      group_.broadcast(flat, 0, what);
      flats.push_back(std::move(flat));
    }
    return flats;
  }

  static void write_back(const std::vector<bucket>& buckets, std::vector<torch::Tensor>& tensors,
                         const std::vector<torch::Tensor>& flats) {
    for (std::size_t i = 0; i < buckets.size(); ++i)
      for_each_part(buckets[i], tensors, flats[i], [](torch::Tensor& t, const torch::Tensor& part) { t.detach().copy_(part); });
  }

  process_group group_;  // a copy: copies share the c10d backend, and a temporary group cannot dangle
  std::vector<torch::Tensor> parameters_, buffers_;
  data_parallel_options options_;
  std::vector<bucket> parameter_buckets_, buffer_buckets_;
  double synchronise_seconds_ = 0.0;
  long synchronisations_ = 0;
};

}  // namespace scorelift::distributed

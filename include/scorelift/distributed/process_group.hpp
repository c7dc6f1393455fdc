// scorelift/distributed/process_group.hpp — the processes of a data-parallel job, on LibTorch's own
// c10d engine: a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT (rank 0 serves it), Gloo for CPU
// tensors and, where this LibTorch is built with it (USE_C10D_NCCL: the CUDA builds), NCCL for CUDA.
// No transport of our own: every byte moves through c10d.
//
// A group read from an environment without WORLD_SIZE is a single process: every collective is then
// the identity and nothing is started, so a program written for N processes runs alone unchanged.
//
// Failure is an exception, never a hang: every collective waits at most the timeout, and whatever c10d
// or Gloo throws (gloo::IoException when a peer's socket closes — at once when it exits —, c10::Error
// on a timeout or a failed rendezvous, c10d::TimeoutError when the store is unreachable) comes back as
// scorelift::distributed::distributed_error naming this rank, the operation and the cause.
#pragma once

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
#include <torch/version.h>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "scorelift/distributed/launch_environment.hpp"
#include "scorelift/errors.hpp"

#ifndef USE_C10D_GLOO
#error "scorelift/distributed needs a LibTorch built with c10d's Gloo backend (USE_C10D_GLOO, set by TorchConfig.cmake)"
#endif

namespace scorelift::distributed {

namespace detail {
// What ProcessGroupGloo and ProcessGroupNCCL derive from: c10d::ProcessGroup in LibTorch 1.x,
// c10d::Backend since 2.0 (the collectives' signatures are the same).
#if TORCH_VERSION_MAJOR >= 2
using c10d_backend = c10d::Backend;
#else
using c10d_backend = c10d::ProcessGroup;
#endif
}  // namespace detail

/// A collective or the rendezvous failed: a peer exited or threw, or did not arrive within the timeout.
class distributed_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class communication_backend { automatic, gloo, nccl };

struct process_group_options {
  /// How long a collective (and the rendezvous) may wait for the other processes.
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
  /// automatic: NCCL when `device` is CUDA and this LibTorch has it, Gloo otherwise.
  communication_backend backend = communication_backend::automatic;
  /// Where the tensors handed to collectives live (CUDA: the device of LOCAL_RANK).
  torch::Device device = torch::kCPU;
};

class process_group {
 public:
  /// A process alone (world size 1): collectives are the identity.
  process_group() = default;

  /// Joins the job described by `environment` (blocks until every rank has arrived, or the timeout).
  process_group(const launch_environment& environment, const process_group_options& options)
      : environment_(environment), options_(options) {
    if (environment.world_size == 1) return;
    options_.device = device_for(options.device);
    try {
      c10d::TCPStoreOptions store_options;
      store_options.port = environment.master_port;
      store_options.isServer = environment.rank == 0;
      store_options.numWorkers = static_cast<std::size_t>(environment.world_size);
      store_options.waitWorkers = true;
      store_options.timeout = options.timeout;
      auto store = c10::make_intrusive<c10d::TCPStore>(environment.master_address, store_options);
      group_ = make_backend(c10::make_intrusive<c10d::PrefixStore>("scorelift", store));
    } catch (const std::exception& error) {
      throw distributed_error(describe("the rendezvous at " + environment.master_address + ":" +
                                           std::to_string(environment.master_port) + " failed",
                                       error));
    }
  }

  /// The group the environment describes (torchrun's variables), or a process alone without them.
  static process_group from_environment(const process_group_options& options = {}) {
    const auto environment = read_launch_environment();
    return environment ? process_group(*environment, options) : process_group();
  }

  int rank() const { return environment_.rank; }
  int world_size() const { return environment_.world_size; }
  int local_rank() const { return environment_.local_rank; }
  bool is_distributed() const { return group_ != nullptr; }
  /// Rank 0: the process that prints, writes outputs and checkpoints.
  bool is_main() const { return environment_.rank == 0; }
  /// The device this process trains on: CUDA device LOCAL_RANK when `requested` is CUDA without an
  /// index and the job has several processes (one GPU per process, as torchrun users expect).
  torch::Device device_for(torch::Device requested) const {
    if (requested.is_cuda() && !requested.has_index() && environment_.world_size > 1)
      return {torch::kCUDA, static_cast<c10::DeviceIndex>(environment_.local_rank)};
    return requested;
  }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  const char* backend_name() const { return group_ ? (uses_nccl_ ? "nccl" : "gloo") : "none"; }

  /// t ← Σ_ranks t, in place (`what` names the data in an error).
  void all_reduce_sum(torch::Tensor& t, std::string_view what) const { collective(t, what, reduce_tag{}); }
  /// The same for a few host doubles (statistics, sums and counts), in place.
  void all_reduce_sum(std::span<double> values, std::string_view what) const {
    if (!group_) return;
    torch::Tensor t = torch::from_blob(values.data(), {static_cast<std::int64_t>(values.size())}, torch::kFloat64);
    all_reduce_sum(t, what);
  }
  /// t ← rank `root`'s t, in place.
  void broadcast(torch::Tensor& t, int root, std::string_view what) const {
    scorelift::detail::require(0 <= root && root < world_size(), "process_group::broadcast", "argument 'root' is ",
                               root, " but the world has ranks [0, ", world_size(), ")");
    collective(t, what, broadcast_tag{root});
  }
  /// Every rank's t (same shape everywhere), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& t, std::string_view what) const {
    if (!group_) return {t.clone()};
    auto [input, on_device] = staged(t);
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < world_size(); ++r) out[0].push_back(torch::empty_like(input));
    std::vector<torch::Tensor> in{input};
    wait([&] { return group_->allgather(out, in); }, what);
    std::vector<torch::Tensor> result;
    for (auto& g : out[0]) result.push_back(on_device ? g.to(t.device()) : g);
    return result;
  }
  /// Returns when every rank has called it.
  void barrier(std::string_view what) const {
    if (group_) wait([&] { return group_->barrier(); }, what);
  }

  /// Start-up check that every rank runs the same configuration (model shape, L, objective, ...):
  /// each compares its `description` with rank 0's; if any differs, every rank throws, naming them.
  void require_same_configuration(const std::string& description) const {
    if (!group_) return;
    auto length = torch::tensor({static_cast<std::int64_t>(description.size())}, torch::kInt64);
    broadcast(length, 0, "the configuration's length");
    auto text = torch::zeros({length.item<std::int64_t>()}, torch::kUInt8);
    if (is_main()) std::memcpy(text.data_ptr(), description.data(), description.size());
    broadcast(text, 0, "the configuration");
    const std::string main_description(static_cast<const char*>(text.data_ptr()), static_cast<std::size_t>(text.numel()));
    const auto differs = all_gather(torch::tensor({main_description == description ? 0 : 1}, torch::kInt64),
                                    "the configuration check");
    std::ostringstream ranks;
    for (int r = 0; r < world_size(); ++r)
      if (differs[static_cast<std::size_t>(r)].item<std::int64_t>() != 0) ranks << (ranks.tellp() > 0 ? ", " : "") << r;
    if (ranks.tellp() == 0) return;
    std::ostringstream message;
    message << "rank " << rank() << " of " << world_size() << ": the ranks were started with different configurations: rank(s) " << ranks.str()
            << " differ from rank 0's '" << main_description << "'";
    if (main_description != description) message << ", this rank has '" << description << "'";
    throw distributed_error(message.str());
  }

 private:
  struct reduce_tag {};
  struct broadcast_tag {
    int root;
  };

  c10::intrusive_ptr<detail::c10d_backend> make_backend(const c10::intrusive_ptr<c10d::Store>& store) {
    const bool cuda = options_.device.is_cuda();
    const bool want_nccl = options_.backend == communication_backend::nccl ||
                           (options_.backend == communication_backend::automatic && cuda);
#ifdef USE_C10D_NCCL
    if (want_nccl) {
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options_.timeout;
      uses_nccl_ = true;
      return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, environment_.rank, environment_.world_size,
                                                         nccl_options);
    }
#else
    scorelift::detail::require(options_.backend != communication_backend::nccl, "process_group",
                               "NCCL was asked for but this LibTorch was built without it (USE_C10D_NCCL)");
    (void)want_nccl;
#endif
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options_.timeout);
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(
        environment_.master_address == "localhost" ? "127.0.0.1" : environment_.master_address));
    gloo_options->threads = 1;
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, environment_.rank, environment_.world_size, gloo_options);
  }

  /// The tensor a collective works on: contiguous, on the group's device (NCCL needs CUDA, Gloo here
  /// takes CPU tensors); `second` is true when it is a staged copy to be written back.
  std::pair<torch::Tensor, bool> staged(const torch::Tensor& t) const {
    const torch::Device where = uses_nccl_ ? options_.device : torch::Device(torch::kCPU);
    if (t.device() == where && t.is_contiguous()) return {t, false};
    return {t.to(where).contiguous(), true};
  }

  template <class Tag>
  void collective(torch::Tensor& t, std::string_view what, Tag tag) const {
    if (!group_) return;
    auto [input, copy_back] = staged(t);
    std::vector<torch::Tensor> tensors{input};
    wait(
        [&] {
          if constexpr (std::is_same_v<Tag, reduce_tag>) {
            c10d::AllreduceOptions reduce;
            reduce.reduceOp = c10d::ReduceOp::SUM;
            return group_->allreduce(tensors, reduce);
          } else {
            c10d::BroadcastOptions from;
            from.rootRank = tag.root;
            return group_->broadcast(tensors, from);
          }
        },
        what);
    if (copy_back) t.copy_(input);
  }

  template <class Start>
  void wait(const Start& start, std::string_view what) const {
    try {
      // Gloo enforces the timeout inside the collective and says what it waited for; NCCL's wait needs
      // the deadline passed.
      if (uses_nccl_) {
        start()->wait(options_.timeout);
      } else {
        start()->wait();
      }
    } catch (const std::exception& error) {
      throw distributed_error(describe(std::string(what) + " failed", error));
    }
  }

  std::string describe(const std::string& what, const std::exception& error) const {
    const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
    std::ostringstream message;
    message << "rank " << environment_.rank << " of " << environment_.world_size << ": " << what << ": "
            << (c10_error ? c10_error->what_without_backtrace() : error.what())
            << " (another process exited or threw, or did not get here within the timeout of "
            << static_cast<double>(options_.timeout.count()) / 1000.0 << " s)";
    return message.str();
  }

  launch_environment environment_{};
  process_group_options options_{};
  bool uses_nccl_ = false;
  c10::intrusive_ptr<detail::c10d_backend> group_{};
};

}  // namespace scorelift::distributed

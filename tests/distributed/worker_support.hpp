// tests/distributed/worker_support.hpp — checks and data layouts shared by the worker's scenarios.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "scorelift/distributed/process_group.hpp"

namespace scorelift::test::distributed {

/// A failed check: the worker prints it and exits 1.
struct check_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline torch::Tensor flat(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.detach().reshape(-1).to(torch::kFloat64));
  return torch::cat(parts);
}

inline torch::Tensor flat_gradients(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) grads.push_back(p.grad().defined() ? p.grad() : torch::zeros_like(p));
  return flat(grads);
}

/// Moves every parameter away from its initial value (a replica that skipped the broadcast would differ).
inline void perturb(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) p.add_(0.5);
}

/// max |a − b| ≤ tolerance · max(1, max |b|).
inline void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tolerance, const std::string& what) {
  const double scale = std::max(1.0, b.abs().max().item<double>());
  const double error = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
  if (!(error <= tolerance * scale)) {
    std::ostringstream message;
    message << what << ": max |difference| " << error << " exceeds " << tolerance << " x " << scale;
    throw check_failure(message.str());
  }
}

/// Every rank holds rank 0's bits (compared as integers: -0.0 vs 0.0 or two NaNs would differ too).
inline void expect_identical_across_ranks(const scorelift::distributed::process_group& group, const torch::Tensor& values,
                                          const std::string& what) {
  const auto all = group.all_gather(values.contiguous().view(torch::kInt64), what);
  for (std::size_t r = 1; r < all.size(); ++r)
    if (!torch::equal(all[r], all[0]))
      throw check_failure(what + ": rank " + std::to_string(r) + " differs from rank 0 bit for bit");
}

/// The replica's parameters and buffers (a residual stack's signs) hold the same bits on every rank,
/// and equal `reference`'s (`compared_with` names it) to `tolerance`.
inline void expect_replicas_match(const scorelift::distributed::process_group& group, torch::nn::Module& replica,
                                  torch::nn::Module& reference, double tolerance, const std::string& compared_with) {
  expect_identical_across_ranks(group, flat(replica.parameters()), "the parameters");
  expect_close(flat(replica.parameters()), flat(reference.parameters()), tolerance, "parameters vs " + compared_with);
  if (replica.buffers().empty()) return;
  expect_identical_across_ranks(group, flat(replica.buffers()), "the buffers (signs)");
  expect_close(flat(replica.buffers()), flat(reference.buffers()), tolerance, "buffers (signs) vs " + compared_with);
}

inline std::vector<std::ptrdiff_t> host_indices(const torch::Tensor& t) {
  const auto host = t.to(torch::kInt64).contiguous();
  return {host.data_ptr<std::int64_t>(), host.data_ptr<std::int64_t>() + host.numel()};
}

/// The global batch of a lifted loss over shards of given sizes, listed as the one-process reference
/// holds it: every shard's half A (its first ⌊B_r/2⌋ rows), then every shard's half B. Shard r's own
/// rows, in its own order (half A, then half B), are rows_of(r).
struct halves {
  std::vector<std::int64_t> sizes;

  static halves of_sizes(int world, const std::function<std::int64_t(int)>& size) {
    halves out;
    for (int r = 0; r < world; ++r) out.sizes.push_back(size(r));
    return out;
  }
  std::int64_t total() const {
    std::int64_t n = 0;
    for (auto s : sizes) n += s;
    return n;
  }
  std::int64_t half_a() const {
    std::int64_t n = 0;
    for (auto s : sizes) n += s / 2;
    return n;
  }
  torch::Tensor rows_of(int rank) const {
    std::int64_t total_a = 0, before_a = 0, before_b = 0;
    for (std::size_t r = 0; r < sizes.size(); ++r) {
      total_a += sizes[r] / 2;
      if (static_cast<int>(r) < rank) {
        before_a += sizes[r] / 2;
        before_b += sizes[r] - sizes[r] / 2;
      }
    }
    const std::int64_t own_a = sizes[static_cast<std::size_t>(rank)] / 2;
    const std::int64_t own_b = sizes[static_cast<std::size_t>(rank)] - own_a;
    return torch::cat({torch::arange(before_a, before_a + own_a), torch::arange(total_a + before_b, total_a + before_b + own_b)});
  }
  torch::Tensor all_rows() const { return torch::arange(total()); }
};

}  // namespace scorelift::test::distributed

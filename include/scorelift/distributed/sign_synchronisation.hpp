// scorelift/distributed/sign_synchronisation.hpp — the signs κ of a residual stack stay in step
// across the ranks of a data-parallel job.
//
// The signs are state updated from the data (residual/sign_tracker.hpp): if each rank fed its own
// alignments to its own tracker, the replicas' signs — and so their losses — would drift apart. So
// what the tracker reads is reduced first, and every rank applies the same numbers to the same state:
//   * global signs: the batch-mean alignments a_l, averaged over the ranks with each rank's sample
//     count as its weight (Σ_r n_r a_l^r / Σ_r n_r: the mean over the union of the shards). With
//     global lifted statistics the objective's alignments already are that mean: no reduction;
//   * per noise level (diffusion): the per-level sums Σ_b α_{b,l} and counts n_t, all-reduced, then
//     sign_tracker::update_from_sums — exactly the update one process would make from the union.
// The reduced numbers are the same bits on every rank, so the trackers stay bit-for-bit equal.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "scorelift/distributed/process_group.hpp"
#include "scorelift/residual/sign_tracker.hpp"
#include "scorelift/torch/residual_stack.hpp"

namespace scorelift::distributed {

/// Σ_r n_r a^r / Σ_r n_r of per-rank batch means `alignment` over `samples` rows each.
inline std::vector<double> mean_over_ranks(const process_group& group, std::span<const double> alignment,
                                           std::int64_t samples) {
  scorelift::detail::require(samples >= 1, "mean_over_ranks", "argument 'samples' is ", samples,
                             " but a batch has at least one sample");
  if (!group.is_distributed()) return {alignment.begin(), alignment.end()};
  // [n a_1, …, n a_L, n]: one all-reduce for the sums and the total count.
  std::vector<double> packed;
  packed.reserve(alignment.size() + 1);
  for (double a : alignment) packed.push_back(static_cast<double>(samples) * a);
  packed.push_back(static_cast<double>(samples));
  group.all_reduce_sum(packed, "the sign alignments");
  const double total = packed.back();
  packed.pop_back();
  for (double& sum : packed) sum /= total;
  return packed;
}

/// Global signs of `stack` from this rank's batch-mean alignments over `samples` rows (local
/// statistics), reduced over the ranks first.
inline void update_signs(const process_group& group, torch_ext::ResidualStack& stack,
                         std::span<const double> alignment, std::int64_t samples) {
  stack->update_signs(mean_over_ranks(group, alignment, samples));
}

/// Sums per-noise-level sign statistics (sign_tracker::level_sums) over `group` in place: one
/// all-reduce of [sums, counts]. The function keeps a copy of the group (copies share its backend).
inline std::function<void(level_alignment_sums&)> level_sums_over(const process_group& group) {
  return [group](level_alignment_sums& sums) {
    if (!group.is_distributed()) return;
    std::vector<double> packed(sums.sums.begin(), sums.sums.end());
    packed.insert(packed.end(), sums.counts.begin(), sums.counts.end());
    group.all_reduce_sum(packed, "the per-level sign sums");
    const auto split = packed.begin() + static_cast<std::ptrdiff_t>(sums.sums.size());
    std::copy(packed.begin(), split, sums.sums.begin());
    std::copy(split, packed.end(), sums.counts.begin());
  };
}

/// Per-noise-level signs of `stack`: sample b of this rank has level noise_levels[b] and alignments
/// per_sample[l][b] ([L, B], torch_ext::per_sample_residual_alignment); the per-level sums and counts
/// are all-reduced before the update.
inline void update_signs(const process_group& group, torch_ext::ResidualStack& stack, const torch::Tensor& noise_levels,
                         const torch::Tensor& per_sample) {
  auto sums = stack->sign_sums(noise_levels, std::vector<torch::Tensor>(per_sample.unbind(0)));
  level_sums_over(group)(sums);
  stack->update_signs_from_sums(sums);
}

}  // namespace scorelift::distributed

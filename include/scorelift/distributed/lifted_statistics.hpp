// scorelift/distributed/lifted_statistics.hpp — how a data-parallel job forms the lifted loss.
//
// The lifted loss is a product of two half-batch means, −c_A c_B + ½ G_A G_B per level
// (objectives/lifted.hpp). Over R ranks with shards of B_r samples there are two estimators:
//   local   each rank forms its own product from its own halves and the gradients are averaged:
//           (1/R) Σ_r (−c_A^r c_B^r + …), a mean of products of means over B_r/2 samples each —
//           unbiased as well, but with the variance of the small per-rank batch;
//   global  the few half sums and counts (c, G, the distance term, per-sample weights inside them:
//           4 + 5L doubles, objectives/lifted_sums.hpp) are all-reduced before the products are
//           formed, so the value and every gradient are those of one process holding all samples,
//           rank r's first ⌊B_r/2⌋ rows in half A. Each rank's gradient is then a partial derivative
//           of the one global value: the shards' gradients are *summed* (gradient_reduction::sum).
// global_lifted_sums(group) is the reducer that does the all-reduce; pass it to lifted_residual_loss
// (core, torch_ext, or the graph-free lifted_residual_backward).
#pragma once

#include <span>

#include "scorelift/distributed/data_parallel.hpp"
#include "scorelift/distributed/process_group.hpp"
#include "scorelift/objectives/lifted_sums.hpp"

namespace scorelift::distributed {

enum class lifted_statistics { local, global };

/// Sums the lifted half sums over `group` (one all-reduce of 4 + 5L doubles). The reducer keeps a copy
/// of the group (copies share its c10d backend). For a single process it is the identity.
inline lifted_sums_reducer global_lifted_sums(const process_group& group) {
  if (!group.is_distributed()) return {};
  return [group](std::span<double> sums) { group.all_reduce_sum(sums, "the lifted half sums"); };
}

/// The reducer `statistics` asks for: global_lifted_sums for global, none for local.
inline lifted_sums_reducer lifted_sums_for(lifted_statistics statistics, const process_group& group) {
  return statistics == lifted_statistics::global ? global_lifted_sums(group) : lifted_sums_reducer{};
}

/// The gradient reduction that goes with `statistics` (see the header comment).
inline gradient_reduction gradient_reduction_for(lifted_statistics statistics) {
  return statistics == lifted_statistics::global ? gradient_reduction::sum : gradient_reduction::mean;
}

}  // namespace scorelift::distributed

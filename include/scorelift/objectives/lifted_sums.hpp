// scorelift/objectives/lifted_sums.hpp — the few numbers a lifted loss is made of, as sums.
//
// The lifted loss is a product of two half-batch means (objectives/lifted.hpp): per level l,
//     L_l = −c_A[l] c_B[l] + ½ G_A[l,l] G_B[l,l] (+ ½ T_A T_B),   x_h = (Σ_{b∈h} term_b) / n_h.
// Kept as sums and counts, these numbers *add* across the shards of a batch: a data-parallel job
// all-reduces them (one SUM of 4 + 5L doubles) and every process then forms the means — and the
// gradients, which need only the other half's mean — exactly as one process holding every shard's
// samples would, with each shard's first ⌊B_r/2⌋ rows in half A and the rest in half B. Averaging
// per-process losses instead gives a different, noisier estimator (a mean of products of small-batch
// means); both are offered (distributed/lifted_statistics.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "scorelift/errors.hpp"

namespace scorelift {

/// Sums a lifted loss's statistics over the processes of a data-parallel job, in place (an all-reduce
/// with SUM). Empty: the batch is the whole batch.
using lifted_sums_reducer = std::function<void(std::span<double>)>;

class lifted_sums {
 public:
  enum half : std::size_t { a = 0, b = 1 };

  explicit lifted_sums(std::size_t levels) : levels_(levels), values_(header + per_level * levels, 0.0) {}

  std::size_t levels() const { return levels_; }

  /// n_h: the number of samples in half h.
  double& count(half h) { return values_[h]; }
  double count(half h) const { return values_[h]; }
  /// Σ_{b∈h} w_b ‖t_b‖² (the distance form's T_h; 0 otherwise).
  double& target_energy(half h) { return values_[2 + h]; }
  double target_energy(half h) const { return values_[2 + h]; }
  /// Σ_{b∈h} κ_{l,b} α_{l,b}, α = w⟨r_l, f_l⟩ (c_h[l] times n_h).
  double& alignment(std::size_t l, half h) { return values_[at(l) + h]; }
  double alignment(std::size_t l, half h) const { return values_[at(l) + h]; }
  /// Σ_{b∈h} w_b κ_{l,b}² ‖f_{b,l}‖² (G_h[l,l] times n_h).
  double& energy(std::size_t l, half h) { return values_[at(l) + 2 + h]; }
  double energy(std::size_t l, half h) const { return values_[at(l) + 2 + h]; }
  /// Σ_b α_{l,b} over both halves, unsigned f_l (the sign tracker's input, times n_A + n_B).
  double& unsigned_alignment(std::size_t l) { return values_[at(l) + 4]; }
  double unsigned_alignment(std::size_t l) const { return values_[at(l) + 4]; }

  /// x_h = sum / n_h.
  double mean(double sum, half h) const { return sum / count(h); }

  /// Every number, for an all-reduce.
  std::span<double> values() { return values_; }
  std::span<const double> values() const { return values_; }

  /// Applies `reduce` (if any) and checks what came back: counts that are whole and positive in both
  /// halves, finite sums (a non-finite sum from any process stops every process with the same error).
  void reduce_with(const lifted_sums_reducer& reduce, const char* where) {
    if (!reduce) return;
    reduce(values_);
    for (half h : {a, b})
      detail::require(count(h) >= 1.0 && count(h) == std::floor(count(h)), where, "the reduced half ",
                      h == a ? "A" : "B", " has ", count(h), " samples: the reducer must sum every process's sums");
    for (std::size_t i = 0; i < values_.size(); ++i)
      detail::require(std::isfinite(values_[i]), where, "the lifted sums reduced over the processes are not finite (entry ",
                      i, "): some process's batch overflows");
  }

 private:
  static constexpr std::size_t header = 4;     // n_A, n_B, T_A, T_B
  static constexpr std::size_t per_level = 5;  // C_A, C_B, G_A, G_B, S
  std::size_t at(std::size_t l) const { return header + per_level * l; }

  std::size_t levels_;
  std::vector<double> values_;
};

}  // namespace scorelift

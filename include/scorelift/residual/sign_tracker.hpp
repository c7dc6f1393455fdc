// scorelift/residual/sign_tracker.hpp — the signs κ_l of a lifted residual stack, tracked as an
// exponential moving average of the residual alignment (Algorithm 1 of the paper).
//
// The lifted objective is invariant under f_l → −f_l, so each mode's sign is state kept beside it:
//     A_l ← β A_l + (1 − β) a_l,    a_l = mean_b w_b ⟨r_l(x_b), f_l(x_b)⟩,    κ_l = sgn(A_l),
// with β = 0.5 as in the paper and a_l the `residual_alignment` an objective returns (⟨s, f_l⟩
// from the target, or from −tr ∇f_l for sliced estimation).
//
// Global: one A_l per mode. Per noise level (diffusion): a table A[n, l] over n_levels noise levels /
// timesteps; each sample carries its level n_b, and an update averages the per-sample alignments of
// the batch's samples *of each level* (per_sample_residual_alignment) and moves only those rows.
// Levels absent from the batch keep their state unchanged (no decay towards 0: an unseen timestep
// has no new evidence, and decaying would let its sign flip on noise later).
//
// The per-level update is built on sums, not means, because sums are what a data-parallel trainer
// can all-reduce: each process forms S[n, l] = Σ_{b: n_b = n} a_{l,b} and C[n] = #{b: n_b = n}
// (level_sums), the sums and counts are added across processes, and every process applies
//     A[n, l] ← β A[n, l] + (1 − β) S[n, l] / C[n]   for C[n] > 0   (update_from_sums),
// which is the single-process update of the union of the batches, so all replicas keep one state.
//
// Soft signs, hard signs: the state A holds *soft* signs — any finite real; its magnitude is how
// settled the EMA is, and set_state accepts any finite table. What leaves the tracker (sign, signs,
// signs_for) is always exactly ±1, with sgn(0) = +1: a fresh tracker (A = 0) and an exactly-zero
// average give κ = +1, so the stack starts as the plain sum ŝ = Σ f_l and a sign never is 0 (which
// would silently drop a mode).
//
// Every update is atomic: the inputs *and* the new state are validated (lengths, levels, finiteness
// — a sum or a mean that overflows is refused) on a copy, and the copy replaces the state only when
// all of it is good. A call that throws leaves the state exactly as it was.
// The state is saved and loaded with the model (state()/set_state()); set_state(state()) round-trips.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/detail/checked_arithmetic.hpp"
#include "scorelift/detail/host_values.hpp"
#include "scorelift/errors.hpp"

namespace scorelift {

/// The per-level statistics of one batch: sums[n · modes + l] = S[n, l] (row-major by noise level)
/// and counts[n] = C[n]. Both are plain sums, so they may be all-reduced across processes.
struct level_alignment_sums {
  std::vector<double> sums;
  std::vector<double> counts;
};

class sign_tracker {
 public:
  /// Global signs: one soft sign A_l per mode.
  explicit sign_tracker(index_t modes, double beta = 0.5) : sign_tracker(modes, 1, beta) {}

  /// Per-noise-level signs: a noise_levels × modes table of soft signs, all starting at 0 (κ = +1).
  sign_tracker(index_t modes, index_t noise_levels, double beta) : modes_(modes), noise_levels_(noise_levels), beta_(beta) {
    constexpr const char* where = "sign_tracker";
    detail::require(modes >= 1, where, "argument 'modes' is ", modes, " but at least one mode is needed");
    detail::require(noise_levels >= 1, where, "argument 'noise_levels' is ", noise_levels, " but must be >= 1");
    detail::require(beta >= 0.0 && beta <= 1.0, where, "argument 'beta' is ", beta, " but must lie in [0, 1]");
    state_.assign(static_cast<std::size_t>(detail::checked_multiply(modes, noise_levels, where, "modes × noise_levels")),
                  0.0);
  }

  index_t modes() const { return modes_; }
  index_t noise_levels() const { return noise_levels_; }
  double beta() const { return beta_; }

  /// Global update from the batch alignments a_l (objective_result::residual_alignment): one level
  /// whose mean is given, i.e. update_from_sums(alignment, {1}).
  void update(std::span<const double> alignment) {
    constexpr const char* where = "sign_tracker::update";
    detail::require(noise_levels_ == 1, where, "this tracker has ", noise_levels_,
                    " noise levels: update it with each sample's level and per-sample alignments");
    require_alignment_count(alignment.size(), where);
    const double one = 1.0;
    state_ = next_state(alignment, std::span<const double>(&one, 1), where, "alignment");
  }

  /// S[n, l] and C[n] of one batch: sample b has level `levels[b]` and alignments per_sample[l][b].
  /// Throws (naming the argument) on a bad level, a length mismatch, a non-finite alignment or a
  /// sum that overflows.
  level_alignment_sums level_sums(std::span<const index_t> levels, const std::vector<std::vector<double>>& per_sample) const {
    return sums_of(levels, per_sample, "sign_tracker::level_sums");
  }

  /// level_sums for backend vectors (per_sample_residual_alignment).
  template <Backend B>
  level_alignment_sums level_sums(std::span<const index_t> levels, const std::vector<typename B::vector_type>& per_sample) const {
    return level_sums(levels, host_copies<B>(per_sample));
  }

  /// A[n, l] ← β A[n, l] + (1 − β) S[n, l] / C[n] for every level with C[n] > 0; levels with C[n] = 0
  /// keep their state (and must have S[n, ·] = 0). `level_sums` has noise_levels × modes entries,
  /// row-major by noise level; `level_counts` has noise_levels entries, finite and >= 0. The sums and
  /// counts may be added over processes before this call (the all-reduce of data-parallel training).
  void update_from_sums(std::span<const double> level_sums, std::span<const double> level_counts) {
    state_ = next_state(level_sums, level_counts, "sign_tracker::update_from_sums", "level_sums");
  }
  void update_from_sums(const level_alignment_sums& sums) { update_from_sums(sums.sums, sums.counts); }

  /// Per-noise-level update: sample b has level `levels[b]` and alignments per_sample[l][b].
  /// The same as update_from_sums(level_sums(levels, per_sample)).
  void update(std::span<const index_t> levels, const std::vector<std::vector<double>>& per_sample) {
    constexpr const char* where = "sign_tracker::update";
    const level_alignment_sums sums = sums_of(levels, per_sample, where);
    state_ = next_state(sums.sums, sums.counts, where, "level_sums");
  }

  /// Per-noise-level update from backend vectors (per_sample_residual_alignment).
  template <Backend B>
  void update(std::span<const index_t> levels, const std::vector<typename B::vector_type>& per_sample) {
    update(levels, host_copies<B>(per_sample));
  }

  /// A_l (or A[n, l]): the soft sign.
  double soft_sign(index_t mode, index_t noise_level = 0) const { return state_[offset(mode, noise_level)]; }
  /// κ_l = sgn(A_l) with sgn(0) = +1: always exactly ±1.
  double sign(index_t mode, index_t noise_level = 0) const { return soft_sign(mode, noise_level) >= 0.0 ? 1.0 : -1.0; }

  /// κ_l for every mode at one noise level.
  std::vector<double> signs(index_t noise_level = 0) const {
    std::vector<double> out;
    for (index_t l = 0; l < modes_; ++l) out.push_back(sign(l, noise_level));
    return out;
  }

  /// Per-sample signs on the host: out[l][b] = κ_l at sample b's level.
  std::vector<std::vector<double>> signs_for(std::span<const index_t> levels) const {
    check_levels(levels, "sign_tracker::signs_for");
    std::vector<std::vector<double>> out(static_cast<std::size_t>(modes_), std::vector<double>(levels.size()));
    for (index_t l = 0; l < modes_; ++l)
      for (std::size_t b = 0; b < levels.size(); ++b) out[static_cast<std::size_t>(l)][b] = sign(l, levels[b]);
    return out;
  }

  /// score_batch::signs for a batch of samples at the given levels.
  template <HostVectorBackend B>
  std::vector<typename B::vector_type> signs_for(std::span<const index_t> levels, const typename B::matrix_view& like) const {
    std::vector<typename B::vector_type> out;
    for (const auto& host : signs_for(levels)) out.push_back(B::vector_from_host(host, like));
    return out;
  }

  /// score_batch::signs with the global signs broadcast over a batch of `batch` >= 0 samples.
  template <Backend B>
  std::vector<typename B::vector_type> signs_for(index_t batch, const typename B::matrix_view& like) const {
    constexpr const char* where = "sign_tracker::signs_for";
    detail::require(batch >= 0, where, "argument 'batch' is ", batch, " but must be >= 0");
    detail::require(noise_levels_ == 1, where, "this tracker has ", noise_levels_, " noise levels: give each sample's level");
    std::vector<typename B::vector_type> out;
    for (index_t l = 0; l < modes_; ++l) out.push_back(B::filled(batch, sign(l), like));
    return out;
  }

  /// The soft signs, noise_levels × modes, row-major by noise level (for saving with the model).
  const std::vector<double>& state() const { return state_; }
  /// Loads soft signs (any finite values; see the header comment): all checked before any is taken.
  void set_state(std::vector<double> state) {
    constexpr const char* where = "sign_tracker::set_state";
    detail::require(state.size() == state_.size(), where, "argument 'state' has ", state.size(),
                    " entries but the tracker has noise_levels × modes = ", noise_levels_, " × ", modes_);
    for (std::size_t i = 0; i < state.size(); ++i)
      detail::require(std::isfinite(state[i]), where, "argument 'state' is not finite at ", i, " (", state[i], ")");
    state_ = std::move(state);
  }

 private:
  /// The state after A[n, l] ← β A + (1 − β) S/C on the levels with C > 0, built on a copy and
  /// checked entry by entry; the caller assigns it (a move that cannot throw), so a failed check
  /// changes nothing.
  std::vector<double> next_state(std::span<const double> sums, std::span<const double> counts, std::string_view where,
                                 std::string_view sums_name) const {
    detail::require(sums.size() == state_.size(), where, "argument '", sums_name, "' has ", sums.size(),
                    " entries but the tracker has noise_levels × modes = ", noise_levels_, " × ", modes_);
    detail::require(counts.size() == static_cast<std::size_t>(noise_levels_), where, "argument 'level_counts' has ",
                    counts.size(), " entries but the tracker has ", noise_levels_, " noise levels");
    const auto modes = static_cast<std::size_t>(modes_);
    std::vector<double> next = state_;
    for (std::size_t n = 0; n < counts.size(); ++n) {
      const double count = counts[n];
      detail::require(std::isfinite(count) && count >= 0.0, where, "argument 'level_counts[", n, "]' is ", count,
                      " but must be finite and >= 0");
      for (std::size_t l = 0; l < modes; ++l) {
        const std::size_t i = n * modes + l;
        detail::require(std::isfinite(sums[i]), where, "argument '", sums_name, "[", i, "]' is not finite (", sums[i], ")");
        if (count == 0.0) {
          // An absent level keeps its state; a non-zero sum without samples is a bookkeeping error.
          detail::require(sums[i] == 0.0, where, "argument '", sums_name, "[", i, "]' is ", sums[i],
                          " but level ", n, " has count 0");
          continue;
        }
        const double mean = sums[i] / count;
        const double updated = beta_ * next[i] + (1.0 - beta_) * mean;
        detail::require(std::isfinite(mean) && std::isfinite(updated), where, "the new soft sign of mode ", l,
                        " at noise level ", n, " is not finite (", sums_name, " ", sums[i], " / count ", count,
                        " = mean ", mean, ", β = ", beta_, ", old state ", next[i], ")");
        next[i] = updated;
      }
    }
    return next;
  }

  /// S[n, l] = Σ_{b: n_b = n} per_sample[l][b] and C[n], every input checked, `where` naming the caller.
  level_alignment_sums sums_of(std::span<const index_t> levels, const std::vector<std::vector<double>>& per_sample,
                               const char* where) const {
    require_alignment_count(per_sample.size(), where);
    check_levels(levels, where);
    level_alignment_sums out{std::vector<double>(state_.size(), 0.0),
                             std::vector<double>(static_cast<std::size_t>(noise_levels_), 0.0)};
    for (index_t level : levels) out.counts[static_cast<std::size_t>(level)] += 1.0;
    const auto modes = static_cast<std::size_t>(modes_);
    for (std::size_t l = 0; l < modes; ++l) {
      detail::require(per_sample[l].size() == levels.size(), where, "argument 'per_sample[", l, "]' has length ",
                      per_sample[l].size(), " but 'levels' has length ", levels.size());
      for (std::size_t b = 0; b < levels.size(); ++b) {
        const double a = per_sample[l][b];
        detail::require(std::isfinite(a), where, "argument 'per_sample[", l, "]' is not finite at ", b, " (", a, ")");
        double& sum = out.sums[static_cast<std::size_t>(levels[b]) * modes + l];
        sum += a;
        detail::require(std::isfinite(sum), where, "the sum of 'per_sample[", l, "]' over the samples of level ",
                        levels[b], " overflows at sample ", b, " (alignment ", a, ")");
      }
    }
    return out;
  }

  template <Backend B>
  static std::vector<std::vector<double>> host_copies(const std::vector<typename B::vector_type>& per_sample) {
    std::vector<std::vector<double>> host;
    host.reserve(per_sample.size());
    for (const auto& v : per_sample) host.push_back(detail::host_values<B>(v));
    return host;
  }
  std::size_t offset(index_t mode, index_t noise_level) const {
    detail::require(mode >= 0 && mode < modes_ && noise_level >= 0 && noise_level < noise_levels_, "sign_tracker",
                    "mode ", mode, " at noise level ", noise_level, " is outside [0, ", modes_, ") × [0, ",
                    noise_levels_, ")");
    return static_cast<std::size_t>(noise_level * modes_ + mode);
  }
  void require_alignment_count(std::size_t count, const char* where) const {
    detail::require(count == static_cast<std::size_t>(modes_), where, "got alignments for ", count,
                    " modes but the tracker has ", modes_);
  }
  void check_levels(std::span<const index_t> levels, const char* where) const {
    for (std::size_t b = 0; b < levels.size(); ++b)
      detail::require(levels[b] >= 0 && levels[b] < noise_levels_, where, "argument 'levels[", b, "]' is ", levels[b],
                      " but the tracker has noise levels [0, ", noise_levels_, ")");
  }

  index_t modes_;
  index_t noise_levels_;
  double beta_;
  std::vector<double> state_;
};

}  // namespace scorelift

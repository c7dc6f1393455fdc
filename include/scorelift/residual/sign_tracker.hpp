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
// sgn(0) = +1: a fresh tracker (A = 0) and an exactly-zero average give κ = +1, so the stack starts
// as the plain sum ŝ = Σ f_l and a sign never is 0 (which would silently drop a mode).
// The state is saved and loaded with the model (state()/set_state()).
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"

namespace scorelift {

namespace detail {

/// A per-sample vector on the host: one copy where the backend offers it, element sums otherwise.
template <Backend B>
std::vector<double> host_values(const typename B::vector_type& v) {
  if constexpr (HostVectorBackend<B>) {
    return B::vector_to_host(v);
  } else {
    std::vector<double> out(static_cast<std::size_t>(B::size(v)));
    for (index_t i = 0; i < B::size(v); ++i) out[static_cast<std::size_t>(i)] = B::sum(v, i, i + 1);
    return out;
  }
}

}  // namespace detail

class sign_tracker {
 public:
  /// Global signs: one soft sign A_l per mode.
  explicit sign_tracker(index_t modes, double beta = 0.5) : sign_tracker(modes, 1, beta) {}

  /// Per-noise-level signs: a noise_levels × modes table of soft signs, all starting at 0 (κ = +1).
  sign_tracker(index_t modes, index_t noise_levels, double beta) : modes_(modes), noise_levels_(noise_levels), beta_(beta) {
    detail::require(modes >= 1, "sign_tracker", "argument 'modes' is ", modes, " but at least one mode is needed");
    detail::require(noise_levels >= 1, "sign_tracker", "argument 'noise_levels' is ", noise_levels, " but must be >= 1");
    detail::require(beta >= 0.0 && beta <= 1.0, "sign_tracker", "argument 'beta' is ", beta, " but must lie in [0, 1]");
    state_.assign(static_cast<std::size_t>(modes * noise_levels), 0.0);
  }

  index_t modes() const { return modes_; }
  index_t noise_levels() const { return noise_levels_; }
  double beta() const { return beta_; }

  /// Global update from the batch alignments a_l (objective_result::residual_alignment).
  void update(std::span<const double> alignment) {
    constexpr const char* where = "sign_tracker::update";
    detail::require(noise_levels_ == 1, where, "this tracker has ", noise_levels_,
                    " noise levels: update it with each sample's level and per-sample alignments");
    require_alignment_count(alignment.size(), where);
    for (std::size_t l = 0; l < alignment.size(); ++l) {
      detail::require(std::isfinite(alignment[l]), where, "argument 'alignment[", l, "]' is not finite");
      state_[l] = beta_ * state_[l] + (1.0 - beta_) * alignment[l];
    }
  }

  /// Per-noise-level update: sample b has level `levels[b]` and alignments per_sample[l][b].
  void update(std::span<const index_t> levels, const std::vector<std::vector<double>>& per_sample) {
    constexpr const char* where = "sign_tracker::update";
    require_alignment_count(per_sample.size(), where);
    check_levels(levels, where);
    std::vector<double> count(static_cast<std::size_t>(noise_levels_), 0.0);
    for (index_t level : levels) count[static_cast<std::size_t>(level)] += 1.0;
    for (std::size_t l = 0; l < per_sample.size(); ++l) {
      detail::require(per_sample[l].size() == levels.size(), where, "argument 'per_sample[", l, "]' has length ",
                      per_sample[l].size(), " but 'levels' has length ", levels.size());
      std::vector<double> mean(static_cast<std::size_t>(noise_levels_), 0.0);
      for (std::size_t b = 0; b < levels.size(); ++b) {
        detail::require(std::isfinite(per_sample[l][b]), where, "argument 'per_sample[", l, "]' is not finite at ", b);
        const auto n = static_cast<std::size_t>(levels[b]);
        mean[n] += per_sample[l][b] / count[n];
      }
      for (std::size_t n = 0; n < mean.size(); ++n) {
        if (count[n] == 0.0) continue;  // absent level: state unchanged
        double& a = state_[n * static_cast<std::size_t>(modes_) + l];
        a = beta_ * a + (1.0 - beta_) * mean[n];
      }
    }
  }

  /// Per-noise-level update from backend vectors (per_sample_residual_alignment).
  template <Backend B>
  void update(std::span<const index_t> levels, const std::vector<typename B::vector_type>& per_sample) {
    std::vector<std::vector<double>> host;
    host.reserve(per_sample.size());
    for (const auto& v : per_sample) host.push_back(detail::host_values<B>(v));
    update(levels, host);
  }

  /// A_l (or A[n, l]): the soft sign.
  double soft_sign(index_t mode, index_t noise_level = 0) const { return state_[offset(mode, noise_level)]; }
  /// κ_l = sgn(A_l) with sgn(0) = +1.
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

  /// score_batch::signs with the global signs broadcast over a batch of `batch` samples.
  template <Backend B>
  std::vector<typename B::vector_type> signs_for(index_t batch, const typename B::matrix_view& like) const {
    detail::require(noise_levels_ == 1, "sign_tracker::signs_for", "this tracker has ", noise_levels_,
                    " noise levels: give each sample's level");
    std::vector<typename B::vector_type> out;
    for (index_t l = 0; l < modes_; ++l) out.push_back(B::filled(batch, sign(l), like));
    return out;
  }

  /// The soft signs, noise_levels × modes, row-major by noise level (for saving with the model).
  const std::vector<double>& state() const { return state_; }
  void set_state(std::vector<double> state) {
    detail::require(state.size() == state_.size(), "sign_tracker::set_state", "argument 'state' has ", state.size(),
                    " entries but the tracker has noise_levels × modes = ", noise_levels_, " × ", modes_);
    for (std::size_t i = 0; i < state.size(); ++i)
      detail::require(std::isfinite(state[i]), "sign_tracker::set_state", "argument 'state' is not finite at ", i);
    state_ = std::move(state);
  }

 private:
  std::size_t offset(index_t mode, index_t noise_level) const {
    detail::require(mode >= 0 && mode < modes_ && noise_level >= 0 && noise_level < noise_levels_, "sign_tracker",
                    "mode ", mode, " at noise level ", noise_level, " is outside [0, ", modes_, ") × [0, ",
                    noise_levels_, ")");
    return static_cast<std::size_t>(noise_level * modes_ + mode);
  }
  void require_alignment_count(std::size_t count, const char* where) const {
    detail::require(static_cast<index_t>(count) == modes_, where, "got alignments for ", count,
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

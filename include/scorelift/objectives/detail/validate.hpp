// scorelift/objectives/detail/validate.hpp — the one place where an objective's inputs are checked.
//
// Every objective calls `validate_score_batch` first and `require_finite_result` last, so a user gets the same message for the same
// mistake whichever loss they called: the function, the argument and both shapes are named.
//
// NaN/Inf policy: every input tensor (modes, target, divergence, weights, signs) is checked with
// B::all_finite / B::all_finite_vector and a non-finite value is rejected with an error naming the
// argument. Silently propagating a NaN into a loss would poison the sign tracker's EMA state for
// good, so the check is always on; it costs one extra read of the inputs (no allocation on the
// Eigen and xtensor backends). Weights must be positive. Signs may be any finite reals: ±1 from a
// sign_tracker, or soft signs (the gradients are exact for general κ). Finite inputs can still overflow — a squared norm of entries ~1e155
// in double, a lifted product of two of them at ~1e77 — so the results are checked too (one read of each gradient), and an
// overflow is an error that says so instead of a NaN loss.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/detail/host_values.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift::detail {

/// The sizes every objective works with, once validated.
struct batch_extents {
  index_t batch = 0;      // B
  index_t dim = 0;        // D
  index_t levels = 0;     // L
  bool has_target = false;
};

/// "modes[2]" — the indexed name used in messages.
inline std::string indexed(std::string_view name, std::size_t i) {
  return std::string(name) + '[' + std::to_string(i) + ']';
}

/// Checks one per-sample vector: length B and finite values.
template <Backend B>
void validate_per_sample(const typename B::vector_type& v, std::string_view where, const std::string& argument,
                         const batch_extents& extents) {
  require(B::size(v) == extents.batch, where, "argument '", argument, "' has length ", B::size(v),
          " but the batch has B = ", extents.batch, " samples");
  require(static_cast<bool>(B::all_finite_vector(v)), where, "argument '", argument,
          "' contains NaN or Inf (non-finite inputs are rejected)");
}

/// Checks a score_batch (see the policy above) and returns its extents.
/// `min_batch` is 2 for the lifted losses (two non-empty halves) and 1 otherwise.
template <Backend B>
batch_extents validate_score_batch(const score_batch<B>& batch, std::string_view where, index_t min_batch = 1) {
  require(!batch.modes.empty(), where, "argument 'modes' is empty (L = 0): at least one mode is needed");
  batch_extents extents;
  extents.levels = static_cast<index_t>(batch.modes.size());
  extents.batch = B::rows(batch.modes.front());
  extents.dim = B::cols(batch.modes.front());
  extents.has_target = batch.target.has_value();
  require(extents.dim >= 1, where, "argument 'modes[0]' has shape ", B::shape_string(batch.modes.front()),
          " but the dimension D must be at least 1");
  require(extents.batch >= min_batch, where, "argument 'modes[0]' has shape ", B::shape_string(batch.modes.front()),
          " but this objective needs a batch of at least B = ", min_batch, " samples",
          min_batch >= 2 ? " (it splits the batch into two non-empty halves)" : "");

  for (std::size_t l = 0; l < batch.modes.size(); ++l) {
    const auto& mode = batch.modes[l];
    require(B::rows(mode) == extents.batch && B::cols(mode) == extents.dim, where, "argument '", indexed("modes", l),
            "' has shape ", B::shape_string(mode), " but modes[0] has shape ", B::shape_string(batch.modes.front()));
    require(static_cast<bool>(B::all_finite(mode)), where, "argument '", indexed("modes", l),
            "' contains NaN or Inf (non-finite inputs are rejected)");
  }

  require(extents.has_target != !batch.divergence.empty(), where,
          "exactly one of the arguments 'target' and 'divergence' must be given (got ",
          extents.has_target ? "both" : "neither", ")");
  if (extents.has_target) {
    const auto& target = *batch.target;
    require(B::rows(target) == extents.batch && B::cols(target) == extents.dim, where, "argument 'target' has shape ",
            B::shape_string(target), " but modes[0] has shape ", B::shape_string(batch.modes.front()));
    require(static_cast<bool>(B::all_finite(target)), where,
            "argument 'target' contains NaN or Inf (non-finite inputs are rejected)");
  } else {
    require(batch.divergence.size() == batch.modes.size(), where, "argument 'divergence' has ",
            batch.divergence.size(), " entries but there are L = ", extents.levels, " modes");
    for (std::size_t l = 0; l < batch.divergence.size(); ++l)
      validate_per_sample<B>(batch.divergence[l], where, indexed("divergence", l), extents);
  }

  if (batch.weights) {
    validate_per_sample<B>(*batch.weights, where, "weights", extents);
    // A weight scales a sample's terms; zero or negative would drop it or flip its objective.
    const std::vector<double> weights = host_values<B>(*batch.weights);
    for (std::size_t b = 0; b < weights.size(); ++b)
      require(weights[b] > 0.0, where, "argument 'weights' is ", weights[b], " at sample ", b,
              " but weights must be positive (leave a sample out rather than weighting it by 0)");
  }
  require(batch.signs.empty() || batch.signs.size() == batch.modes.size(), where, "argument 'signs' has ",
          batch.signs.size(), " entries but there are L = ", extents.levels, " modes (give one per mode, or none)");
  for (std::size_t l = 0; l < batch.signs.size(); ++l)
    validate_per_sample<B>(batch.signs[l], where, indexed("signs", l), extents);
  return extents;
}

/// Throws unless the value, the per-level values and alignments and every gradient are finite: with
/// finite inputs (checked first) only an overflow of the scalar type can make them otherwise.
template <Backend B>
void require_finite_result(const objective_result<B>& result, std::string_view where) {
  const auto fail_overflow = [&](const std::string& part) {
    fail(where, "the ", part,
         " overflows although every input is finite: the inputs are too large for this objective's squared norms "
         "(and the lifted loss's products of them) in this scalar type; rescale them");
  };
  if (!std::isfinite(result.value)) fail_overflow("loss");
  for (std::size_t l = 0; l < result.level_values.size(); ++l)
    if (!std::isfinite(result.level_values[l]) || !std::isfinite(result.residual_alignment[l]))
      fail_overflow("level " + std::to_string(l) + " value or alignment");
  for (std::size_t l = 0; l < result.grad_modes.size(); ++l)
    if (!B::all_finite(result.grad_modes[l])) fail_overflow("gradient " + indexed("grad_modes", l));
  if (result.grad_target && !B::all_finite(*result.grad_target)) fail_overflow("gradient grad_target");
  for (std::size_t l = 0; l < result.grad_divergence.size(); ++l)
    if (!B::all_finite_vector(result.grad_divergence[l])) fail_overflow("gradient " + indexed("grad_divergence", l));
}

}  // namespace scorelift::detail

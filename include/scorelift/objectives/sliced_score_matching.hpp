// scorelift/objectives/sliced_score_matching.hpp — plain sliced score matching (Song et al. 2019).
//
//     J_SSM = mean_{b, m} [ v_{m,b}ᵀ ∇ₓf(x_b) v_{m,b} + ½ (v_{m,b}ᵀ f(x_b))² ]
//
// over B samples and M probes per sample (probes.hpp). Both the trace *and* ½‖f‖² are sliced
// (E[(vᵀf)²] = ‖f‖² when E[vvᵀ] = I); SSM-VR, which keeps ½‖f‖² exact, is
// residual_score_matching_loss with the probe-averaged Hutchinson term as `divergence`.
//
// Layout (probes.hpp): M entries, each a vector of length B — h_m[b] = v_{m,b}ᵀ ∇f v_{m,b} and
// p_m[b] = v_{m,b}ᵀ f(x_b). Gradients:  ∂J/∂h_{m,b} = 1/(MB) for every term (returned once, as a
// number),  ∂J/∂p_{m,b} = p_{m,b}/(MB).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/detail/validate.hpp"

namespace scorelift {

template <Backend B>
struct sliced_score_matching_result {
  double value = 0.0;
  /// ∂value/∂h_{m,b}: the same number 1/(MB) for every probe and sample.
  double grad_hutchinson = 0.0;
  /// ∂value/∂p_m, M vectors of length B.
  std::vector<typename B::vector_type> grad_projections;
};

/// Sliced score matching from per-probe Hutchinson terms and projections (layout above).
template <Backend B>
sliced_score_matching_result<B> sliced_score_matching_loss(const std::vector<typename B::vector_type>& hutchinson,
                                                           const std::vector<typename B::vector_type>& projections) {
  constexpr const char* where = "sliced_score_matching_loss";
  detail::require(!hutchinson.empty(), where, "argument 'hutchinson' is empty (M = 0 probes)");
  detail::require(projections.size() == hutchinson.size(), where, "argument 'projections' has ", projections.size(),
                  " entries but 'hutchinson' has M = ", hutchinson.size());
  detail::batch_extents extents;
  extents.batch = B::size(hutchinson.front());
  detail::require(extents.batch >= 1, where, "argument 'hutchinson[0]' is empty (B = 0 samples)");
  for (std::size_t m = 0; m < hutchinson.size(); ++m) {
    detail::validate_per_sample<B>(hutchinson[m], where, detail::indexed("hutchinson", m), extents);
    detail::validate_per_sample<B>(projections[m], where, detail::indexed("projections", m), extents);
  }

  const index_t n = extents.batch;
  const double inverse_count = 1.0 / static_cast<double>(n * static_cast<index_t>(hutchinson.size()));
  sliced_score_matching_result<B> result;
  result.grad_hutchinson = inverse_count;
  result.grad_projections.reserve(projections.size());
  for (std::size_t m = 0; m < hutchinson.size(); ++m) {
    const auto& p = projections[m];
    result.value += inverse_count * (B::sum(hutchinson[m], 0, n) + 0.5 * B::sum(B::multiply(p, p), 0, n));
    result.grad_projections.push_back(B::axpby(inverse_count, p, 0.0, p));
  }
  // Finite inputs overflow only in ½p²: |p| ≳ 1e154 (double), 1e19 (float).
  detail::require(std::isfinite(result.value), where,
                  "the loss overflows although every input is finite: |projections| too large for ½p² in this "
                  "scalar type; rescale them");
  return result;
}

}  // namespace scorelift

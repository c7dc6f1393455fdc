// scorelift/residual/score_estimate.hpp — the score of a residual stack: ŝ(x) = Σ_l κ_l f_l(x).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"

namespace scorelift {

namespace detail {
template <Backend B>
void check_modes(const std::vector<typename B::matrix_view>& modes, const char* where) {
  require(!modes.empty(), where, "argument 'modes' is empty (L = 0)");
  for (std::size_t l = 1; l < modes.size(); ++l)
    require(B::rows(modes[l]) == B::rows(modes[0]) && B::cols(modes[l]) == B::cols(modes[0]), where, "argument 'modes[",
            l, "]' has shape ", B::shape_string(modes[l]), " but modes[0] has shape ", B::shape_string(modes[0]));
}

/// ŝ is a signed sum of the modes: non-finite only if a mode is (named) or the sum overflows.
template <Backend B>
void require_finite_sum(const typename B::matrix_type& sum, const std::vector<typename B::matrix_view>& modes,
                        const char* where) {
  if (B::all_finite(sum)) return;
  for (std::size_t l = 0; l < modes.size(); ++l)
    require(static_cast<bool>(B::all_finite(modes[l])), where, "argument 'modes[", l,
            "]' contains NaN or Inf (non-finite inputs are rejected)");
  fail(where, "the sum of the modes overflows this scalar type although every mode is finite; rescale them");
}
}  // namespace detail

/// ŝ_b = Σ_l κ_{l,b} f_{b,l} with per-sample signs (score_batch::signs layout; empty means +1).
template <Backend B>
typename B::matrix_type score_estimate(const std::vector<typename B::matrix_view>& modes,
                                       const std::vector<typename B::vector_type>& signs) {
  constexpr const char* where = "score_estimate";
  detail::check_modes<B>(modes, where);
  const index_t n = B::rows(modes[0]);
  detail::require(signs.empty() || signs.size() == modes.size(), where, "argument 'signs' has ", signs.size(),
                  " entries but there are L = ", modes.size(), " modes");
  for (std::size_t l = 0; l < signs.size(); ++l)
    detail::require(B::size(signs[l]) == n, where, "argument 'signs[", l, "]' has length ", B::size(signs[l]),
                    " but the batch has B = ", n, " samples");
  typename B::matrix_type out = B::zeros_like(modes[0]);
  const auto ones = signs.empty() ? B::filled(n, 1.0, modes[0]) : typename B::vector_type{};
  for (std::size_t l = 0; l < modes.size(); ++l) B::add_scaled_rows(out, signs.empty() ? ones : signs[l], modes[l]);
  detail::require_finite_sum<B>(out, modes, where);
  return out;
}

/// ŝ = Σ_l κ_l f_l with one sign per mode (sign_tracker::signs()).
template <Backend B>
typename B::matrix_type score_estimate(const std::vector<typename B::matrix_view>& modes,
                                       std::span<const double> signs) {
  constexpr const char* where = "score_estimate";
  detail::check_modes<B>(modes, where);
  detail::require(signs.size() == modes.size(), where, "argument 'signs' has ", signs.size(),
                  " entries but there are L = ", modes.size(), " modes");
  typename B::matrix_type out = B::zeros_like(modes[0]);
  for (std::size_t l = 0; l < modes.size(); ++l)
    B::add_scaled_rows(out, B::filled(B::rows(modes[l]), signs[l], modes[l]), modes[l]);
  detail::require_finite_sum<B>(out, modes, where);
  return out;
}

}  // namespace scorelift

// scorelift/objectives/detail/running_residual.hpp — the residual recursion shared by the lifted
// and the non-lifted residual objectives, and the per-sample vectors (weights, signs) they default.
//
// Level l sees the residual r_l = s − Σ_{i<l} κ_i f_i. The score s is known only through a target
// t (E[t | x̃] = s(x̃)) or through −tr ∇f (integration by parts), so what is carried from level to
// level is the part that *is* a tensor:
//     ρ_1 = t (target) or 0 (divergence),   ρ_{l+1} = ρ_l − κ_l f_l,
// and ⟨r_l, f_l⟩ is estimated per sample as ⟨ρ_l, f_l⟩ (− tr ∇f_l in the divergence form).
// ρ is materialised lazily: with a target and L = 1 no copy of t is ever made.
#pragma once

#include <optional>

#include "scorelift/concepts.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift::detail {

/// w_b, or a vector of ones when the batch carries no weights.
template <Backend B>
typename B::vector_type weights_or_ones(const score_batch<B>& batch, index_t n) {
  return batch.weights ? *batch.weights : B::filled(n, 1.0, batch.modes.front());
}

/// κ_{l,b}, or a vector of ones when the batch carries no signs.
template <Backend B>
typename B::vector_type signs_or_ones(const score_batch<B>& batch, std::size_t level, index_t n) {
  return batch.signs.empty() ? B::filled(n, 1.0, batch.modes.front()) : batch.signs[level];
}

/// out += diag(v) x, where an empty `out` starts as diag(v) x (saves zero-filling a B×D buffer).
template <Backend B>
void accumulate_scaled_rows(std::optional<typename B::matrix_type>& out, const typename B::vector_type& v,
                            const typename B::matrix_view& x) {
  if (out) {
    B::add_scaled_rows(*out, v, x);
  } else {
    out = B::scaled_rows(v, x);
  }
}

template <Backend B>
class running_residual {
 public:
  using matrix_type = typename B::matrix_type;
  using matrix_view = typename B::matrix_view;
  using vector_type = typename B::vector_type;

  explicit running_residual(const score_batch<B>& batch) : batch_(batch) {}

  /// True while ρ is identically zero (divergence form, level 1): callers skip its terms.
  bool is_zero() const { return !owned_ && !batch_.target; }

  /// ρ_l as a view (t itself until the first subtraction). Precondition: !is_zero().
  matrix_view view() const { return owned_ ? matrix_view(*owned_) : *batch_.target; }

  /// α_{b,l} = w_b (⟨ρ_{b,l}, f_{b,l}⟩ − tr ∇f_l(x_b)): the per-sample estimate of w⟨r_l, f_l⟩
  /// with the *unsigned* f_l (the sign tracker's input).
  vector_type alignment(std::size_t level, const vector_type& weights) const {
    const matrix_view f = batch_.modes[level];
    if (batch_.target || owned_) {
      vector_type dot = B::row_dot(view(), f);
      if (!batch_.target) dot = B::axpby(1.0, dot, -1.0, batch_.divergence[level]);
      return B::multiply(weights, dot);
    }
    return B::multiply(weights, B::axpby(-1.0, batch_.divergence[level], 0.0, batch_.divergence[level]));
  }

  /// ρ ← ρ − κ_l f_l (the next level's residual).
  void subtract(const vector_type& signs, std::size_t level) {
    const matrix_view f = batch_.modes[level];
    const vector_type minus_signs = B::axpby(-1.0, signs, 0.0, signs);
    if (owned_) {
      B::add_scaled_rows(*owned_, minus_signs, f);
      return;
    }
    owned_ = B::scaled_rows(minus_signs, f);
    if (batch_.target) B::add_scaled_rows(*owned_, B::filled(B::rows(f), 1.0, f), *batch_.target);
  }

 private:
  const score_batch<B>& batch_;
  std::optional<matrix_type> owned_;
};

}  // namespace scorelift::detail

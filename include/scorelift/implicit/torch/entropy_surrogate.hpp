// scorelift/implicit/torch/entropy_surrogate.hpp — the entropy term of an implicit encoder's loss.
//
// For z = g_θ(x, ε) the entropy h(q_θ) = −E log q_θ(z) has the gradient (Li & Turner, 2018)
//     ∇_θ h = −E_ε[ ∇_θ g_θ(x, ε)ᵀ ∇_z log q_θ(z) |_{z = g_θ(x, ε)} ]
// (the term E[∇_θ log q_θ](z) vanishes: a density integrates to one for every θ). So with a score
// estimate ŝ(z) ≈ ∇_z log q_θ(z), held constant,
//     S(z) = mean_b ⟨stopgrad(ŝ(z_b)), z_b⟩    has    ∇_θ S = −∇_θ h,
// and adding S to a loss that is minimised subtracts the entropy, as −ELBO and the WAE objective
// require. S's *value* is not −h (the surrogate only carries the gradient); report objectives with
// an entropy estimate instead (implicit/knn_entropy.hpp).
#pragma once

#include <torch/torch.h>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::implicit {

/// S = mean_b ⟨stopgrad(score_b), z_b⟩ for z and score of shape [B, D]; ∇_θ S = −∇_θ h(q_θ).
inline torch::Tensor entropy_gradient_surrogate(const torch::Tensor& z, const torch::Tensor& score) {
  constexpr const char* where = "entropy_gradient_surrogate";
  scorelift::detail::require(z.defined() && z.dim() == 2 && z.size(0) >= 1, where, "argument 'z' has shape ",
                             scorelift::detail::tensor_shape_string(z), " but [B, D] with B >= 1 was expected");
  scorelift::detail::require(score.defined() && score.sizes() == z.sizes(), where, "argument 'score' has shape ",
                             scorelift::detail::tensor_shape_string(score), " but z has shape ",
                             scorelift::detail::tensor_shape_string(z));
  scorelift::detail::require(torch::isfinite(score).all().item<bool>(), where, "argument 'score' of shape ",
                             scorelift::detail::tensor_shape_string(score), " contains NaN or Inf");
  return (score.detach() * z).sum(1).mean();
}

}  // namespace scorelift::implicit

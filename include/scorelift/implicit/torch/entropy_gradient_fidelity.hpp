// scorelift/implicit/torch/entropy_gradient_fidelity.hpp — how close the entropy gradient that an
// estimated score delivers is to the one the exact score delivers.
//
// For z = g_φ(x, ε) the surrogate S(ŝ) = mean_b ⟨stopgrad ŝ(z_b), z_b⟩ has ∇_φ S(s) = −∇_φ h(q_φ)
// when s is the true score (entropy_surrogate.hpp). The entropy gradient an estimator delivers is
//     g_est   = −∇_φ S(ŝ),       against      g_exact = −∇_φ S(s)
// on the *same* z (same ε), so the comparison isolates the score's error from the Monte-Carlo
// error of the surrogate. Over all parameters flattened into one vector:
//     cosine         = ⟨g_est, g_exact⟩ / (‖g_est‖ ‖g_exact‖)
//     relative_error = ‖g_est − g_exact‖ / ‖g_exact‖
// and, on the scores themselves (all B·D entries as one vector),
//     score_cosine   = ⟨ŝ, s⟩ / (‖ŝ‖ ‖s‖),
// which is negative when a lifted estimator's tracked sign κ points the wrong way (ŝ ≈ −s flips the
// whole entropy gradient), and small when ŝ has the right sign but the wrong shape: a score that
// ignores an anisotropic posterior's widths, ŝ = −(z − μ), has score_cosine → D / √(Σσ² Σσ⁻²).
// Both need an encoder whose score is known in closed form (a reparameterised Gaussian, a flow).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/implicit/torch/entropy_surrogate.hpp"

namespace scorelift::implicit {

struct entropy_gradient_fidelity_report {
  double cosine = 0.0;          // 1 when the estimated gradient points the exact way
  double relative_error = 0.0;  // ‖g_est − g_exact‖ / ‖g_exact‖; 0 when ŝ is the true score on z
  double exact_norm = 0.0;      // ‖g_exact‖, to tell a small relative error from a vanishing gradient
  double estimated_norm = 0.0;  // ‖g_est‖; below exact_norm means the estimator under-weights the entropy
  double score_cosine = 0.0;    // ⟨ŝ, s⟩ / (‖ŝ‖ ‖s‖) over the batch; −1 when the score's sign is flipped
};

namespace detail {

/// −∇_φ S(score) over `parameters`, flattened into one vector (zeros where a parameter is unused).
inline torch::Tensor entropy_gradient_vector(const torch::Tensor& z, const torch::Tensor& score,
                                             const std::vector<torch::Tensor>& parameters) {
  const auto grads = torch::autograd::grad({entropy_gradient_surrogate(z, score)}, parameters, {},
                                           /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
  std::vector<torch::Tensor> flat;
  flat.reserve(grads.size());
  for (std::size_t i = 0; i < grads.size(); ++i) {
    flat.push_back(grads[i].defined() ? -grads[i].reshape(-1) : torch::zeros({parameters[i].numel()}, parameters[i].options()));
  }
  return torch::cat(flat).to(torch::kFloat64);
}

/// ⟨a, b⟩ / (‖a‖ ‖b‖) over all entries, given the norms; 0 when either is zero (no direction:
/// orthogonal, not NaN).
inline double cosine(const torch::Tensor& a, const torch::Tensor& b, double norm_a, double norm_b) {
  const double norms = norm_a * norm_b;
  return norms > 0.0 ? (a * b).sum().item<double>() / norms : 0.0;
}

inline double cosine(const torch::Tensor& a, const torch::Tensor& b) {
  return cosine(a, b, a.norm().item<double>(), b.norm().item<double>());
}

}  // namespace detail

/// Compares the entropy gradients w.r.t. `parameters` delivered by `estimated_score` and
/// `exact_score` (both [B, D], evaluated at z [B, D], which must depend on the parameters).
/// The graph of z is retained, so the caller may still backpropagate through it.
inline entropy_gradient_fidelity_report entropy_gradient_fidelity(const torch::Tensor& z, const torch::Tensor& estimated_score,
                                                                  const torch::Tensor& exact_score,
                                                                  const std::vector<torch::Tensor>& parameters) {
  constexpr const char* where = "entropy_gradient_fidelity";
  scorelift::detail::require(!parameters.empty(), where, "argument 'parameters' is empty");
  for (const auto& p : parameters) {
    scorelift::detail::require(p.defined() && p.requires_grad(), where, "argument 'parameters' holds a tensor of shape ",
                               scorelift::detail::tensor_shape_string(p), " that does not require grad");
  }
  scorelift::detail::require(z.defined() && z.requires_grad(), where, "argument 'z' of shape ",
                             scorelift::detail::tensor_shape_string(z), " does not depend on the parameters");
  // entropy_gradient_surrogate checks the shapes and finiteness of z and both scores.
  const torch::Tensor g_est = detail::entropy_gradient_vector(z, estimated_score, parameters);
  const torch::Tensor g_exact = detail::entropy_gradient_vector(z, exact_score, parameters);
  entropy_gradient_fidelity_report report;
  report.exact_norm = g_exact.norm().item<double>();
  report.estimated_norm = g_est.norm().item<double>();
  scorelift::detail::require(report.exact_norm > 0.0, where,
                             "the exact entropy gradient (argument 'exact_score') is zero: z does not depend on the parameters "
                             "through the score's direction, so there is no reference to compare with");
  report.relative_error = (g_est - g_exact).norm().item<double>() / report.exact_norm;
  report.cosine = detail::cosine(g_est, g_exact, report.estimated_norm, report.exact_norm);
  report.score_cosine = detail::cosine(estimated_score.to(torch::kFloat64), exact_score.to(torch::kFloat64));
  return report;
}

}  // namespace scorelift::implicit

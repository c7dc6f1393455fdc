// scorelift/objectives/ism_dsm_comparison.hpp — ISM and DSM on one scale, with their batch variance
// (Artemev et al., "Comparing implicit and denoising score-matching objectives", DESIGN.md).
//
// Channel x̃ = αx + σε, DSM target t = s(x̃|x) = −ε/σ. Per sample,
//     DSM_b = ½‖f(x̃_b) − t_b‖²,   DSM_b − ½‖t_b‖² = −t_bᵀf(x̃_b) + ½‖f(x̃_b)‖² = (ε_b/σ)ᵀf(x̃_b) + ½‖f(x̃_b)‖²,
//     ISM_b = tr ∇f(x̃_b) + ½‖f(x̃_b)‖²                       (ISM on the noisy data),
// and the bias-corrected DSM has the same expectation as ISM (Tweedie + integration by parts),
// so J_DSM = J_ISM(p_σ) + E½‖ε‖²/σ² = J_ISM(p_σ) + D/(2σ²). What differs is the variance: the
// cross term (ε/σ)ᵀf has variance ∝ 1/σ², so DSM is noisy as σ → 0 and ISM is not.
//
// Each estimate is reported with the unbiased sample variance of its per-sample terms,
// s² = Σ_b (x_b − x̄)²/(B − 1) (two-pass, so no cancellation), and the standard error √(s²/B).
#pragma once

#include <cmath>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/detail/validate.hpp"

namespace scorelift {

/// A batch mean with its spread: `variance` is the unbiased per-sample variance, and
/// `standard_error` = √(variance / samples) the standard error of `mean`.
struct mean_estimate {
  double mean = 0.0;
  double variance = 0.0;
  double standard_error = 0.0;
  index_t samples = 0;
};

struct ism_dsm_comparison {
  mean_estimate dsm;              ///< bias-corrected DSM: mean of (ε/σ)ᵀf + ½‖f‖²
  mean_estimate ism;              ///< ISM on the noisy data: mean of tr ∇f + ½‖f‖²
  mean_estimate dsm_uncorrected;  ///< the usual DSM: mean of ½‖f − t‖²
};

namespace detail {

/// Mean and unbiased variance of a per-sample vector (B ≥ 2), computed in two passes.
template <Backend B>
mean_estimate sample_moments(const typename B::vector_type& x, const typename B::matrix_view& like) {
  const index_t n = B::size(x);
  mean_estimate out;
  out.samples = n;
  out.mean = B::sum(x, 0, n) / static_cast<double>(n);
  const typename B::vector_type centred = B::axpby(1.0, x, -out.mean, B::filled(n, 1.0, like));
  out.variance = B::sum(B::multiply(centred, centred), 0, n) / static_cast<double>(n - 1);
  out.standard_error = std::sqrt(out.variance / static_cast<double>(n));
  return out;
}

}  // namespace detail

/// ISM and bias-corrected DSM on the noisy batch: `f_noisy` = f(x̃) (B×D), `target` = −ε/σ (B×D),
/// `divergence` = tr ∇f(x̃) per sample (exact, or a Hutchinson estimate — which adds its own variance).
template <Backend B>
ism_dsm_comparison compare_ism_dsm(const typename B::matrix_view& f_noisy, const typename B::matrix_view& target,
                                   const typename B::vector_type& divergence) {
  constexpr const char* where = "compare_ism_dsm";
  detail::batch_extents extents;
  extents.batch = B::rows(f_noisy);
  detail::require(extents.batch >= 2 && B::cols(f_noisy) >= 1, where, "argument 'f_noisy' has shape ",
                  B::shape_string(f_noisy), " but a variance needs B >= 2 samples and D >= 1");
  detail::require(B::rows(target) == B::rows(f_noisy) && B::cols(target) == B::cols(f_noisy), where,
                  "argument 'target' has shape ", B::shape_string(target), " but 'f_noisy' has shape ",
                  B::shape_string(f_noisy));
  detail::require(static_cast<bool>(B::all_finite(f_noisy)), where,
                  "argument 'f_noisy' contains NaN or Inf (non-finite inputs are rejected)");
  detail::require(static_cast<bool>(B::all_finite(target)), where,
                  "argument 'target' contains NaN or Inf (non-finite inputs are rejected)");
  detail::validate_per_sample<B>(divergence, where, "divergence", extents);

  const index_t n = extents.batch;
  const auto norm_f = B::row_dot(f_noisy, f_noisy);
  const auto half_norm_f = B::axpby(0.5, norm_f, 0.0, norm_f);                    // ½‖f‖²
  const auto corrected = B::axpby(1.0, half_norm_f, -1.0, B::row_dot(target, f_noisy));  // ½‖f‖² − tᵀf
  // ½‖f − t‖² from the difference itself (not corrected + ½‖t‖², which cancels when f ≈ t).
  const auto ones = B::filled(n, 1.0, f_noisy);
  typename B::matrix_type difference = B::scaled_rows(ones, f_noisy);
  B::add_scaled_rows(difference, B::axpby(-1.0, ones, 0.0, ones), target);
  const auto norm_difference = B::row_dot(difference, difference);

  ism_dsm_comparison out;
  out.dsm = detail::sample_moments<B>(corrected, f_noisy);
  out.ism = detail::sample_moments<B>(B::axpby(1.0, half_norm_f, 1.0, divergence), f_noisy);
  out.dsm_uncorrected = detail::sample_moments<B>(B::axpby(0.5, norm_difference, 0.0, norm_difference), f_noisy);
  return out;
}

}  // namespace scorelift

// scorelift/diffusion/weighting.hpp — loss weights w(λ) over noise levels, and how a weight moves
// between the units a loss is written in. For one channel x̃ = α x + σ ε:
//   ‖x₀ − x̂₀‖² = (σ/α)² ‖ε − ε̂‖² = e^{−λ} ‖ε − ε̂‖²,      ‖s − ŝ‖² = ‖ε − ε̂‖² / σ²,
// so a weight w_ε on the ε-loss equals w_x0 = e^{λ} w_ε on the x₀-loss and w_s = σ² w_ε on the
// score (DSM) loss — the paper's eq. (18), w'(λ) = σ_λ² w(λ).
//   uniform in ε (iDDPM "simple" loss):  w_ε(λ) = 1
//   EDM (paper eq. 39):                  w_ε(λ) = (e^{−λ} + σ_d²)/σ_d²  ⇔  w_x0(σ) = (σ² + σ_d²)/(σ σ_d)²  with σ = e^{−λ/2}
#pragma once

#include <cmath>
#include <type_traits>

#include "scorelift/diffusion/noise_level.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion {

inline double uniform_epsilon_weight(double /*log_snr*/) { return 1.0; }

/// w_ε(λ) = (e^{−λ} + σ_d²)/σ_d²; finite for every finite λ, → 1 as λ → +∞. Generic over a scalar or a
/// tensor of log-SNRs (exp found by argument-dependent lookup: std::exp, torch's at::exp, ...).
/// For a scalar λ the weight is checked: e^{−λ} overflows for λ ≲ −709 (pure noise), refused rather than ∞.
template <class LogSnr>
LogSnr edm_epsilon_weight(const LogSnr& log_snr, double sigma_data = 0.5) {
  using std::exp;
  scorelift::detail::require(sigma_data > 0.0 && std::isfinite(sigma_data), "edm_epsilon_weight",
                             "argument 'sigma_data' is ", sigma_data, " but must be finite and > 0");
  const double sd2 = sigma_data * sigma_data;
  LogSnr weight((exp(-log_snr) + sd2) / sd2);
  if constexpr (std::is_arithmetic_v<LogSnr>)
    scorelift::detail::require(std::isfinite(weight), "edm_epsilon_weight", "argument 'log_snr' is ", log_snr,
                               ": the weight (e^-lambda + sigma_data²)/sigma_data² = ", weight, " is not finite");
  return weight;
}

namespace detail {
/// A loss weight enters as a positive finite number (0 would drop the term, a negative one flips it).
inline void require_weight(double weight, const char* where) {
  scorelift::detail::require(weight > 0.0 && std::isfinite(weight), where, "argument 'epsilon_weight' is ", weight,
                             " but must be finite and > 0");
}
}  // namespace detail

/// w_s = σ² w_ε: the same weighting on the DSM loss ½‖ŝ − s(x̃|x)‖².
inline double score_weight_from_epsilon_weight(double epsilon_weight, const noise_level& n) {
  detail::require_weight(epsilon_weight, "score_weight_from_epsilon_weight");
  const double weight = n.sigma * n.sigma * epsilon_weight;
  scorelift::detail::require(std::isfinite(weight) && n.sigma >= 0.0, "score_weight_from_epsilon_weight",
                             "sigma² × epsilon_weight = ", n.sigma, "² × ", epsilon_weight, " is not finite");
  return weight;
}
/// w_x0 = e^{λ} w_ε = (α/σ)² w_ε: the same weighting on the x₀-loss ‖x̂₀ − x₀‖²; infinite at σ = 0
/// (clean data), so σ = 0 is refused. (α/σ)² rather than α²/σ², which is ∞/∞ for huge α and σ.
inline double x0_weight_from_epsilon_weight(double epsilon_weight, const noise_level& n) {
  detail::require_weight(epsilon_weight, "x0_weight_from_epsilon_weight");
  scorelift::detail::require(n.sigma > 0.0 && n.alpha >= 0.0, "x0_weight_from_epsilon_weight", "noise level (alpha = ",
                             n.alpha, ", sigma = ", n.sigma, ") needs sigma > 0 and alpha >= 0: the x0 weight is (alpha/sigma)² w");
  const double ratio = n.alpha / n.sigma;
  const double weight = ratio * ratio * epsilon_weight;
  scorelift::detail::require(std::isfinite(weight), "x0_weight_from_epsilon_weight", "(alpha/sigma)² × epsilon_weight = (",
                             n.alpha, "/", n.sigma, ")² × ", epsilon_weight, " overflows");
  return weight;
}

}  // namespace scorelift::diffusion

// scorelift/diffusion/weighting.hpp — loss weights w(λ) over noise levels, and how a weight moves
// between the units a loss is written in. For one channel x̃ = α x + σ ε:
//   ‖x₀ − x̂₀‖² = (σ/α)² ‖ε − ε̂‖² = e^{−λ} ‖ε − ε̂‖²,      ‖s − ŝ‖² = ‖ε − ε̂‖² / σ²,
// so a weight w_ε on the ε-loss equals w_x0 = e^{λ} w_ε on the x₀-loss and w_s = σ² w_ε on the
// score (DSM) loss — the paper's eq. (18), w'(λ) = σ_λ² w(λ).
//   uniform in ε (iDDPM "simple" loss):  w_ε(λ) = 1
//   EDM (paper eq. 39):                  w_ε(λ) = (e^{−λ} + σ_d²)/σ_d²  ⇔  w_x0(σ) = (σ² + σ_d²)/(σ σ_d)²  with σ = e^{−λ/2}
#pragma once

#include <cmath>

#include "scorelift/diffusion/noise_level.hpp"

namespace scorelift::diffusion {

inline double uniform_epsilon_weight(double /*log_snr*/) { return 1.0; }

/// w_ε(λ) = (e^{−λ} + σ_d²)/σ_d²; finite for every finite λ, → 1 as λ → +∞. Generic over a scalar or a
/// tensor of log-SNRs (exp found by argument-dependent lookup: std::exp, torch's at::exp, ...).
template <class LogSnr>
LogSnr edm_epsilon_weight(const LogSnr& log_snr, double sigma_data = 0.5) {
  using std::exp;
  const double sd2 = sigma_data * sigma_data;
  return LogSnr((exp(-log_snr) + sd2) / sd2);
}

/// w_s = σ² w_ε: the same weighting on the DSM loss ½‖ŝ − s(x̃|x)‖².
inline double score_weight_from_epsilon_weight(double epsilon_weight, const noise_level& n) {
  return n.sigma * n.sigma * epsilon_weight;
}
/// w_x0 = e^{λ} w_ε = (α/σ)² w_ε: the same weighting on the x₀-loss ‖x̂₀ − x₀‖².
inline double x0_weight_from_epsilon_weight(double epsilon_weight, const noise_level& n) {
  const double snr = (n.alpha * n.alpha) / (n.sigma * n.sigma);
  return snr * epsilon_weight;
}

}  // namespace scorelift::diffusion

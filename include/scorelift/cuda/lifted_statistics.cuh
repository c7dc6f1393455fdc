// scorelift/cuda/lifted_statistics.cuh — what the fused lifted loss reads and writes, the batch sums
// its first pass reduces, and the host step that turns those sums into the value and the per-half
// gradient coefficients of its second pass. The passes themselves are in lifted_kernels.cuh.
//
// Notation of objectives/lifted.hpp: B samples, halves A = [0, ⌊B/2⌋) and B = the rest, L modes,
// f̃_{b,l} = κ_{l,b} f_{b,l}, weights w_b. Everything the loss needs is linear in the per-sample
// inner products p_{b,l} = ⟨t_b, f_{b,l}⟩, g_{b,lk} = ⟨f_{b,l}, f_{b,k}⟩ (k ≤ l), ‖t_b‖², so one pass
// can sum, over a half h, straight from partial dots over any piece of a row:
//     Σ_h a[l]    = Σ_{b∈h} w_b κ_{l,b} ⟨s_b, f_{b,l}⟩       (⟨s, f⟩ = ⟨t, f⟩, or −div_{b,l})
//     Σ_h G[l,k]  = Σ_{b∈h} w_b κ_{l,b} κ_{k,b} g_{b,lk}
//     Σ_h T       = Σ_{b∈h} w_b ‖t_b‖²                       (the distance form's E_h[w‖t‖²])
//     Σ alignment = Σ_b w_b (⟨s_b, f_{b,l}⟩ − Σ_{i<l} κ_{i,b} g_{b,li})   ( = w⟨r_l, f_l⟩ unsigned)
#pragma once

#include <cstddef>
#include <vector>

#include "scorelift/cuda/config.cuh"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/lifted.hpp"

namespace scorelift::fused {

/// Levels handled by the fused kernels. Each L is its own instantiation, unrolled over levels;
/// the paper's stacks use a few levels, and every extra L costs nvcc minutes (more levels: the
/// generic lifted_residual_loss).
inline constexpr int max_levels = 4;

/// Device pointers (memory of the execution policy's system); B×D row-major. A null sign means
/// κ = +1, a null weight w = 1; exactly one of `target` and `divergence` is used.
template <class Scalar>
struct lifted_inputs {
  index_t batch = 0;
  index_t dim = 0;
  int levels = 0;
  const Scalar* modes[max_levels] = {};
  const Scalar* target = nullptr;
  const Scalar* divergence[max_levels] = {};
  const Scalar* weights = nullptr;
  const Scalar* signs[max_levels] = {};
};

/// Where the gradients go (device pointers); a null `target` / `divergence` is not written.
template <class Scalar>
struct lifted_outputs {
  Scalar* modes[max_levels] = {};
  Scalar* target = nullptr;
  Scalar* divergence[max_levels] = {};
};

/// Position of (l, k), k ≤ l, in a packed lower triangle.
SCORELIFT_HOST_DEVICE constexpr int pair_index(int l, int k) { return l * (l + 1) / 2 + k; }

/// The first pass's sums (see the header comment), for a compile-time number of levels.
template <int Levels>
struct level_sums {
  static constexpr int pairs = Levels * (Levels + 1) / 2;
  double a[2][Levels];
  double gram[2][pairs];
  double target_sq[2];
  double alignment[Levels];
};

template <int Levels>
struct add_level_sums {
  SCORELIFT_HOST_DEVICE level_sums<Levels> operator()(level_sums<Levels> x, const level_sums<Levels>& y) const {
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < Levels; ++l) x.a[h][l] += y.a[h][l];
      for (int p = 0; p < level_sums<Levels>::pairs; ++p) x.gram[h][p] += y.gram[h][p];
      x.target_sq[h] += y.target_sq[h];
    }
    for (int l = 0; l < Levels; ++l) x.alignment[l] += y.alignment[l];
    return x;
  }
};

/// Per-half factors of the second pass, for a sample b in half h ("other" = the half b is not in),
/// with scale = dim_scale / L (dim_scale = 1/D² if asked, else 1):
///     γ_h[l] = −scale c_other[l] / n_h,   δ_h[l] = scale G_other[l,l] / n_h,   τ_h = dim_scale T_other / n_h
/// so that, with α = w_b κ_{l,b} γ_h[l], β = w_b κ²_{l,b} δ_h[l] and ρ_l = t − Σ_{i<l} f̃_i:
///     ∂value/∂f_{b,l} = α ρ_{b,l} + β f_{b,l},   ∂value/∂t_b = w_b τ_h t_b + Σ_l α f_{b,l},   ∂value/∂div_{b,l} = −α.
template <int Levels>
struct gradient_coefficients {
  double gamma[2][Levels];
  double delta[2][Levels];
  double tau[2];
};

/// Host side of the loss: sums → value, per-level values, sign-tracker alignments, coefficients.
struct lifted_evaluation {
  double value = 0.0;
  std::vector<double> level_values;
  std::vector<double> residual_alignment;
  std::vector<double> gamma[2];
  std::vector<double> delta[2];
  double tau[2] = {0.0, 0.0};
  /// False when a sum is NaN/Inf: some input was (or a square overflowed); nothing is written then.
  bool finite = true;

  template <int Levels>
  gradient_coefficients<Levels> coefficients() const {
    gradient_coefficients<Levels> out{};
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < Levels; ++l) {
        out.gamma[h][l] = gamma[h][static_cast<std::size_t>(l)];
        out.delta[h][l] = delta[h][static_cast<std::size_t>(l)];
      }
      out.tau[h] = tau[h];
    }
    return out;
  }
};

namespace detail {
inline bool is_finite(double x) { return x - x == 0.0; }
}  // namespace detail

/// The lifted loss of objectives/lifted.hpp from the first pass's sums:
///     a_h = Σ_h a / n_h,  G_h = Σ_h G / n_h,  c_h[l] = a_h[l] − Σ_{i<l} G_h[l,i],
///     L_l = dim_scale (−c_A[l] c_B[l] + ½ G_A[l,l] G_B[l,l] [+ ½ T_A T_B]),  value = mean_l L_l.
template <int Levels>
lifted_evaluation evaluate_lifted(const level_sums<Levels>& sums, index_t batch, index_t dim,
                                  const lifted_options& options) {
  const index_t half = batch / 2;
  const double n[2] = {static_cast<double>(half), static_cast<double>(batch - half)};
  const double dim_scale = options.divide_by_dim_squared ? 1.0 / (static_cast<double>(dim) * static_cast<double>(dim)) : 1.0;
  const double scale = dim_scale / Levels;
  const double t_mean[2] = {sums.target_sq[0] / n[0], sums.target_sq[1] / n[1]};
  const double distance_term = options.distance_form ? 0.5 * t_mean[0] * t_mean[1] : 0.0;

  lifted_evaluation out;
  out.finite = detail::is_finite(t_mean[0]) && detail::is_finite(t_mean[1]);
  for (int h = 0; h < 2; ++h) {
    out.gamma[h].resize(Levels);
    out.delta[h].resize(Levels);
    out.tau[h] = options.distance_form ? dim_scale * t_mean[1 - h] / n[h] : 0.0;
  }
  for (int l = 0; l < Levels; ++l) {
    double c[2];
    double g[2];
    for (int h = 0; h < 2; ++h) {
      double residual_gram = 0.0;  // Σ_{i<l} G_h[l,i]
      for (int i = 0; i < l; ++i) residual_gram += sums.gram[h][pair_index(l, i)];
      c[h] = (sums.a[h][l] - residual_gram) / n[h];
      g[h] = sums.gram[h][pair_index(l, l)] / n[h];
    }
    const double level_value = dim_scale * (-c[0] * c[1] + 0.5 * g[0] * g[1] + distance_term);
    out.finite = out.finite && detail::is_finite(level_value) && detail::is_finite(sums.alignment[l]);
    out.level_values.push_back(level_value);
    out.value += level_value / Levels;
    out.residual_alignment.push_back(sums.alignment[l] / static_cast<double>(batch));
    for (int h = 0; h < 2; ++h) {
      out.gamma[h][static_cast<std::size_t>(l)] = -scale * c[1 - h] / n[h];
      out.delta[h][static_cast<std::size_t>(l)] = scale * g[1 - h] / n[h];
    }
  }
  return out;
}

}  // namespace scorelift::fused

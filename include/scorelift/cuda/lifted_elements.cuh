// scorelift/cuda/lifted_elements.cuh — the per-element work of the fused lifted loss, shared by
// every driver of its two passes: Thrust (lifted_kernels.cuh, CPU or GPU), the hand-written CUDA
// kernels (lifted_cuda.cuh) and LibTorch's CPU thread pool (torch/fused_dispatch.hpp). Plain C++
// (host-device under nvcc); no Thrust, no CUDA runtime.
//
//   pass 1: sample_partials accumulates the partial dots of one sample over some of its elements
//           and files them, scaled by w_b κ, under the sample's half (level_sums);
//   pass 2: sample_gradient holds one sample's gradient coefficients and writes its gradient
//           elements, carrying the residual ρ_l = t − Σ_{i<l} f̃_i in a register.
// A row is cut into chunks (`chunking`) so that a driver has B × chunks independent work items.
#pragma once

#include <type_traits>

#include "scorelift/cuda/config.cuh"
#include "scorelift/cuda/lifted_statistics.cuh"
#include "scorelift/errors.hpp"

namespace scorelift::fused {

/// How a work item (b, c) walks row b: elements begin(c), begin(c) + step, ... < end(c).
struct chunking {
  index_t dim = 0;
  index_t chunks = 1;  // work items per row
  index_t stride = 0;  // chunk c starts at c·stride
  index_t step = 1;
  index_t span = 0;    // chunk c ends at min(D, c·stride + span)

  SCORELIFT_HOST_DEVICE index_t begin(index_t c) const { return c * stride; }
  SCORELIFT_HOST_DEVICE index_t end(index_t c) const { return c * stride + span < dim ? c * stride + span : dim; }

  /// Contiguous runs of `length` elements (CPU: one streaming, vectorisable loop per item).
  static chunking contiguous(index_t dim, index_t length) {
    return {dim, (dim + length - 1) / length, length, 1, length};
  }
  /// `lanes` interleaved items per row: item c reads c, c + lanes, ... (GPU: coalesced loads).
  static chunking interleaved(index_t dim, index_t lanes) {
    const index_t n = lanes < dim ? lanes : dim;
    return {dim, n, 1, n, dim};
  }
};

/// Calls visit(j) for j = begin, begin + step, ... < end; a literal unit-stride loop when step is 1,
/// so that the compiler vectorises it.
template <class Visit>
SCORELIFT_HOST_DEVICE void for_run(index_t begin, index_t end, index_t step, Visit&& visit) {
  if (step == 1) {
    for (index_t j = begin; j < end; ++j) visit(j);
  } else {
    for (index_t j = begin; j < end; j += step) visit(j);
  }
}

#ifndef __CUDA_ARCH__
/// 8 lanes of T as one GCC/Clang vector (spelled per type: the attribute cannot take a dependent type).
template <class T>
struct host_lanes;
template <>
struct host_lanes<float> {
  using type = float __attribute__((vector_size(8 * sizeof(float))));
};
template <>
struct host_lanes<double> {
  using type = double __attribute__((vector_size(8 * sizeof(double))));
};
#endif

/// The partial dots of one sample over some of its elements (pass 1's per-element work).
template <class Scalar, int Levels>
struct sample_partials {
  static constexpr int pairs = level_sums<Levels>::pairs;
  double p[Levels] = {};  // ⟨t, f_l⟩
  double g[pairs] = {};   // ⟨f_l, f_k⟩, k ≤ l
  double tt = 0.0;        // ‖t‖²

  /// Adds the elements begin, begin + step, ... < end of the row starting at `row`. Row pointers
  /// and sums live in locals and the target test is out of the loop (HasTarget), so the compiler
  /// keeps the sums in registers and vectorises a unit stride.
  template <bool HasTarget>
  SCORELIFT_HOST_DEVICE void add_run(const lifted_inputs<Scalar>& in, index_t row, index_t begin, index_t end,
                                     index_t step) {
    const Scalar* f_row[Levels];
    for (int l = 0; l < Levels; ++l) f_row[l] = in.modes[l] + row;
    const Scalar* t_row = HasTarget ? in.target + row : nullptr;
    double p_run[Levels] = {};
    double g_run[pairs] = {};
    double tt_run = 0.0;
#ifndef __CUDA_ARCH__
    if (step == 1) begin = add_lanes<HasTarget>(f_row, t_row, begin, end, p_run, g_run, tt_run);  // then the tail
#endif
    for_run(begin, end, step, [&](index_t j) {
      double f[Levels];
      for (int l = 0; l < Levels; ++l) f[l] = static_cast<double>(f_row[l][j]);
      if constexpr (HasTarget) {
        const double t = static_cast<double>(t_row[j]);
        tt_run += t * t;
        for (int l = 0; l < Levels; ++l) p_run[l] += t * f[l];
      }
      for (int l = 0; l < Levels; ++l)
        for (int k = 0; k <= l; ++k) g_run[pair_index(l, k)] += f[l] * f[k];
    });
    for (int l = 0; l < Levels; ++l) p[l] += p_run[l];
    for (int q = 0; q < pairs; ++q) g[q] += g_run[q];
    tt += tt_run;
  }

#ifndef __CUDA_ARCH__
  /// The host's unit-stride loop, on explicit 8-wide double vectors (GCC/Clang vector extensions: one
  /// AVX-512 register, two AVX or four SSE registers). One running sum per dot is a chain of dependent
  /// adds (~1.3 ns an element measured at D = 3072) that the compiler may not reorder without
  /// -ffast-math; eight lanes per dot make the adds independent. Left to the auto-vectoriser, the
  /// same lanes came out right for L = 1 only: for L ≥ 2 GCC 12 gathered the floats one by one and
  /// summed ‖t‖² in scalar code (the fused loss at L = 2, D = 3072 ran 3.7× its L = 1 time).
  /// Adds whole groups of 8 elements from `begin` and returns where the scalar tail starts. (GPU
  /// threads keep one sum each: lanes would cost registers there.)
  template <bool HasTarget>
  static index_t add_lanes(const Scalar* const (&f_row)[Levels], const Scalar* t_row, index_t begin, index_t end,
                           double (&p_run)[Levels], double (&g_run)[pairs], double& tt_run) {
    constexpr int lanes = 8;
    using wide = typename host_lanes<double>::type;
    using narrow = typename host_lanes<Scalar>::type;
    // Vectors pass by reference: returned by value they would change the ABI without AVX-512 (-Wpsabi).
    const auto load = [](wide& to, const Scalar* from) {
      narrow v;
      __builtin_memcpy(&v, from, sizeof v);  // unaligned: rows start anywhere
      to = __builtin_convertvector(v, wide);
    };
    wide p_lane[Levels] = {}, g_lane[pairs] = {}, tt_lane = {};
    index_t j = begin;
    for (; j + lanes <= end; j += lanes) {
      wide f[Levels];
      for (int l = 0; l < Levels; ++l) load(f[l], f_row[l] + j);
      if constexpr (HasTarget) {
        wide t;
        load(t, t_row + j);
        tt_lane += t * t;
        for (int l = 0; l < Levels; ++l) p_lane[l] += t * f[l];
      }
      for (int l = 0; l < Levels; ++l)
        for (int k = 0; k <= l; ++k) g_lane[pair_index(l, k)] += f[l] * f[k];
    }
    for (int v = 0; v < lanes; ++v) {
      for (int l = 0; l < Levels; ++l) p_run[l] += p_lane[l][v];
      for (int q = 0; q < pairs; ++q) g_run[q] += g_lane[q][v];
      tt_run += tt_lane[v];
    }
    return j;
  }
#endif

  /// add_run with the target test made once.
  SCORELIFT_HOST_DEVICE void add(const lifted_inputs<Scalar>& in, index_t row, index_t begin, index_t end,
                                 index_t step) {
    if (in.target != nullptr) {
      add_run<true>(in, row, begin, end, step);
    } else {
      add_run<false>(in, row, begin, end, step);
    }
  }

  /// The partials scaled by w_b κ and filed under sample b's half. ⟨s, f_l⟩ = −div_l is a
  /// per-sample term: only the piece flagged `first` of each row adds it.
  SCORELIFT_HOST_DEVICE level_sums<Levels> filed(const lifted_inputs<Scalar>& in, index_t b, bool first) const {
    level_sums<Levels> out{};
    const int h = b < in.batch / 2 ? 0 : 1;
    const double w = in.weights != nullptr ? static_cast<double>(in.weights[b]) : 1.0;
    double kappa[Levels];
    for (int l = 0; l < Levels; ++l) kappa[l] = in.signs[l] != nullptr ? static_cast<double>(in.signs[l][b]) : 1.0;
    for (int l = 0; l < Levels; ++l) {
      const double s_dot_f = in.target == nullptr && first ? -static_cast<double>(in.divergence[l][b]) : p[l];
      double residual_dot_f = s_dot_f;  // ⟨r_l, f_l⟩ = ⟨s, f_l⟩ − Σ_{i<l} κ_i ⟨f_i, f_l⟩
      for (int i = 0; i < l; ++i) residual_dot_f -= kappa[i] * g[pair_index(l, i)];
      out.alignment[l] = w * residual_dot_f;
      out.a[h][l] = w * kappa[l] * s_dot_f;
      for (int k = 0; k <= l; ++k) out.gram[h][pair_index(l, k)] = w * kappa[l] * kappa[k] * g[pair_index(l, k)];
    }
    out.target_sq[h] = w * tt;
    return out;
  }
};

/// Sample b's gradient coefficients (gradient_coefficients in lifted_statistics.cuh) and pass 2's
/// per-element work.
template <class Scalar, int Levels>
struct sample_gradient {
  Scalar kappa[Levels];
  Scalar alpha[Levels];  // w κ γ_h: coefficient of ρ_l in ∂/∂f_l and of f_l in ∂/∂t
  Scalar beta[Levels];   // w κ² δ_h: coefficient of f_l in ∂/∂f_l
  Scalar target_factor;  // w τ_h: coefficient of t in ∂/∂t (distance form)

  SCORELIFT_HOST_DEVICE sample_gradient(const lifted_inputs<Scalar>& in, const gradient_coefficients<Levels>& coef,
                                        index_t b) {
    const int h = b < in.batch / 2 ? 0 : 1;
    const double w = in.weights != nullptr ? static_cast<double>(in.weights[b]) : 1.0;
    for (int l = 0; l < Levels; ++l) {
      const double k = in.signs[l] != nullptr ? static_cast<double>(in.signs[l][b]) : 1.0;
      kappa[l] = static_cast<Scalar>(k);
      alpha[l] = static_cast<Scalar>(w * k * coef.gamma[h][l]);
      beta[l] = static_cast<Scalar>(w * k * k * coef.delta[h][l]);
    }
    target_factor = static_cast<Scalar>(w * coef.tau[h]);
  }

  /// ∂value/∂div_{b,l} = −α (once per sample).
  SCORELIFT_HOST_DEVICE void write_divergence(const lifted_outputs<Scalar>& out, index_t b) const {
    for (int l = 0; l < Levels; ++l)
      if (out.divergence[l] != nullptr) out.divergence[l][b] = -alpha[l];
  }

  /// Writes the gradient elements begin, begin + step, ... < end of the row starting at `row`
  /// (row pointers in locals: the stores cannot be taken to move them).
  SCORELIFT_HOST_DEVICE void write_run(const lifted_inputs<Scalar>& in, const lifted_outputs<Scalar>& out, index_t row,
                                       index_t begin, index_t end, index_t step) const {
    const Scalar* f_row[Levels];
    Scalar* grad_row[Levels];
    for (int l = 0; l < Levels; ++l) {
      f_row[l] = in.modes[l] + row;
      grad_row[l] = out.modes[l] + row;
    }
    const Scalar* t_row = in.target != nullptr ? in.target + row : nullptr;
    Scalar* grad_t_row = out.target != nullptr ? out.target + row : nullptr;
#ifndef __CUDA_ARCH__
    if (step == 1) begin = write_lanes(f_row, grad_row, t_row, grad_t_row, begin, end);  // then the tail
#endif
    for_run(begin, end, step, [&](index_t j) {
      Scalar rho = t_row != nullptr ? t_row[j] : Scalar(0);
      Scalar grad_t = target_factor * rho;
      for (int l = 0; l < Levels; ++l) {
        const Scalar f = f_row[l][j];
        grad_row[l][j] = alpha[l] * rho + beta[l] * f;
        grad_t += alpha[l] * f;
        rho -= kappa[l] * f;  // ρ_{l+1} = ρ_l − κ_l f_l
      }
      if (grad_t_row != nullptr) grad_t_row[j] = grad_t;
    });
  }

#ifndef __CUDA_ARCH__
  /// write_run's loop on the host, 8 elements at a time in explicit vectors (see add_lanes): with
  /// 2L + 2 row pointers the auto-vectoriser gives up on its alias checks, and the scalar loop was
  /// most of the fused loss's time at L = 3. Same operations per element, in the same order.
  /// Returns where the scalar tail starts.
  index_t write_lanes(const Scalar* const (&f_row)[Levels], Scalar* const (&grad_row)[Levels], const Scalar* t_row,
                      Scalar* grad_t_row, index_t begin, index_t end) const {
    constexpr int lanes = 8;
    using lane = typename host_lanes<Scalar>::type;
    index_t j = begin;
    for (; j + lanes <= end; j += lanes) {
      lane rho = {};
      if (t_row != nullptr) __builtin_memcpy(&rho, t_row + j, sizeof rho);
      lane grad_t = target_factor * rho;
      for (int l = 0; l < Levels; ++l) {
        lane f;
        __builtin_memcpy(&f, f_row[l] + j, sizeof f);
        const lane grad = alpha[l] * rho + beta[l] * f;
        __builtin_memcpy(grad_row[l] + j, &grad, sizeof grad);
        grad_t += alpha[l] * f;
        rho -= kappa[l] * f;  // ρ_{l+1} = ρ_l − κ_l f_l
      }
      if (grad_t_row != nullptr) __builtin_memcpy(grad_t_row + j, &grad_t, sizeof grad_t);
    }
    return j;
  }
#endif
};

/// Pass 1 for work item (b, c) ↦ its sums (a Thrust functor; the other drivers call it too).
template <class Scalar, int Levels>
struct chunk_statistics {
  lifted_inputs<Scalar> in;
  chunking ch;

  SCORELIFT_HOST_DEVICE level_sums<Levels> operator()(index_t item) const {
    const index_t b = item / ch.chunks;
    const index_t c = item % ch.chunks;
    sample_partials<Scalar, Levels> partials;
    partials.add(in, b * in.dim, ch.begin(c), ch.end(c), ch.step);
    return partials.filed(in, b, c == 0);
  }
};

/// Pass 2 for work item (b, c): writes its gradient elements.
template <class Scalar, int Levels>
struct chunk_gradients {
  lifted_inputs<Scalar> in;
  lifted_outputs<Scalar> out;
  chunking ch;
  gradient_coefficients<Levels> coef;

  SCORELIFT_HOST_DEVICE void operator()(index_t item) const {
    const index_t b = item / ch.chunks;
    const index_t c = item % ch.chunks;
    const sample_gradient<Scalar, Levels> sample(in, coef, b);
    if (c == 0) sample.write_divergence(out, b);
    sample.write_run(in, out, b * in.dim, ch.begin(c), ch.end(c), ch.step);
  }
};

namespace detail {

/// Runs visit(std::integral_constant<int, L>{}) for the runtime L: each L is unrolled separately.
template <class Visit>
decltype(auto) with_levels(int levels, Visit&& visit) {
  static_assert(max_levels == 4, "with_levels lists the cases 1..max_levels");
  scorelift::detail::require(levels >= 1 && levels <= max_levels, "fused::lifted_loss", "argument 'modes' has ",
                             levels, " entries but the fused kernels handle L = 1..", max_levels);
  switch (levels) {
    case 1: return visit(std::integral_constant<int, 1>{});
    case 2: return visit(std::integral_constant<int, 2>{});
    case 3: return visit(std::integral_constant<int, 3>{});
    default: return visit(std::integral_constant<int, 4>{});
  }
}

}  // namespace detail

}  // namespace scorelift::fused

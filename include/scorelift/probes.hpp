// scorelift/probes.hpp — Hutchinson probe distributions and the per-probe bookkeeping of sliced
// score matching.
//
// Slicing replaces tr ∇ₓf by E_v[vᵀ ∇ₓf v], which is exact in expectation whenever E[v vᵀ] = I:
//   * rademacher: entries ±1 (the minimum-variance choice for a fixed Jacobian among probes
//                 with i.i.d. entries; a √D-sphere probe can do better on some Jacobians);
//   * gaussian:   entries N(0, 1);
//   * sphere:     uniform on the sphere of radius √D (v = √D g/‖g‖, g Gaussian), so ‖v‖² = D exactly.
// Beware: a *unit*-sphere probe has E[v vᵀ] = I/D and makes the sliced loss D× smaller — the
// radius √D here is what keeps all three on the same scale as the exact trace.
//
// Layout: M probes per sample are M matrices of shape B×D (probe m of sample b is row b of the
// m-th matrix), so per-probe quantities vᵀf and vᵀ∇f v are M vectors of length B each.
#pragma once

#include <cmath>
#include <cstddef>
#include <string_view>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/detail/checked_arithmetic.hpp"
#include "scorelift/errors.hpp"

namespace scorelift {

enum class probe_kind { rademacher, gaussian, sphere };

/// "rademacher", "gaussian", "sphere" — for tables and command lines.
inline std::string_view probe_name(probe_kind kind) {
  switch (kind) {
    case probe_kind::rademacher: return "rademacher";
    case probe_kind::gaussian: return "gaussian";
    case probe_kind::sphere: return "sphere";
    default: break;  // a value cast from an integer outside the enumeration
  }
  detail::fail("probe_name", "argument 'kind' is ", static_cast<int>(kind), " which is not a probe_kind");
}

/// The probe kind called `name` (the inverse of probe_name).
inline probe_kind parse_probe_kind(std::string_view name) {
  for (probe_kind kind : {probe_kind::rademacher, probe_kind::gaussian, probe_kind::sphere})
    if (probe_name(kind) == name) return kind;
  detail::fail("parse_probe_kind", "argument 'name' is '", name, "' but must be rademacher, gaussian or sphere");
}

/// Whether backend B can draw probes of `kind`: every kind but the sphere needs only a Backend; the
/// sphere needs a HostVectorBackend (one square root per row on the host). Usable in a constant
/// expression, e.g. `static_assert(draws_probe<B>(probe_kind::sphere))`.
template <Backend B>
constexpr bool draws_probe(probe_kind kind) noexcept {
  return kind != probe_kind::sphere || HostVectorBackend<B>;
}

namespace detail {
/// The argument checks every draw shares: M >= 1, B, D >= 1 and M·B·D representable.
inline void check_probe_shape(index_t probes, index_t batch, index_t dim, const char* where) {
  detail::require(probes >= 1, where, "argument 'probes' is ", probes, " but at least one probe per sample is needed");
  detail::require(batch >= 1 && dim >= 1, where, "the probe shape [", batch, ", ", dim, "] must have B >= 1 and D >= 1");
  // M·B·D values are drawn: refuse a count that wraps before a backend sizes a buffer with it.
  detail::checked_multiply(probes, detail::checked_multiply(batch, dim, where, "batch × dim"), where,
                           "probes × batch × dim");
}

/// One batch×dim sphere probe: v_b = √D g_b/‖g_b‖ with g Gaussian (a zero row stays zero).
template <HostVectorBackend B>
typename B::matrix_type sphere_probe(index_t batch, index_t dim, typename B::generator_type& gen,
                                     const typename B::matrix_view& like) {
  const typename B::matrix_type g = B::gaussian(batch, dim, gen, like);
  std::vector<double> radius_over_norm = B::vector_to_host(B::row_dot(g, g));
  // A Gaussian row is zero with probability 0; redraw-free, but never divide by zero.
  for (double& x : radius_over_norm) x = x > 0.0 ? std::sqrt(static_cast<double>(dim) / x) : 0.0;
  return B::scaled_rows(B::vector_from_host(radius_over_norm, like), g);
}
}  // namespace detail

/// M probe matrices of shape batch×dim with E[v vᵀ] = I, drawn from `gen` in this order: probe 0,
/// probe 1, …, each row-major; `like` fixes the dtype/device. The kind is a run-time value here, so
/// probe_kind::sphere on a backend that is not a HostVectorBackend is refused at run time (an
/// invalid_argument naming HostVectorBackend); `draws_probe<B>(kind)` says so beforehand, and
/// `draw_probes<kind, B>(…)` below checks it at compile time.
template <Backend B>
std::vector<typename B::matrix_type> draw_probes(probe_kind kind, index_t probes, index_t batch, index_t dim,
                                                 typename B::generator_type& gen, const typename B::matrix_view& like) {
  constexpr const char* where = "draw_probes";
  detail::check_probe_shape(probes, batch, dim, where);
  std::vector<typename B::matrix_type> out;
  out.reserve(static_cast<std::size_t>(probes));
  for (index_t m = 0; m < probes; ++m) {
    switch (kind) {
      case probe_kind::rademacher: out.push_back(B::rademacher(batch, dim, gen, like)); break;
      case probe_kind::gaussian: out.push_back(B::gaussian(batch, dim, gen, like)); break;
      case probe_kind::sphere: {
        if constexpr (HostVectorBackend<B>) {
          out.push_back(detail::sphere_probe<B>(batch, dim, gen, like));
        } else {
          detail::fail(where, "sphere probes need a backend with vector_from_host/vector_to_host (HostVectorBackend); "
                              "draw_probes<probe_kind::sphere, B> checks this at compile time");
        }
        break;
      }
      default: detail::fail(where, "argument 'kind' is ", static_cast<int>(kind), " which is not a probe_kind");
    }
  }
  return out;
}

/// draw_probes with the kind fixed at compile time: `draw_probes<probe_kind::rademacher, B>(M, B, D,
/// gen, like)` on any Backend, and `draw_probes<probe_kind::sphere, B>(…)`, which does not compile
/// unless B is a HostVectorBackend. Both draw exactly what draw_probes<B>(Kind, …) draws from the
/// same generator.
template <probe_kind Kind, Backend B>
  requires(Kind != probe_kind::sphere)
std::vector<typename B::matrix_type> draw_probes(index_t probes, index_t batch, index_t dim,
                                                 typename B::generator_type& gen, const typename B::matrix_view& like) {
  return draw_probes<B>(Kind, probes, batch, dim, gen, like);
}
template <probe_kind Kind, HostVectorBackend B>
  requires(Kind == probe_kind::sphere)
std::vector<typename B::matrix_type> draw_probes(index_t probes, index_t batch, index_t dim,
                                                 typename B::generator_type& gen, const typename B::matrix_view& like) {
  return draw_probes<B>(Kind, probes, batch, dim, gen, like);
}

/// p_m = ⟨v_m, f⟩ per sample: the projections vᵀf of sliced score matching, one vector per probe.
template <Backend B>
std::vector<typename B::vector_type> probe_projections(const std::vector<typename B::matrix_type>& probes,
                                                       const typename B::matrix_view& f) {
  std::vector<typename B::vector_type> out;
  out.reserve(probes.size());
  for (std::size_t m = 0; m < probes.size(); ++m) {
    detail::require(B::rows(probes[m]) == B::rows(f) && B::cols(probes[m]) == B::cols(f), "probe_projections",
                    "argument 'probes[", m, "]' has shape ", B::shape_string(probes[m]), " but 'f' has shape ",
                    B::shape_string(f));
    out.push_back(B::row_dot(probes[m], f));
  }
  return out;
}

/// (1/M) Σ_m x_m: a per-sample average over the M probes (e.g. the Hutchinson trace estimate
/// that score_batch::divergence expects).
template <Backend B>
typename B::vector_type average_over_probes(const std::vector<typename B::vector_type>& per_probe) {
  constexpr const char* where = "average_over_probes";
  detail::require(!per_probe.empty(), where, "argument 'per_probe' is empty (M = 0)");
  const double inverse = 1.0 / static_cast<double>(per_probe.size());
  typename B::vector_type mean = B::axpby(inverse, per_probe.front(), 0.0, per_probe.front());
  for (std::size_t m = 1; m < per_probe.size(); ++m) {
    detail::require(B::size(per_probe[m]) == B::size(mean), where, "argument 'per_probe[", m, "]' has length ",
                    B::size(per_probe[m]), " but per_probe[0] has length ", B::size(mean));
    mean = B::axpby(1.0, mean, inverse, per_probe[m]);
  }
  return mean;
}

}  // namespace scorelift

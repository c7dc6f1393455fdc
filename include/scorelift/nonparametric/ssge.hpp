// scorelift/nonparametric/ssge.hpp — the spectral Stein gradient estimator of Shi, Sun & Zhu (2018).
//
// Eigenpairs K uⱼ = μⱼ uⱼ of the N×N Gram matrix give Nyström eigenfunctions of the kernel,
//   ψⱼ(x) = (√N/μⱼ) Σₘ uⱼₘ k(x, xₘ),
// and Stein's identity with test functions ψⱼ gives the coefficients of the score in that basis:
//   βⱼ = −(1/N) Σₘ ∇ψⱼ(xₘ),   ŝ(x) = Σⱼ₌₁..J βⱼ ψⱼ(x).
// With Σₘ ∇ₓk(xₘ, xₘ') = −N ζ̂(xₘ') this collapses to one kernel expansion (α = 0):
//   ŝ(x) = Σₘ k(x, xₘ) wₘ,   W = N U_J M_J⁻² U_Jᵀ ζ̂(X),
// i.e. spectral cut-off regularisation of L̂ = K/N (Zhou et al. 2020): at the samples ŝ = N U_J M_J⁻¹ U_Jᵀ ζ̂.
// The cut-off keeps the J largest eigenvalues, chosen by a relative or absolute threshold, a kept
// fraction, or J itself (spectral_cutoff).
//
// Curl-free kernels (Zhou et al. 2020, §4): the same with the ND×ND Gram matrix K (curl_free_kernel.hpp,
// entry (iD + a, jD + b) = K(xᵢ, xⱼ)ₐᵦ) and ζ̂(X) flattened to ND. Its eigenvectors uⱼ ∈ R^ND give
// vector-valued Nyström eigenfunctions ψⱼ(x) = (√N/μⱼ) Σₘ K(x, xₘ) uⱼₘ (uⱼₘ the D entries of sample m),
// Stein's identity E[sᵀψⱼ] = −E[div ψⱼ] gives βⱼ = −(1/N) Σₘ div ψⱼ(xₘ) = (√N/μⱼ) uⱼᵀζ̂(X) (since
// K(x, y) = K(y, x)ᵀ, Σₘ div_x[K(x, xₘ)u]|ₓ₌ₓₘ' is the divergence in ζ̂), and ŝ = Σⱼ βⱼψⱼ is again
// ŝ(x) = Σₘ K(x, xₘ) wₘ with W = N U_J M_J⁻² U_Jᵀ ζ̂(X) — now J of N·D eigenpairs, and ŝ = ∇E with E the
// energy of kernel_expansion.hpp (α = 0). The eigensolvers work on N·D: Krylov from N·D ≥ 256 on, at
// O((ND)²) a product; the dense reference at O((ND)³).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "scorelift/detail/whole_as_written.hpp"
#include "scorelift/nonparametric/kernel_expansion.hpp"
#include "scorelift/nonparametric/largest_eigenpairs.hpp"

namespace scorelift::nonparametric {

/// Which eigenpairs of the Gram matrix K SSGE keeps (eigenvalues μ₁ ≥ μ₂ ≥ … of K itself, not of K/N).
/// K is N×N for a diagonal kernel and ND×ND for a curl-free one; "N" below is then N·D.
template <class Scalar>
struct spectral_cutoff {
  enum class rule { relative_threshold, kept_fraction, absolute_threshold, kept_count };
  rule kind = rule::relative_threshold;
  Scalar value = Scalar(0.01);  ///< τ or f (the threshold and fraction rules)
  index_t count = 0;            ///< J (kept_count)

  /// Keep eigenvalues μⱼ ≥ τ · μ_max, τ ∈ (0, 1].
  static spectral_cutoff threshold(Scalar tau) { return {rule::relative_threshold, tau, 0}; }
  /// Keep the ⌈f·N⌉ largest eigenvalues, f ∈ (0, 1].
  static spectral_cutoff fraction(Scalar f) { return {rule::kept_fraction, f, 0}; }
  /// Keep eigenvalues μⱼ ≥ τ, τ > 0 (at least the largest must pass).
  static spectral_cutoff absolute(Scalar tau) { return {rule::absolute_threshold, tau, 0}; }
  /// Keep exactly the J largest eigenvalues, 1 ≤ J ≤ N.
  static spectral_cutoff exactly(index_t j) { return {rule::kept_count, Scalar(0), j}; }
};

/// How SSGE finds its J eigenpairs: `automatic` uses block Krylov (largest_eigenpairs.hpp, O(N²m) for a
/// basis of m ≈ 8 blocks when the kept eigenvalues are separated from the rest) when N ≥ 16·krylov_block,
/// and falls back to the dense solver if the basis would pass N/2 columns; `dense` always decomposes the whole Gram matrix (O(N³), the reference); `krylov` is
/// `automatic` without the size test (tests use it to compare the two on small N).
enum class ssge_eigensolver { automatic, krylov, dense };

template <matrix_kernel Kernel = diagonal_gaussian<double>>
class ssge_estimator : public detail::fitted_expansion<Kernel> {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;

  /// Columns per Krylov block (measured fastest of 8..32 at N = 500..2000, D = 16, where J = 17).
  static constexpr index_t krylov_block = 16;

  explicit ssge_estimator(Kernel kernel = {}, spectral_cutoff<scalar_type> cutoff = {},
                          ssge_eigensolver eigensolver = ssge_eigensolver::automatic)
      : kernel_(kernel), cutoff_(cutoff), eigensolver_(eigensolver) {}

  ssge_estimator& fit(const view_type& samples) {
    constexpr const char* where = "ssge_estimator::fit";
    detail::require_samples<scalar_type>(samples, where);
    using rule = typename spectral_cutoff<scalar_type>::rule;
    scorelift::detail::require(eigensolver_ == ssge_eigensolver::automatic || eigensolver_ == ssge_eigensolver::krylov ||
                                   eigensolver_ == ssge_eigensolver::dense,
                               where, "eigensolver = ", static_cast<int>(eigensolver_), " which is not an ssge_eigensolver");
    const index_t n = samples.rows(), d = samples.cols();
    // The order of the Gram matrix: N, or N·D coupled unknowns for a curl-free kernel.
    const index_t order = Kernel::is_curl_free ? n * d : n;
    switch (cutoff_.kind) {
      case rule::relative_threshold:
      case rule::kept_fraction:
        scorelift::detail::require(cutoff_.value > 0 && cutoff_.value <= 1, where,
                                   cutoff_.kind == rule::kept_fraction ? "kept fraction f = " : "threshold tau = ",
                                   cutoff_.value, " but must lie in (0, 1]");
        break;
      case rule::absolute_threshold:
        scorelift::detail::require(cutoff_.value > 0 && std::isfinite(cutoff_.value), where, "absolute threshold tau = ",
                                   cutoff_.value, " but must be positive and finite");
        break;
      case rule::kept_count:
        scorelift::detail::require(cutoff_.count >= 1 && cutoff_.count <= order, where, "kept count J = ", cutoff_.count,
                                   Kernel::is_curl_free ? " but must lie in [1, N·D] with N·D = " : " but must lie in [1, N] with N = ",
                                   order, Kernel::is_curl_free ? " (curl-free kernel: N·D eigenpairs)" : " samples");
        break;
      default:
        scorelift::detail::fail(where, "cut-off rule ", static_cast<int>(cutoff_.kind), " is not a spectral_cutoff rule");
    }
    // The threshold rules choose J from the spectrum; the others fix it up front.
    const bool threshold = cutoff_.kind == rule::relative_threshold || cutoff_.kind == rule::absolute_threshold;
    const Kernel kernel = with_resolved_bandwidth(kernel_, samples, where);
    matrix_type x = samples;
    const auto on_samples = kernel.make_block(x, x);
    // K is symmetric: its row-major storage is also column-major. The curl-free one is made block by block
    // from A and B, whose entries (i, j) and (j, i) come from different tiles of S and may differ by a
    // rounding: averaged with its transpose, so that the eigensolvers see one symmetric matrix.
    matrix_type curl_free_gram;
    const scalar_type* gram = nullptr;
    if constexpr (Kernel::is_curl_free) {
      curl_free_gram = on_samples.dense();
      curl_free_gram = (scalar_type(0.5) * (curl_free_gram + curl_free_gram.transpose())).eval();
      gram = curl_free_gram.data();
    } else {
      gram = on_samples.dense().data();
    }
    const eigenpairs<scalar_type> top = largest_eigenpairs(
        Eigen::Map<const detail::col_matrix<scalar_type>>(gram, order, order), threshold, where);
    const auto& mu_kept = top.values;  // descending
    const index_t kept = mu_kept.size();
    const scalar_type mu_max = mu_kept(0);
    scorelift::detail::require(cutoff_.kind != rule::absolute_threshold || mu_max >= cutoff_.value, where,
                               "absolute threshold tau = ", cutoff_.value, " is above the largest eigenvalue ", mu_max,
                               " of the Gram matrix: no eigenpair would be kept");
    // Λ_J⁻² blows up for eigenvalues at rounding level: refuse rather than return noise.
    const scalar_type floor = static_cast<scalar_type>(order) * std::numeric_limits<scalar_type>::epsilon() * mu_max;
    scorelift::detail::require(mu_kept.minCoeff() > floor, where, "the cut-off keeps ", kept,
                               " eigenvalues down to ", mu_kept.minCoeff(), ", below rounding level ", floor,
                               " (largest ", mu_max, "): the Gram matrix of 'samples' (shape ",
                               scorelift::detail::shape_string({n, x.cols()}),
                               ") is singular there; keep fewer eigenvalues");
    const auto& u = top.vectors;
    const matrix_type zeta = detail::stein_target(on_samples, n);
    // W = N U_J M_J⁻² U_Jᵀ ζ̂(X), with ζ̂(X) and W as N×D (diagonal: D columns sharing U) or flattened to
    // ND×1 (curl-free: row-major, the order of K's rows)
    const index_t columns = Kernel::is_curl_free ? 1 : d;
    const Eigen::Map<const matrix_type> zeta_columns(zeta.data(), order, columns);
    const detail::col_matrix<scalar_type> projected =
        (static_cast<scalar_type>(n) * mu_kept.array().square().inverse()).matrix().asDiagonal() *
        (u.transpose() * zeta_columns);
    const matrix_type w_columns = u * projected;
    this->keep(kernel, std::move(x), scalar_type(0), matrix_type(),
               matrix_type(Eigen::Map<const matrix_type>(w_columns.data(), n, d)), where);
    kept_ = kept;
    return *this;
  }

  /// J, the number of eigenpairs the last fit kept (of N, or N·D for a curl-free kernel).
  index_t kept_eigenpairs() const { return kept_; }

 private:
  /// The J largest eigenpairs of the (N×N or ND×ND) Gram matrix, J from the cut-off rule.
  eigenpairs<scalar_type> largest_eigenpairs(const Eigen::Ref<const detail::col_matrix<scalar_type>>& gram, bool threshold,
                                          const char* where) const {
    const index_t n = gram.rows();
    using rule = typename spectral_cutoff<scalar_type>::rule;
    const auto wanted = [&](const column_vector<scalar_type>& mu) -> index_t {  // μ descending
      index_t j = 0;
      switch (cutoff_.kind) {
        case rule::relative_threshold: j = (mu.array() >= cutoff_.value * mu(0)).count(); break;
        case rule::absolute_threshold: j = (mu.array() >= cutoff_.value).count(); break;
        case rule::kept_fraction: j = ceil_of_fraction(cutoff_.value, n); break;
        case rule::kept_count: j = cutoff_.count; break;
        default: scorelift::detail::fail(where, "cut-off rule ", static_cast<int>(cutoff_.kind), " is not a spectral_cutoff rule");
      }
      return std::clamp<index_t>(j, 1, n);
    };
    const index_t max_basis = eigensolver_ == ssge_eigensolver::krylov ? n : std::max<index_t>(n / 2, krylov_block);
    const bool krylov = eigensolver_ == ssge_eigensolver::krylov ||
                        (eigensolver_ == ssge_eigensolver::automatic && n >= 16 * krylov_block);
    // A kept fraction or count fixes J up front: skip Krylov when J + 1 pairs cannot fit in the basis.
    if (krylov && (threshold || wanted(column_vector<scalar_type>::Ones(1)) < max_basis)) {
      // ε^(3/4) relative residual (2·10⁻¹² in double): well above the Rayleigh–Ritz floor (~√m·ε), and
      // eigenvectors then agree with the dense solver's to ~residual / gap.
      const auto tolerance = std::pow(std::numeric_limits<scalar_type>::epsilon(), scalar_type(0.75));
      if (auto top = detail::krylov_eigenpairs<scalar_type>(gram, wanted, krylov_block, max_basis, tolerance)) return *top;
    }
    auto all = detail::dense_eigenpairs<scalar_type>(gram);
    scorelift::detail::require(all.has_value(), where, "the eigensolver did not converge");
    const index_t j = wanted(all->values);
    return {all->values.head(j), all->vectors.leftCols(j)};
  }

  /// ⌈f·N⌉ for the fraction the user wrote: f is a binary approximation of a decimal, so f·N may land a
  /// few ulps above a whole number it means (0.07 · 100 = 7.000000000000001 in double) — such a product
  /// is that whole number, not the next one. Products more than 4 ulps from a whole number round up.
  static index_t ceil_of_fraction(scalar_type f, index_t n) {
    const double product = static_cast<double>(f) * static_cast<double>(n);
    const auto whole =
        scorelift::detail::whole_as_written(product, static_cast<double>(std::numeric_limits<scalar_type>::epsilon()));
    return static_cast<index_t>(whole ? *whole : std::ceil(product));
  }

  Kernel kernel_;
  spectral_cutoff<scalar_type> cutoff_;
  ssge_eigensolver eigensolver_;
  index_t kept_ = 0;
};

}  // namespace scorelift::nonparametric

// scorelift/nonparametric/stein.hpp — the Stein gradient estimator of Li & Turner (2018).
//
// With test functions h(x) = [k(x, x₁), …, k(x, x_N)] in Stein's identity E[h sᵀ + ∇h] = 0, the
// empirical identity −K G ≈ ∇K, (∇K)ᵢ = Σⱼ ∇_{xⱼ} k(xᵢ, xⱼ), is solved with a ridge η:
//   Ĝ = −(K + ηI)⁻¹ ∇K          (rows: the estimated scores at the samples).
// Since Σⱼ ∇_{xⱼ} k(xᵢ, xⱼ) = −N ζ̂(xᵢ), this is exactly Tikhonov with a diagonal kernel and λ = η/N
// (Zhou et al. 2020, §4.2). Ĝ is defined at the samples only; two extensions to a new point x are offered
// (stein_extension):
//
// `tikhonov` (the default): Tikhonov's own extension,
//   ŝ(x) = −(1/η)[∇K(x) + Σᵢ k(x, xᵢ) Ĝᵢ],   ŝ(xⱼ) = Ĝⱼ;   O(ND) a point.
//
// `li_turner`: Li & Turner's (their §3.4; kscore's stein.py, Stein._compute_gradients_one): refit with x
// appended to the samples, η fixed, and read x's row. With A = K + ηI, b = k(X, x), the bordered matrix
// [[A, b], [bᵀ, k(x, x) + η]] has Schur complement σ(x) = k(x, x) + η − bᵀA⁻¹b ≥ η, and the last row of its
// inverse is [−bᵀA⁻¹, 1]/σ. The refit's ∇K' adds d = [∇ₓk(xᵢ, x)]ᵢ (N×D) to ∇K's rows and has the row
// Σⱼ ∇_{xⱼ}k(x, xⱼ) = −1ᵀd for x (∇_y k(x, y) vanishes at y = x for a radial k), so x's row of
// −(K' + ηI)⁻¹∇K' is
//   ŝ(x) = −(1/σ(x)) [bᵀĜ − (bᵀA⁻¹ + 1ᵀ) d],   dᵢ = 2ψ'(‖xᵢ − x‖²)(x − xᵢ),
// exactly the full refit's (tests/nonparametric/test_stein.cpp checks it against one), from the factor
// A = LLᵀ kept by the fit: two triangular solves with b, O(N²) a point (O(N²M) for M points, as one BLAS-3
// solve with M right-hand sides) instead of a fresh O(N³/3) factor per point. At a sample, ŝ(xⱼ) is the
// refit with xⱼ twice, not Ĝⱼ. Both extensions need one N×N factor at fit (η large enough that A's is
// well conditioned); Li–Turner keeps it (N² scalars). Diagonal kernels only, as in kscore: the refit is
// written for a scalar kernel k.
//
// So this class is that Tikhonov estimator with Li & Turner's parameter η (fixed, not scaled by N).
// kscore's Stein(lam) sets η = N²·lam (Stein.fit, "for the unified meaning of λ"), but at the samples that
// is its Tikhonov with λ = N·lam, not with lam: use eta = N²·lam here for the same Ĝ.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <utility>

#include "scorelift/nonparametric/tikhonov.hpp"

namespace scorelift::nonparametric {

/// How the estimate is extended off the samples (stein.hpp's header comment).
enum class stein_extension { tikhonov, li_turner };

template <class Scalar>
struct stein_options {
  Scalar eta = Scalar(1);  ///< η > 0 in Ĝ = −(K + ηI)⁻¹ ∇K
  stein_extension extension = stein_extension::tikhonov;
};

template <matrix_kernel Kernel = diagonal_gaussian<double>>
class stein_gradient_estimator {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using options_type = stein_options<scalar_type>;

  explicit stein_gradient_estimator(Kernel kernel = {}, options_type options = {})
      : kernel_(kernel), tikhonov_(kernel), options_(options) {}

  stein_gradient_estimator& fit(const view_type& samples) {
    constexpr const char* where = "stein_gradient_estimator::fit";
    detail::require_samples<scalar_type>(samples, where);
    // λ = η/N must be a normal number: α = 1/λ = N/η must be finite.
    scorelift::detail::require(options_.eta > 0 && std::isfinite(options_.eta) &&
                                   std::isfinite(static_cast<scalar_type>(samples.rows()) / options_.eta),
                               where, "eta = ", options_.eta, " but must be finite and > 0 with N/eta finite");
    switch (options_.extension) {
      case stein_extension::tikhonov:
        tikhonov_.options().lambda = options_.eta / static_cast<scalar_type>(samples.rows());
        tikhonov_.options().solver = tikhonov_solver::cholesky;
        tikhonov_.fit(samples);
        li_turner_ = {};
        break;
      case stein_extension::li_turner:
        if constexpr (Kernel::is_curl_free) {
          scorelift::detail::fail(where, "extension = li_turner needs a diagonal kernel (Li & Turner's refit is "
                                         "written for a scalar kernel k); use extension = tikhonov");
        } else {
          fit_li_turner(samples, where);
        }
        break;
      default:
        scorelift::detail::fail(where, "extension = ", static_cast<int>(options_.extension),
                                " which is not a stein_extension");
    }
    fitted_extension_ = options_.extension;
    return *this;
  }

  /// ŝ at each row of x by the extension the last fit was made for.
  matrix_type score(const view_type& x) const {
    if (fitted_extension_ == stein_extension::li_turner) return li_turner_score(x);
    return tikhonov_.score(x);
  }
  /// The Tikhonov extension's expansion (at the samples: Ĝ, whichever extension was fitted).
  const kernel_expansion<Kernel>& expansion() const {
    return fitted_extension_ == stein_extension::li_turner ? li_turner_.expansion : tikhonov_.expansion();
  }
  options_type& options() { return options_; }

 private:
  /// What the Li–Turner extension keeps: A = K + ηI's factor L, Ĝ, and the Tikhonov expansion through Ĝ.
  struct li_turner_fit {
    detail::column_major<scalar_type> factor;  ///< L (lower triangle), A = L Lᵀ
    matrix_type gradients;                   ///< Ĝ (N×D)
    kernel_expansion<Kernel> expansion;
    scalar_type eta = 0;
  };

  void fit_li_turner(const view_type& samples, const char* where) {
    const Kernel kernel = with_resolved_bandwidth(kernel_, samples, where);
    matrix_type x = samples;
    const index_t n = x.rows();
    const scalar_type eta = options_.eta;
    const auto on_samples = kernel.make_block(x, x);
    li_turner_fit fitted;
    fitted.factor = on_samples.dense().matrix();
    fitted.factor.diagonal().array() += eta;
    detail::checked_cholesky<scalar_type>(fitted.factor, where);
    // Ĝ = −A⁻¹∇K, ∇K = divergence_sum (Σⱼ div_y K(xᵢ, xⱼ))
    fitted.gradients = -on_samples.divergence_sum();
    solve_in_place(fitted.factor, fitted.gradients);
    detail::require_finite_estimate(fitted.gradients, where, "the fitted scores at the samples");
    // The Tikhonov expansion with λ = η/N through the same Ĝ: α = N/η, W = −Ĝ/η (tikhonov.hpp).
    matrix_type w = fitted.gradients / -eta;
    const scalar_type alpha = static_cast<scalar_type>(n) / eta;
    detail::require_finite_fit(alpha, w, where);
    fitted.expansion = kernel_expansion<Kernel>(kernel, std::move(x), alpha, matrix_type(), std::move(w));
    fitted.eta = eta;
    li_turner_ = std::move(fitted);
  }

  /// ŝ(x) = −(1/σ(x)) [bᵀĜ − Σᵢ (vᵢ + 1) dᵢ],  v = A⁻¹b,  σ(x) = k(x, x) + η − bᵀv,
  /// dᵢ = 2ψ'(sᵢ)(x − xᵢ); queries in chunks (the N×M blocks b and v at most N×256).
  matrix_type li_turner_score(const view_type& x) const {
    constexpr const char* where = "stein_gradient_estimator::score (Li-Turner)";
    const kernel_expansion<Kernel>& fitted = li_turner_.expansion;
    detail::require_queries<scalar_type>(x, fitted.dim(), where);
    const Kernel& kernel = fitted.kernel();
    const matrix_type& samples = fitted.samples();
    const scalar_type k_self = kernel.profile.template derivative<0>(scalar_type(0));  // k(x, x) = ψ(0)
    constexpr index_t chunk = 256;
    matrix_type out(x.rows(), x.cols());
    for (index_t begin = 0; begin < x.rows(); begin += chunk) {
      const index_t rows = std::min(chunk, x.rows() - begin);
      const matrix_type q = x.middleRows(begin, rows);
      const auto on_queries = kernel.make_block(samples, q);  // b for each query: k(X, Q), N×M
      const detail::column_major<scalar_type> b = on_queries.dense().matrix();
      detail::column_major<scalar_type> v = b;
      solve_in_place(li_turner_.factor, v);  // V = A⁻¹B
      const column_vector<scalar_type> schur =
          (k_self + li_turner_.eta - b.cwiseProduct(v).colwise().sum().array()).matrix().transpose();
      // cᵢₘ = (vᵢₘ + 1)·2ψ'(sᵢₘ), and Σᵢ cᵢₘ dᵢₘ/(2ψ') = Σᵢ cᵢₘ (qₘ − xᵢ) = (Σᵢ cᵢₘ) qₘ − (Cᵀ X)ₘ
      const auto s = detail::squared_distances<scalar_type>(samples, q);
      const detail::column_major<scalar_type> c =
          ((v.array() + scalar_type(1)) * (scalar_type(2) * kernel.profile.template derivative<1>(s))).matrix();
      matrix_type bracket = b.transpose() * li_turner_.gradients;  // bᵀĜ
      bracket -= c.colwise().sum().transpose().asDiagonal() * q;
      bracket.noalias() += c.transpose() * samples;
      out.middleRows(begin, rows) = -(schur.cwiseInverse().asDiagonal() * bracket);
    }
    detail::require_finite_estimate(out, where, "the estimated score");
    return out;
  }

  /// Y ← A⁻¹Y = L⁻ᵀL⁻¹Y with the lower factor L.
  template <class Rhs>
  static void solve_in_place(const detail::column_major<scalar_type>& factor, Rhs& y) {
    const auto lower = factor.template triangularView<Eigen::Lower>();
    lower.solveInPlace(y);
    lower.adjoint().solveInPlace(y);
  }

  Kernel kernel_;
  tikhonov_estimator<Kernel> tikhonov_;
  options_type options_;
  li_turner_fit li_turner_;
  stein_extension fitted_extension_ = stein_extension::tikhonov;
};

}  // namespace scorelift::nonparametric

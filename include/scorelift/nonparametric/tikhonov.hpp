// scorelift/nonparametric/tikhonov.hpp — the Tikhonov-regularised kernel score estimator of
// Zhou, Shi & Zhu (2020), with a dense Cholesky solve, conjugate gradients, or Nyström subsampling.
//
// Regularisation convention (ours, stated once): the estimate solves
//   min_f  (1/N) Σᵢ ‖f(xᵢ) − s(xᵢ)‖² + λ ‖f‖²_H   ⇒   f = (L̂ + λ)⁻¹ L̂ s ≈ (L̂ + λ)⁻¹ ζ̂,
// with L̂ f = (1/N) Σᵢ K(·, xᵢ) f(xᵢ) and ζ̂ the Stein-identity estimate of L̂ s (kernel_expansion.hpp).
// From λ f = ζ̂ − L̂ f, the values cᵢ = f(xᵢ) solve
//   (K + NλI) c = N ζ̂(X)        (K the Gram matrix: N×N for diagonal kernels, ND×ND curl-free)
// and the out-of-sample extension is f(x) = (1/λ)[ζ̂(x) − (1/N) Σᵢ K(x, xᵢ) cᵢ], so α = 1/λ and
// W = −c/(Nλ); at x = xⱼ it returns cⱼ. kscore's `lam` is this λ, with no factor 2: with its
// H = −ζ̂(X) (H_dh), Tikhonov._fit_exact (kscore/estimators/tikhonov.py) solves (K + NλI) c' = H/λ
// and compute_gradients returns K(x, X) c' − H(x)/λ, i.e. c' = W and the same f. (Halving both terms,
// ½‖f − s‖² + (λ/2)‖f‖², leaves the minimiser (L̂ + λ)⁻¹ L̂ s and so λ unchanged.) Li & Turner's Stein
// estimator uses η = Nλ (stein.hpp); kscore's Stein `lam` is η/N², so λ = N·lam there (stein.py).
//
// Nyström (M centres z drawn without replacement from the samples): f restricted to
// span{K(·, zₘ)eₐ}, f = Σₘ K(·, zₘ) aₘ. The same objective, with ⟨f, s⟩ through Stein's identity,
// is minimised by  (K_ZX K_XZ + Nλ K_ZZ) a = N ζ̂(Z):  O(NM²D²) to form, O((MD)³) to solve by Cholesky,
// or by conjugate gradients without forming it (two O(NMD) kernel products an iteration; fit_nystrom).
// kscore (Tikhonov._fit_subsample) solves the same system divided by N, for −a, with the same λ, its
// centres drawn with replacement and 10⁻⁷I added. Its truncated_tikhonov = True without subsampling (Z = X) is this
// with M = N, but _fit_exact divides H by λ in that branch too while compute_gradients' branch for it
// does not multiply back: kscore's result there is 1/λ times this estimate.
#pragma once

#include <algorithm>
#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "scorelift/nonparametric/kernel_expansion.hpp"
#include "scorelift/nonparametric/spd_solvers.hpp"

namespace scorelift::nonparametric {
namespace detail {

/// P (n×r) with Pᵀ K P = I_r spanning the eigenvectors of the symmetric positive semidefinite K (n×n)
/// whose eigenvalues lie above rounding level, μ > n·ε·μ_max: the basis the Nyström normal equations are
/// solved in. K = V μ Vᵀ gives P = V_r μ_r^(−1/2). When no eigenvalue is dropped, the fit does not depend
/// on which such P is used — a = Pθ solves (K_ZX K_XZ + Nλ K) a = N ζ̂(Z) whatever P — and K = L Lᵀ gives
/// one, P = L⁻ᵀ, from two n³/3 factorisations instead of an eigendecomposition (n = 800: ~10 against
/// ~160 ms, most of a curl-free Nyström fit). Every eigenvalue above the floor is what a Cholesky factor of
/// K − floor·I says, with the floor from `norm_bound` ≥ ‖K‖₂ (stricter than from μ_max); otherwise the
/// eigendecomposition decides what to drop.
template <class Scalar>
row_matrix<Scalar> centres_basis(const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>& k, Scalar norm_bound,
                                 std::string_view where) {
  using col_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const index_t n = k.rows();
  const Scalar epsilon = std::numeric_limits<Scalar>::epsilon();
  col_matrix shifted = k;
  shifted.diagonal().array() -= static_cast<Scalar>(n) * epsilon * norm_bound;
  if (Eigen::LLT<Eigen::Ref<col_matrix>>(shifted).info() == Eigen::Success) {
    const Eigen::LLT<col_matrix> factor(k);
    if (factor.info() == Eigen::Success) return factor.matrixL().solve(col_matrix::Identity(n, n)).transpose();
  }
  const Eigen::SelfAdjointEigenSolver<col_matrix> eigen(k);
  scorelift::detail::require(eigen.info() == Eigen::Success, where, "the eigensolver did not converge");
  const auto& mu = eigen.eigenvalues();
  const Scalar floor = static_cast<Scalar>(n) * epsilon * mu(n - 1);
  const index_t rank = (mu.array() > floor).count();
  scorelift::detail::require(rank > 0, where, "the centres' Gram matrix is zero");
  return eigen.eigenvectors().rightCols(rank) * mu.tail(rank).cwiseSqrt().cwiseInverse().asDiagonal();
}

}  // namespace detail

enum class tikhonov_solver { cholesky, conjugate_gradient };

template <class Scalar>
struct tikhonov_options {
  Scalar lambda = Scalar(1e-2);  ///< λ > 0 in (K + NλI) c = N ζ̂(X)
  tikhonov_solver solver = tikhonov_solver::cholesky;
  Scalar tolerance = Scalar(1e-8);  ///< conjugate gradients: stop at ‖r‖ ≤ tolerance·‖b‖
  index_t max_iterations = 1000;    ///< conjugate gradients
  index_t nystrom_centres = 0;      ///< M > 0: Nyström subsampling with M centres (`solver` on ≤ MD unknowns)
  std::uint64_t seed = 0;           ///< which M samples become the centres
};

template <matrix_kernel Kernel = diagonal_gaussian<double>>
class tikhonov_estimator : public detail::fitted_expansion<Kernel> {
 public:
  using scalar_type = typename Kernel::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using options_type = tikhonov_options<scalar_type>;

  explicit tikhonov_estimator(Kernel kernel = {}, options_type options = {}) : kernel_(kernel), options_(options) {}

  tikhonov_estimator& fit(const view_type& samples) {
    constexpr const char* where = "tikhonov_estimator::fit";
    detail::require_samples<scalar_type>(samples, where);
    scorelift::detail::require(options_.lambda > 0 && std::isfinite(options_.lambda) &&
                                   std::isfinite(scalar_type(1) / options_.lambda),
                               where, "lambda = ", options_.lambda,
                               " but must be finite and > 0 with 1/lambda finite (the extension divides by it)");
    scorelift::detail::require(options_.solver == tikhonov_solver::cholesky ||
                                   options_.solver == tikhonov_solver::conjugate_gradient,
                               where, "solver = ", static_cast<int>(options_.solver), " which is not a tikhonov_solver");
    if (options_.solver == tikhonov_solver::conjugate_gradient)
      detail::require_cg_parameters(options_.tolerance, options_.max_iterations, where);
    const index_t n = samples.rows();
    scorelift::detail::require(options_.nystrom_centres >= 0 && options_.nystrom_centres <= n, where,
                               "nystrom_centres = ", options_.nystrom_centres, " but 'samples' has shape ",
                               scorelift::detail::shape_string({n, samples.cols()}), " (need 0 <= M <= N)");
    const Kernel kernel = with_resolved_bandwidth(kernel_, samples, where);
    matrix_type x = samples;
    if (options_.nystrom_centres > 0) {
      fit_nystrom(kernel, std::move(x));
      return *this;
    }
    auto on_samples = kernel.make_block(x, x);
    const scalar_type nl = static_cast<scalar_type>(n) * options_.lambda;
    matrix_type c;
    cg_report report{};
    if (options_.solver == tikhonov_solver::cholesky) {
      std::optional<detail::gram_divergence<scalar_type>> through_gram;
      if constexpr (requires { on_samples.divergence_through_gram(); })
        through_gram = on_samples.divergence_through_gram();
      // N ζ̂ = −divergence_sum, unless it is written through K (then K is all that is needed of the block)
      const matrix_type target =
          through_gram ? matrix_type() : matrix_type(static_cast<scalar_type>(n) * detail::stein_target(on_samples, n));
      auto a = std::move(on_samples).dense();  // the block is not used again: factor its K in place
      a.matrix().diagonal().array() += nl;
      if (through_gram) {
        // N ζ̂ = −f (diag(w) X − K X) = −f [(diag(w) + NλI) X − (K + NλI) X], so
        // c = (K + NλI)⁻¹ N ζ̂ = −f [(K + NλI)⁻¹ (diag(w) + NλI) X − X]: one solve and no N²D product K X.
        // The same cancellation as in forming diag(w)X − KX, moved after the solve: against a long-double
        // reference (Gaussian, N = 600, D = 4, σ² = 0.05…100, Nλ = 0.01 and 1) its error was 0.9–4.5× the
        // direct route's, both ≤ 5e-12 relative; at N = 2000 it saves the 2.9 ms product of a 63 ms fit.
        // The weights are k's row sums (k > 0), so ‖K + NλI‖∞ = max(w) + Nλ.
        const matrix_type rhs = (through_gram->weights.array() + nl).matrix().asDiagonal() * x;
        const scalar_type infinity_norm = through_gram->weights.maxCoeff() + nl;
        c = -through_gram->factor * (detail::cholesky_solve<scalar_type>(a, rhs, where, infinity_norm) - x);
      } else {
        c = detail::cholesky_solve<scalar_type>(a, target, where);
      }
    } else {
      const matrix_type zeta = detail::stein_target(on_samples, n);
      // (K/N + λI) c = ζ̂: the same system scaled by 1/N, so the tolerance is relative to ζ̂.
      const scalar_type inv_n = scalar_type(1) / static_cast<scalar_type>(n);
      report = detail::conjugate_gradient<scalar_type>([&](const matrix_type& p) -> matrix_type { return on_samples.apply(p) * inv_n; },
                                                       options_.lambda, zeta, c, Kernel::is_curl_free,
                                                       options_.tolerance, options_.max_iterations, where);
    }
    // f(x) = (1/λ) ζ̂(x) + Σᵢ K(x, xᵢ) (−cᵢ / (Nλ))
    this->keep(kernel, std::move(x), scalar_type(1) / options_.lambda, matrix_type(), matrix_type(c / -nl), where);
    report_ = report;
    return *this;
  }

  const options_type& options() const { return options_; }
  options_type& options() { return options_; }
  /// Conjugate gradients (full or Nyström): iterations and final relative residual of the last fit;
  /// after a Cholesky fit, an empty report (0 iterations, not converged).
  const cg_report& solver_report() const { return report_; }

 private:
  void fit_nystrom(const Kernel& kernel, matrix_type x) {
    constexpr const char* where = "tikhonov_estimator::fit (Nystrom)";
    const index_t n = x.rows(), m = options_.nystrom_centres;
    // M distinct samples: the first M of a seeded partial Fisher–Yates shuffle.
    std::vector<index_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), index_t(0));
    std::mt19937_64 generator(options_.seed);
    for (index_t i = 0; i < m; ++i) {
      std::uniform_int_distribution<index_t> pick(i, n - 1);
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(pick(generator))]);
    }
    matrix_type z(m, x.cols());
    for (index_t i = 0; i < m; ++i) z.row(i) = x.row(order[static_cast<std::size_t>(i)]);

    // K_ZZ is often singular to working precision (a Gaussian Gram matrix's spectrum decays
    // exponentially), so the normal equations are solved in an orthonormal basis of H_Z instead:
    // a = P θ with Pᵀ K_ZZ P = I (centres_basis), so that ‖f‖²_H = ‖θ‖² and f(X) = K_XZ P θ = Φ θ.
    // The system for θ, (ΦᵀΦ + NλI) θ = N Pᵀ ζ̂(Z), has every eigenvalue ≥ Nλ.
    const auto on_centres = kernel.make_block(z, z);
    const matrix_type p = detail::centres_basis<scalar_type>(on_centres.dense().matrix(), on_centres.norm_bound(), where);

    // Pᵀ ζ̂(Z), with ζ̂(Z) from all N samples (flattened to MD×1 for a curl-free kernel: θ is then one
    // column, r×1; for a diagonal kernel r×D, the D coordinates sharing P).
    const index_t d = x.cols(), rhs_cols = Kernel::is_curl_free ? 1 : d;
    const auto flat = [&](const matrix_type& rows) {
      return Eigen::Map<const matrix_type>(rows.data(), rows.size() / rhs_cols, rhs_cols);
    };
    const auto on_samples_from_centres = kernel.make_block(x, z);  // K_XZ
    matrix_type theta;
    cg_report report{};
    if (options_.solver == tikhonov_solver::cholesky) {
      const matrix_type zeta_z = detail::stein_target(kernel.make_block(z, x), n);
      // ΦᵀΦ = Pᵀ K_ZX K_XZ P from the kernel's structure (a curl-free K_XZ is ND×MD: normal_matrix).
      matrix_type gram = on_samples_from_centres.normal_matrix(p);
      gram.diagonal().array() += static_cast<scalar_type>(n) * options_.lambda;
      theta = detail::cholesky_solve<scalar_type>(
          gram, matrix_type(static_cast<scalar_type>(n) * p.transpose() * flat(zeta_z)), where);
    } else {
      // The same system divided by N, (ΦᵀΦ/N + λI) θ = Pᵀ ζ̂(Z), by conjugate gradients with the stopping
      // rule of the full fit (‖r‖ ≤ tolerance·‖b‖ per coordinate, or for the one curl-free column).
      // ΦᵀΦ is never formed: ΦᵀΦ θ = Pᵀ K_ZX (K_XZ (P θ)), two kernel products (O(NMD) each, the
      // curl-free ones by two GEMMs, curl_free_kernel.hpp) and two with P (O(MD·r)) per iteration,
      // against O(NM²D²) for normal_matrix and O(r³) for the factor.
      const auto on_centres_from_samples = kernel.make_block(z, x);  // K_ZX = K_XZᵀ
      const matrix_type zeta_z = detail::stein_target(on_centres_from_samples, n);
      const scalar_type inv_n = scalar_type(1) / static_cast<scalar_type>(n);
      const auto normal_apply = [&](const matrix_type& t) -> matrix_type {
        const matrix_type a = p * t;
        const matrix_type back = on_centres_from_samples.apply(
            on_samples_from_centres.apply(Eigen::Map<const matrix_type>(a.data(), m, d)));
        return inv_n * (p.transpose() * flat(back));
      };
      report = detail::conjugate_gradient<scalar_type>(normal_apply, options_.lambda,
                                                       matrix_type(p.transpose() * flat(zeta_z)), theta,
                                                       Kernel::is_curl_free, options_.tolerance,
                                                       options_.max_iterations, where);
    }
    const matrix_type a = p * theta;
    matrix_type weights = Eigen::Map<const matrix_type>(a.data(), m, x.cols());
    this->keep(kernel, std::move(x), scalar_type(0), std::move(z), std::move(weights), where);
    report_ = report;
  }

  Kernel kernel_;
  options_type options_;
  cg_report report_;
};

}  // namespace scorelift::nonparametric

// scorelift/nonparametric/curl_free_kernel.hpp — the curl-free matrix-valued kernel of Zhou et al. 2020:
//
//   K(x, y) = −∇∇ᵀφ(x − y),  φ(r) = ψ(‖r‖²)
//           = −2ψ'(s) I − 4ψ''(s) r rᵀ = A I + B r rᵀ,   r = x − y, s = ‖r‖².
//
// Every function in its RKHS is a gradient field, K(·, y) w = ∇ₓ[−∇φ(x − y)ᵀw], so an estimate
// built from it has an energy (a log-density up to a constant) whose gradient is the score.
// The ND×ND Gram matrix is never needed for a product: with Cᵢⱼ = Bᵢⱼ rᵢⱼᵀwⱼ = Bᵢⱼ (xᵢᵀwⱼ − yⱼᵀwⱼ),
//   Σⱼ K(xᵢ, yⱼ) wⱼ = (A W)ᵢ + Σⱼ Cᵢⱼ (xᵢ − yⱼ),
// two GEMMs of size N×M×D and elementwise work, O(NMD) instead of O(NMD²) — which is what lets the
// iterative solvers run at N in the thousands.
#pragma once

#include <Eigen/Core>
#include <algorithm>

#include "scorelift/nonparametric/bandwidth_rule.hpp"
#include "scorelift/nonparametric/pairwise.hpp"
#include "scorelift/nonparametric/radial_profile.hpp"

namespace scorelift::nonparametric {

template <radial_profile Profile>
struct curl_free_kernel {
  using profile_type = Profile;
  using scalar_type = typename Profile::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using array_type = Eigen::Array<scalar_type, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  static constexpr bool is_curl_free = true;

  /// profile.sigma = 0 means "σ from the bandwidth rule at fit".
  Profile profile{};
  /// σ from the samples when profile.sigma = 0 (bandwidth_rule.hpp): the median heuristic unless set.
  bandwidth_rule<scalar_type> bandwidth = median_bandwidth<scalar_type>;

  /// K(x, y) = −2ψ'(s) I − 4ψ''(s) r rᵀ for one pair, as a D×D matrix.
  matrix_type value(const view_type& x, const view_type& y) const {
    detail::require_one_pair<scalar_type>(x, y, "curl_free_kernel::value");
    const matrix_type r = (x - y).transpose();  // D×1
    const scalar_type s = r.squaredNorm();
    return scalar_type(-2) * profile.template derivative<1>(s) * matrix_type::Identity(x.cols(), x.cols()) -
           scalar_type(4) * profile.template derivative<2>(s) * r * r.transpose();
  }

  /// φ(r) = ψ(‖r‖²) for one pair (tests: K = −∇∇ᵀφ).
  scalar_type potential(const view_type& x, const view_type& y) const {
    detail::require_one_pair<scalar_type>(x, y, "curl_free_kernel::potential");
    return profile.template derivative<0>((x - y).squaredNorm());
  }

  /// The kernel between X (N×D) and Y (M×D), kept for repeated products. Keeps views of X and Y:
  /// row-major storage is read in place (it must outlive the block), anything else is a shared copy.
  class block {
   public:
    block(const curl_free_kernel& kernel, const view_type& x, const view_type& y)
        : profile_(kernel.profile), x_(x), y_(y), a_(detail::block_rows<scalar_type>(x, y, "curl_free_kernel::make_block"), y.rows()), row_bounds_(x.rows()) {
      // A = −2ψ'(S) and B = −4ψ''(S) = 2A·(ψ''/ψ'), tile by tile while S is in cache; S itself is not
      // kept (divergence_sum and laplacian_sum remake its tiles), nor is B when ψ''/ψ' is a constant
      if constexpr (!Profile::has_constant_ratio) b_.resize(x.rows(), y.rows());
      detail::for_each_squared_distance_tile<scalar_type>(x, y, [&](index_t begin, index_t rows, const auto& s) {
        auto a = a_.middleRows(begin, rows);
        a = scalar_type(-2) * profile_.template derivative<1>(s);
        if constexpr (!Profile::has_constant_ratio)
          b_.middleRows(begin, rows) = scalar_type(2) * a * profile_.template ratio<1>(s);
        row_bounds_.segment(begin, rows) =
            a.abs().max((a + b_rows(begin, rows) * s).abs()).rowwise().sum().matrix();  // norm_bound
      });
    }

    /// Row i: Σⱼ K(xᵢ, yⱼ) wⱼ = (A W)ᵢ + Σⱼ Cᵢⱼ (xᵢ − yⱼ),  Cᵢⱼ = Bᵢⱼ (xᵢᵀwⱼ − yⱼᵀwⱼ),
    /// C made and used tile by tile (tiled_weighted_differences): each product streams A and B from
    /// memory once instead of writing and re-reading an N×M buffer four times.
    matrix_type apply(const view_type& w) const {
      detail::require_coefficients<scalar_type>(w, y_.rows(), y_.cols(), "curl_free_kernel::block::apply", "w");
      const column_vector<scalar_type> v = y_.cwiseProduct(w).rowwise().sum();  // vⱼ = yⱼᵀwⱼ
      return detail::tiled_weighted_differences<scalar_type>(
          x_, y_, workspace_,
          [&](index_t begin, index_t rows, auto& c) {
            // noalias GEMM into plain storage: as (X Wᵀ).array() Eigen would evaluate the product
            // lazily, coefficient by coefficient (measured 10× slower at N = 2000, D = 16).
            c.matrix().noalias() = x_.middleRows(begin, rows) * w.transpose();
            c = (c.rowwise() - v.transpose().array()) * b_rows(begin, rows);
          },
          [&](index_t begin, index_t rows, auto& out_rows) {
            detail::thin_product<scalar_type>(a_.middleRows(begin, rows).matrix(), w, out_rows, scalar_type(1), false);
          });
    }

    /// Row i: Σⱼ div_y K(xᵢ, yⱼ) = Σⱼ ∇Δφ(xᵢ − yⱼ) = Σⱼ 4[(D+2)ψ''(s) + 2sψ'''(s)](xᵢ − yⱼ),
    /// from Δφ = 2Dψ'(s) + 4sψ''(s) and ∇_r = 2r d/ds. With ψ'' = −B/4 and ψ''' = ψ''·ρ₂(s)
    /// (ρ₂ = ψ'''/ψ'', the profile's ratio) the weight is −B[(D+2) + 2sρ₂(s)]: no transcendental pass.
    matrix_type divergence_sum() const {
      const auto d = static_cast<scalar_type>(x_.cols());
      const detail::squared_distance_operands<scalar_type> operands(x_, y_);
      array_type workspace;
      return detail::tiled_weighted_differences<scalar_type>(
          x_, y_, workspace,
          [&](index_t begin, index_t rows, auto& c) {
            detail::squared_distance_rows<scalar_type>(x_, operands, begin, c);  // S's tile
            c = -b_rows(begin, rows) * ((d + 2) + scalar_type(2) * c * profile_.template ratio<2>(c));
          },
          [](index_t, index_t, auto&) {});
    }

    /// Entry i: Σⱼ Δφ(xᵢ − yⱼ) = Σⱼ 2Dψ'(sᵢⱼ) + 4sᵢⱼψ''(sᵢⱼ) = −Σⱼ (D Aᵢⱼ + sᵢⱼ Bᵢⱼ)
    /// (the energy of the divergence term).
    column_vector<scalar_type> laplacian_sum() const {
      const auto d = static_cast<scalar_type>(x_.cols());
      column_vector<scalar_type> out(x_.rows());
      detail::for_each_squared_distance_tile<scalar_type>(x_, y_, [&](index_t begin, index_t rows, const auto& s) {
        out.segment(begin, rows) = (-d * a_.middleRows(begin, rows) - s * b_rows(begin, rows)).rowwise().sum();
      });
      return out;
    }

    /// Entry i: Σⱼ ∇φ(xᵢ − yⱼ)ᵀ wⱼ = Σⱼ 2ψ'(sᵢⱼ)(xᵢᵀwⱼ − yⱼᵀwⱼ) = −Σⱼ Aᵢⱼ rᵢⱼᵀwⱼ,
    /// so that Σⱼ K(x, yⱼ) wⱼ = ∇ₓ[−Σⱼ ∇φ(x − yⱼ)ᵀwⱼ].
    column_vector<scalar_type> potential_apply(const view_type& w) const {
      detail::require_coefficients<scalar_type>(w, y_.rows(), y_.cols(), "curl_free_kernel::block::potential_apply", "w");
      return (-a_ * projections(w)).rowwise().sum().matrix();
    }

    /// The ND×MD Gram matrix, entry (iD + a, jD + b) = K(xᵢ, yⱼ)ₐᵦ (row-major flattening of N×D).
    matrix_type dense() const {
      const index_t n = x_.rows(), m = y_.rows(), d = x_.cols();
      matrix_type out(n * d, m * d);
      for (index_t i = 0; i < n; ++i) {
        for (index_t j = 0; j < m; ++j) {
          const auto r = (x_.row(i) - y_.row(j)).transpose();
          auto blk = out.block(i * d, j * d, d, d);
          blk.noalias() = b_at(i, j) * r * r.transpose();
          blk.diagonal().array() += a_(i, j);
        }
      }
      return out;
    }

    /// Pᵀ G P for a basis P (MD×r) of coefficients on Y, G = K_YX K_XY (MD×MD): the matrix of the Nyström
    /// normal equations (tikhonov.hpp), made without the ND×MD K_XY. With rᵢⱼ = xᵢ − yⱼ, sᵢⱼ = ‖rᵢⱼ‖² and
    /// Kᵢⱼ = Aᵢⱼ I + Bᵢⱼ rᵢⱼrᵢⱼᵀ (symmetric), G's block (j, k) is Σᵢ KᵢⱼKᵢₖ, where
    ///   KᵢⱼKᵢₖ = AᵢⱼAᵢₖ I + AᵢⱼBᵢₖ rᵢₖrᵢₖᵀ + BᵢⱼAᵢₖ rᵢⱼrᵢⱼᵀ + BᵢⱼBᵢₖ (rᵢⱼᵀrᵢₖ) rᵢⱼrᵢₖᵀ.
    /// Every term becomes Σᵢ fᵢⱼ gᵢₖ rᵢⱼrᵢₖᵀ — one product of two N×MD matrices [fᵢⱼ rᵢⱼₐ] — by
    ///   rᵢₖ = rᵢⱼ + dⱼₖ, dⱼₖ = yⱼ − yₖ:  Σᵢ AᵢⱼBᵢₖ rᵢₖrᵢₖᵀ = Σᵢ AᵢⱼBᵢₖ rᵢⱼrᵢₖᵀ + dⱼₖ (Σᵢ AᵢⱼBᵢₖ rᵢₖ)ᵀ,
    ///   the third term = the second's block (k, j) transposed (BᵢⱼAᵢₖ rᵢⱼrᵢⱼᵀ is symmetric),
    ///   polarisation rᵢⱼᵀrᵢₖ = ½(sᵢⱼ + sᵢₖ − tⱼₖ), tⱼₖ = ‖yⱼ − yₖ‖².
    /// With U = [Bᵢⱼ rᵢⱼₐ], C = [(Aᵢⱼ + ½Bᵢⱼsᵢⱼ) rᵢⱼₐ] (N×MD, column jD + a) and Eⱼₖ = dⱼₖ (AᵀU)ⱼ,ₖᵀ:
    ///   G = (AᵀA) ⊗ I + Y + Yᵀ − ½ (t ⊗ 11ᵀ) ∘ UᵀU,   Y = CᵀU + E,
    /// two MD×N×MD products (UᵀU only its lower half) where Φ = K_XY P and ΦᵀΦ cost ND·MD·r + ND·r²
    /// (at N = 2000, M = 50, D = 16: 3.8 + 1.5 for Pᵀ G P instead of 61 GFLOP).
    /// Rounding: G carries errors ~ ε‖G‖ in every direction, so Pᵀ G P errs by ~ ε‖G‖/μ along a direction
    /// where K_YY's eigenvalue is μ, where ΦᵀΦ errs by ~ ε‖G‖/√(μ μ_max); the two agree to 1e-14 when
    /// K_YY is well conditioned (D = 16: κ ≈ 10⁴) and to ~1e-5 in the fit when it is near singular (D = 2,
    /// M = 50), far below the estimator's statistical error.
    matrix_type normal_matrix(const view_type& p) const {
      const index_t n = x_.rows(), m = y_.rows(), d = x_.cols(), md = m * d;
      detail::require_coefficients<scalar_type>(p, md, p.cols(), "curl_free_kernel::block::normal_matrix", "p");
      constexpr index_t chunk = 256;  // rows of U and C made at a time (1.6 MB each at MD = 800)
      matrix_type u(std::min(chunk, n), md), c(std::min(chunk, n), md);
      matrix_type y = matrix_type::Zero(md, md), uu = matrix_type::Zero(md, md), au = matrix_type::Zero(m, md);
      for (index_t begin = 0; begin < n; begin += chunk) {
        const index_t rows = std::min(chunk, n - begin);
        for (index_t i = 0; i < rows; ++i) {
          for (index_t j = 0; j < m; ++j) {
            const auto r = x_.row(begin + i) - y_.row(j);
            const scalar_type a = a_(begin + i, j), b = b_at(begin + i, j);
            u.row(i).segment(j * d, d) = b * r;
            c.row(i).segment(j * d, d) = (a + scalar_type(0.5) * b * r.squaredNorm()) * r;
          }
        }
        const auto u_rows = u.topRows(rows);
        y.noalias() += c.topRows(rows).transpose() * u_rows;
        uu.template selfadjointView<Eigen::Lower>().rankUpdate(u_rows.transpose());
        au.noalias() += a_.middleRows(begin, rows).matrix().transpose() * u_rows;
      }
      for (index_t j = 0; j < m; ++j)
        for (index_t k = 0; k < m; ++k)
          y.block(j * d, k * d, d, d).noalias() +=
              (y_.row(j) - y_.row(k)).transpose() * au.row(j).segment(k * d, d);  // Eⱼₖ
      const matrix_type aa = a_.matrix().transpose() * a_.matrix();
      matrix_type g(md, md);
      for (index_t j = 0; j < m; ++j) {
        for (index_t k = 0; k <= j; ++k) {  // blocks k ≤ j, mirrored (uu holds its lower half; tⱼⱼ = 0)
          auto blk = g.block(j * d, k * d, d, d);
          blk = y.block(j * d, k * d, d, d) + y.block(k * d, j * d, d, d).transpose();
          blk.diagonal().array() += aa(j, k);
          if (k < j) {
            blk -= scalar_type(0.5) * (y_.row(j) - y_.row(k)).squaredNorm() * uu.block(j * d, k * d, d, d);
            g.block(k * d, j * d, d, d) = blk.transpose();
          }
        }
      }
      const matrix_type gp = g * p;
      matrix_type out(p.cols(), p.cols());
      out.template triangularView<Eigen::Lower>() = p.transpose() * gp;
      out.template triangularView<Eigen::StrictlyUpper>() = out.transpose();
      return out;
    }

    /// Gershgorin bound on ‖K‖₂ (X = Y): the block (i, j) = A I + B r rᵀ has eigenvalues A and
    /// A + B s, so ‖K‖₂ ≤ maxᵢ Σⱼ max(|Aᵢⱼ|, |Aᵢⱼ + Bᵢⱼ sᵢⱼ|) (the row sums taken as A and B were made).
    scalar_type norm_bound() const { return row_bounds_.maxCoeff(); }

   private:
    /// Rows [begin, begin + rows) of B = 2A·(ψ''/ψ'): stored, or A times the constant 2ψ''/ψ' (Gaussian),
    /// which spares an N×M array — half of what every product of an iterative solver streams from memory.
    auto b_rows(index_t begin, index_t rows) const {
      if constexpr (Profile::has_constant_ratio) {
        return (scalar_type(2) * profile_.template constant_ratio<1>()) * a_.middleRows(begin, rows);
      } else {
        return b_.middleRows(begin, rows);
      }
    }
    scalar_type b_at(index_t i, index_t j) const {
      if constexpr (Profile::has_constant_ratio) {
        return scalar_type(2) * profile_.template constant_ratio<1>() * a_(i, j);
      } else {
        return b_(i, j);
      }
    }

    /// Pᵢⱼ = rᵢⱼᵀ wⱼ = xᵢᵀwⱼ − yⱼᵀwⱼ (one GEMM) into the block's workspace (energy only).
    array_type& projections(const view_type& w) const {
      workspace_.resize(x_.rows(), w.rows());
      workspace_.matrix().noalias() = x_ * w.transpose();
      const column_vector<scalar_type> d = y_.cwiseProduct(w).rowwise().sum();
      workspace_.rowwise() -= d.transpose().array();
      return workspace_;
    }

    Profile profile_;
    view_type x_, y_;
    array_type a_, b_;  // b_ empty when ψ''/ψ' is a constant (b_rows)
    column_vector<scalar_type> row_bounds_;  ///< Σⱼ max(|Aᵢⱼ|, |Aᵢⱼ + Bᵢⱼ sᵢⱼ|)
    /// apply()'s tile of C, kept between the hundreds of calls an iterative solver makes (so one block
    /// must not be applied from two threads at once).
    mutable array_type workspace_;
  };

  block make_block(const view_type& x, const view_type& y) const { return block(*this, x, y); }
};

template <class Scalar = double>
using curl_free_gaussian = curl_free_kernel<gaussian_profile<Scalar>>;
template <class Scalar = double>
using curl_free_imq = curl_free_kernel<imq_profile<Scalar>>;

}  // namespace scorelift::nonparametric

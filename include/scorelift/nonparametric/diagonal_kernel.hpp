// scorelift/nonparametric/diagonal_kernel.hpp — the diagonal matrix-valued kernel K(x, y) = k(x, y) I_D
// with a radial scalar kernel k(x, y) = ψ(‖x − y‖²). With it the D output coordinates of every
// estimator decouple: one N×N system with D right-hand sides instead of an ND×ND one.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <optional>
#include <utility>

#include "scorelift/nonparametric/block_transpose.hpp"
#include "scorelift/nonparametric/bandwidth_rule.hpp"
#include "scorelift/nonparametric/pairwise.hpp"
#include "scorelift/nonparametric/radial_profile.hpp"

namespace scorelift::nonparametric {

template <radial_profile Profile>
struct diagonal_kernel {
  using profile_type = Profile;
  using scalar_type = typename Profile::scalar_type;
  using matrix_type = row_matrix<scalar_type>;
  using view_type = matrix_view<scalar_type>;
  using array_type = Eigen::Array<scalar_type, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  static constexpr bool is_curl_free = false;

  /// profile.sigma = 0 means "σ from the bandwidth rule at fit".
  Profile profile{};
  /// σ from the samples when profile.sigma = 0 (bandwidth_rule.hpp): the median heuristic unless set.
  bandwidth_rule<scalar_type> bandwidth = median_bandwidth<scalar_type>;

  /// K(x, y) for one pair, as a D×D matrix (tests and small-scale use).
  matrix_type value(const view_type& x, const view_type& y) const {
    detail::require_one_pair<scalar_type>(x, y, "diagonal_kernel::value");
    const scalar_type s = (x - y).squaredNorm();
    return profile.template derivative<0>(s) * matrix_type::Identity(x.cols(), x.cols());
  }

  /// The kernel between two sample sets X (N×D) and Y (M×D), kept for repeated products.
  /// Keeps views of X and Y: row-major storage is read in place (it must outlive the block); anything
  /// else was converted into a copy the block shares (eigen_view), so it cannot dangle.
  class block {
   public:
    block(const diagonal_kernel& kernel, const view_type& x, const view_type& y)
        : profile_(kernel.profile), x_(x), y_(y), k_(detail::block_rows<scalar_type>(x, y, "diagonal_kernel::make_block"), y.rows()), row_bounds_(x.rows()) {
      // kᵢⱼ = ψ(sᵢⱼ), tile by tile while S is in cache; S itself is not kept (divergence_sum remakes it)
      if (detail::same_samples<scalar_type>(x, y)) {
        // Symmetric: the blocks on and below the diagonal, each written to its mirror position while
        // in cache (k exactly symmetric). Row sums for norm_bound: a block's entries count in their
        // rows and, mirrored, in the rows of their columns.
        row_bounds_.setZero();
        detail::for_each_lower_squared_distance_block<scalar_type>(x, [&](index_t row, index_t column, const auto& s) {
          auto k = k_.block(row, column, s.rows(), s.cols());
          k = profile_.template derivative<0>(s);
          row_bounds_.segment(row, s.rows()) += k.abs().rowwise().sum().matrix();
          if (row == column) {
            for (index_t i = 0; i < k.rows(); ++i)
              for (index_t j = i + 1; j < k.cols(); ++j) k(i, j) = k(j, i);
            return;
          }
          detail::transpose_into<scalar_type>(k.matrix(), k_.block(column, row, s.cols(), s.rows()).matrix());
          row_bounds_.segment(column, s.cols()) += k.abs().colwise().sum().transpose().matrix();
        });
        return;
      }
      detail::for_each_squared_distance_tile<scalar_type>(x, y, [&](index_t begin, index_t rows, const auto& s) {
        auto k = k_.middleRows(begin, rows);
        k = profile_.template derivative<0>(s);
        row_bounds_.segment(begin, rows) = k.abs().rowwise().sum().matrix();  // for norm_bound
      });
    }

    /// Row i: Σⱼ K(xᵢ, yⱼ) wⱼ = (k W)ᵢ, with k read in place (thin_product.hpp).
    matrix_type apply(const view_type& w) const {
      detail::require_coefficients<scalar_type>(w, y_.rows(), w.cols(), "diagonal_kernel::block::apply", "w");
      return detail::thin_product<scalar_type>(k_.matrix(), w);
    }

    /// Row i: Σⱼ div_y K(xᵢ, yⱼ) = Σⱼ ∇_y k(xᵢ, yⱼ) = Σⱼ −2ψ'(sᵢⱼ)(xᵢ − yⱼ).
    /// ψ' = ψ·ρ₀(s) (the profile's ratio ψ'/ψ) reuses k instead of another transcendental pass; the tile
    /// of S is made again (the same GEMM as at construction) instead of an N×M S kept in memory.
    /// A constant ρ₀ (Gaussian) needs no S: row i is −2ρ₀ [(k1)ᵢ xᵢ − (kY)ᵢ], one product with k, where
    /// (k1)ᵢ is row_bounds_ᵢ (ψ > 0, so Σⱼ|kᵢⱼ| = Σⱼ kᵢⱼ).
    matrix_type divergence_sum() const {
      if constexpr (Profile::has_constant_ratio) {
        matrix_type out = row_bounds_.asDiagonal() * x_;
        detail::thin_product<scalar_type>(k_.matrix(), y_, out, scalar_type(-1), false);
        out *= scalar_type(-2) * profile_.template constant_ratio<0>();
        return out;
      }
      const detail::squared_distance_operands<scalar_type> operands(x_, y_);
      array_type workspace;
      return detail::tiled_weighted_differences<scalar_type>(
          x_, y_, workspace,
          [&](index_t begin, index_t rows, auto& c) {
            detail::squared_distance_rows<scalar_type>(x_, operands, begin, c);
            c = scalar_type(-2) * k_.middleRows(begin, rows) * profile_.template ratio<0>(c);
          },
          [](index_t, index_t, auto&) {});
    }

    /// divergence_sum() = factor·(diag(weights) X − k X), when that holds with k the Gram matrix of the
    /// block on its own samples (Y = X) and a constant ratio ρ₀ (factor −2ρ₀, weights k1): a dense
    /// solver of (k + sI) C = −divergence_sum() can then use (k + sI)⁻¹ k X = X − s (k + sI)⁻¹ X and
    /// skip the N²D product k X (tikhonov.hpp). nullopt otherwise. k1 is row_bounds_: ψ > 0 (a constant
    /// ratio means ψ = c·e^(ρ₀s)), so the row sums of |k| are those of k.
    std::optional<detail::gram_divergence<scalar_type>> divergence_through_gram() const {
      if constexpr (Profile::has_constant_ratio) {
        if (detail::same_samples<scalar_type>(x_, y_))
          return detail::gram_divergence<scalar_type>{row_bounds_,
                                                      scalar_type(-2) * profile_.template constant_ratio<0>()};
      }
      return std::nullopt;
    }

    /// The N×M Gram matrix kᵢⱼ (the D coordinates share it).
    const array_type& dense() const& { return k_; }
    /// The Gram matrix moved out of a block that is no longer needed: a dense solver factors it in
    /// place instead of copying N² entries (at N = 2000, 32 MB of fresh memory).
    array_type dense() && { return std::move(k_); }

    /// Pᵀ kᵀk P = ΦᵀΦ, Φ = k P, for a basis P (M×r) of coefficients on Y shared by the D coordinates: the
    /// matrix of the Nyström normal equations (tikhonov.hpp). Φ is only N×r, so it is formed, in chunks
    /// of rows (a cache-sized buffer instead of fresh pages for all of Φ).
    matrix_type normal_matrix(const view_type& p) const {
      detail::require_coefficients<scalar_type>(p, y_.rows(), p.cols(), "diagonal_kernel::block::normal_matrix", "p");
      constexpr index_t chunk = 256;
      const index_t n = k_.rows();
      matrix_type phi(std::min(chunk, n), p.cols());
      matrix_type out = matrix_type::Zero(p.cols(), p.cols());
      for (index_t begin = 0; begin < n; begin += chunk) {
        const index_t rows = std::min(chunk, n - begin);
        phi.topRows(rows).noalias() = k_.middleRows(begin, rows).matrix() * p;
        out.template selfadjointView<Eigen::Lower>().rankUpdate(phi.topRows(rows).transpose());
      }
      out.template triangularView<Eigen::StrictlyUpper>() = out.transpose();
      return out;
    }

    /// Gershgorin bound on ‖K‖₂ (X = Y): max row sum of |kᵢⱼ| (the row sums taken as k was made).
    scalar_type norm_bound() const { return row_bounds_.maxCoeff(); }

   private:
    Profile profile_;
    view_type x_, y_;
    array_type k_;
    column_vector<scalar_type> row_bounds_;  ///< Σⱼ |kᵢⱼ|
  };

  block make_block(const view_type& x, const view_type& y) const { return block(*this, x, y); }
};

template <class Scalar = double>
using diagonal_gaussian = diagonal_kernel<gaussian_profile<Scalar>>;
template <class Scalar = double>
using diagonal_imq = diagonal_kernel<imq_profile<Scalar>>;

}  // namespace scorelift::nonparametric

// scorelift/analysis/feature_map.hpp — what a feature map provides to a linear-in-features score
// model f(x) = W φ(x) (W ∈ R^{D×K}), and the quantities every exact objective is built from.
//
// A feature map φ: R^D → R^K gives, on N samples (one per row), the N×K matrix Φ with rows φ(x_b)ᵀ,
// and at one sample its Jacobian ∇φ(x) ∈ R^{K×D} (entry (k, d) = ∂φ_k/∂x_d). Nothing else is needed:
//   f(x_b)        = W φ(x_b)                      (row b of Φ Wᵀ),
//   tr ∇ₓ f(x_b)  = tr(W ∇φ(x_b)) = Σ_{d,k} W_{dk} ∂φ_k/∂x_d    (exact: no Hutchinson noise),
//   vᵀ ∇ₓ f v     = vᵀ W ∇φ(x_b) v                (the sliced trace, when probes are asked for).
// Every objective of the library is then a polynomial in W whose coefficients are batch moments of φ
// and ∇φ (score_moments.hpp).
//
// User features: any type with the four members below satisfies FeatureMap. `check_feature_map<F>()`
// (called by every function that takes a feature map) names, at compile time, the member that is
// missing instead of printing a failed requires-expression.
#pragma once

#include <Eigen/Core>
#include <concepts>

#include "scorelift/backends/eigen_view.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::analysis {

/// N×K (features) or N×D (samples, scores) row-major matrices: one sample per row.
using row_matrix = eigen_row_matrix<double>;
/// Samples are read through the library's view: row-major storage in place, anything else (column-major,
/// expressions, Maps with strides) converted once; nothing here keeps a view past the call.
using sample_view = eigen_view<double>;

namespace detail {
template <class F>
concept has_input_dim = requires(const F& phi) {
  { phi.input_dim() } -> std::convertible_to<index_t>;
};
template <class F>
concept has_feature_count = requires(const F& phi) {
  { phi.feature_count() } -> std::convertible_to<index_t>;
};
template <class F>
concept has_features = requires(const F& phi, const sample_view& x) {
  { phi.features(x) } -> std::convertible_to<row_matrix>;  // N×K
};
template <class F>
concept has_jacobian = requires(const F& phi, const Eigen::VectorXd& x) {
  { phi.jacobian(x) } -> std::convertible_to<Eigen::MatrixXd>;  // K×D at one sample
};
}  // namespace detail

/// φ: R^D → R^K with its Jacobian: `input_dim()` = D, `feature_count()` = K, `features(x)` = Φ (N×K)
/// for samples x (N×D), `jacobian(x)` = ∇φ(x) (K×D) at one sample x ∈ R^D.
template <class F>
concept FeatureMap = detail::has_input_dim<F> && detail::has_feature_count<F> && detail::has_features<F> &&
                     detail::has_jacobian<F>;

/// Compile-time check with a message per missing member (use as `static_assert(check_feature_map<F>())`
/// or call it in a function body).
template <class F>
consteval bool check_feature_map() {
  static_assert(detail::has_input_dim<F>, "FeatureMap: missing `index_t input_dim() const` (the dimension D of x)");
  static_assert(detail::has_feature_count<F>,
                "FeatureMap: missing `index_t feature_count() const` (the number K of features)");
  static_assert(detail::has_features<F>,
                "FeatureMap: missing `row_matrix features(const sample_view& x) const` (N×K matrix Φ, one row per sample)");
  static_assert(detail::has_jacobian<F>,
                "FeatureMap: missing `Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const` (K×D matrix ∇φ(x))");
  return FeatureMap<F>;
}

/// Checks that `x` holds samples of φ's input dimension (N ≥ 1 rows, D columns, finite).
template <class F>
void require_samples(const F& phi, const sample_view& x, const char* where, const char* argument) {
  scorelift::detail::require(x.rows() >= 1 && x.cols() == phi.input_dim(), where, "argument '", argument,
                             "' has shape ", scorelift::detail::shape_string({x.rows(), x.cols()}),
                             " but the feature map needs N >= 1 rows of D = ", phi.input_dim(), " columns");
  scorelift::detail::require(x.allFinite(), where, "argument '", argument, "' contains NaN or Inf");
}

/// Checks that one sample x has φ's input dimension.
template <class F>
void require_point(const F& phi, const Eigen::VectorXd& x, const char* where) {
  scorelift::detail::require(x.size() == phi.input_dim(), where, "argument 'x' has length ", x.size(), " but D = ",
                             phi.input_dim());
}

/// Checks that W has the model's shape D×K.
template <class F>
void require_weights(const F& phi, const Eigen::MatrixXd& weights, const char* where) {
  scorelift::detail::require(weights.rows() == phi.input_dim() && weights.cols() == phi.feature_count(), where,
                             "argument 'weights' has shape ",
                             scorelift::detail::shape_string({weights.rows(), weights.cols()}), " but must be [D, K] = ",
                             scorelift::detail::shape_string({phi.input_dim(), phi.feature_count()}));
  scorelift::detail::require(weights.allFinite(), where, "argument 'weights' contains NaN or Inf");
}

/// Per-sample exact divergence tr ∇ₓ(W φ)(x_b) = Σ_{d,k} W_{dk} ∇φ(x_b)_{kd}  (W is D×K).
template <FeatureMap F>
Eigen::VectorXd divergence(const F& phi, const Eigen::MatrixXd& weights, const sample_view& x) {
  constexpr const char* where = "analysis::divergence";
  require_samples(phi, x, where, "x");
  require_weights(phi, weights, where);
  Eigen::VectorXd out(x.rows());
  for (index_t b = 0; b < x.rows(); ++b) {
    const Eigen::MatrixXd jac = phi.jacobian(x.row(b).transpose());
    out(b) = weights.cwiseProduct(jac.transpose()).sum();  // tr(W ∇φ) = ⟨W, ∇φᵀ⟩_F
  }
  return out;
}

/// The model's values f(x_b) = W φ(x_b), one row per sample (N×D).
template <FeatureMap F>
row_matrix evaluate(const F& phi, const Eigen::MatrixXd& weights, const sample_view& x) {
  constexpr const char* where = "analysis::evaluate";
  require_samples(phi, x, where, "x");
  require_weights(phi, weights, where);
  return phi.features(x) * weights.transpose();
}

}  // namespace scorelift::analysis

// scorelift/nonparametric/matrix_kernel.hpp — what an estimator asks of a kernel policy, stated once.
//
// A kernel is a small value type (mlpack style: chosen at compile time, holds its parameters) with
// a radial profile and a `block` that evaluates it between two sample sets: products with the Gram
// matrix, the divergence sums of Stein's identity, the dense Gram matrix and a bound on its norm.
// Curl-free kernels add the two potentials their energy needs.
#pragma once

#include <cmath>
#include <concepts>
#include <string_view>

#include "scorelift/nonparametric/curl_free_kernel.hpp"
#include "scorelift/nonparametric/diagonal_kernel.hpp"
#include "scorelift/nonparametric/pairwise.hpp"

namespace scorelift::nonparametric {

template <class K>
concept matrix_kernel = requires(const K& k, const typename K::view_type& x, const typename K::block& b) {
  typename K::scalar_type;
  typename K::matrix_type;
  { K::is_curl_free } -> std::convertible_to<bool>;
  { k.profile.sigma } -> std::convertible_to<typename K::scalar_type>;
  { k.make_block(x, x) } -> std::same_as<typename K::block>;
  { b.apply(x) } -> std::same_as<typename K::matrix_type>;
  { b.divergence_sum() } -> std::same_as<typename K::matrix_type>;
  { b.norm_bound() } -> std::convertible_to<typename K::scalar_type>;
};

/// A kernel whose RKHS holds only gradient fields, so that an estimate has an energy.
template <class K>
concept curl_free_matrix_kernel = matrix_kernel<K> && K::is_curl_free && requires(const typename K::block& b,
                                                                                   const typename K::view_type& w) {
  { b.laplacian_sum() } -> std::same_as<column_vector<typename K::scalar_type>>;
  { b.potential_apply(w) } -> std::same_as<column_vector<typename K::scalar_type>>;
};

static_assert(matrix_kernel<diagonal_gaussian<double>>);
static_assert(matrix_kernel<diagonal_imq<float>>);
static_assert(curl_free_matrix_kernel<curl_free_gaussian<double>>);
static_assert(curl_free_matrix_kernel<curl_free_imq<float>>);
static_assert(!curl_free_matrix_kernel<diagonal_gaussian<double>>);

/// The kernel with its bandwidth fixed: the user's σ when given (> 0), the kernel's bandwidth rule's when
/// σ = 0 (the median heuristic for a kernel without a `bandwidth` member).
template <matrix_kernel Kernel>
Kernel with_resolved_bandwidth(Kernel kernel, const matrix_view<typename Kernel::scalar_type>& samples,
                               std::string_view where) {
  using scalar_type = typename Kernel::scalar_type;
  if constexpr (requires { kernel.profile.validate(where); }) kernel.profile.validate(where);
  const auto sigma = kernel.profile.sigma;
  scorelift::detail::require(sigma >= 0 && std::isfinite(sigma), where, "kernel bandwidth sigma = ", sigma,
                             " but must be > 0 (or 0 for the bandwidth rule)");
  if (sigma == 0) {
    if constexpr (requires { kernel.bandwidth(samples); }) {
      scorelift::detail::require(static_cast<bool>(kernel.bandwidth), where,
                                 "sigma = 0 asks for the kernel's bandwidth rule, but the rule is empty");
      const scalar_type chosen = kernel.bandwidth(samples);
      scorelift::detail::require(chosen > 0 && std::isfinite(chosen), where, "the bandwidth rule returned sigma = ",
                                 chosen, " but must return a finite sigma > 0");
      kernel.profile.sigma = chosen;
    } else {
      kernel.profile.sigma = median_bandwidth<scalar_type>(samples);
    }
  }
  // The kernels scale by 1/σ² up to the third power (the Gaussian's ψ‴(0) = −1/(8σ⁶)): a bandwidth so
  // small that this overflows gives ∞·0 = NaN on the diagonal, and one so large that σ² overflows gives
  // the constant kernel 1. Both are refused here, naming σ, instead of fitting NaN or a singular system.
  const scalar_type resolved = kernel.profile.sigma;
  const scalar_type third = kernel.profile.template derivative<3>(scalar_type(0));
  scorelift::detail::require(std::isfinite(resolved * resolved) && std::isfinite(third), where,
                             "kernel bandwidth sigma = ", resolved, sigma == 0 ? " (bandwidth rule)" : "",
                             " is too ", std::isfinite(third) ? "large: sigma² overflows" : "small: 1/sigma⁶ overflows",
                             " (rescale the samples)");
  return kernel;
}

}  // namespace scorelift::nonparametric

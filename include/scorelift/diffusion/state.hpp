// scorelift/diffusion/state.hpp — what the samplers and parameterisations need from a "state" type X
// (a batch of points: an Eigen matrix, a torch::Tensor, ...): X(a·x + b·y) and X(a·x), nothing more.
// Eigen refuses to mix a float matrix with a double scalar, so coefficients are cast to the state's own
// scalar when it names one (`X::Scalar`); torch::Tensor takes a double through c10::Scalar.
#pragma once

#include <concepts>
#include <type_traits>

namespace scorelift::diffusion {
namespace detail {

template <class X>
struct state_scalar {
  using type = double;
};
template <class X>
  requires requires { typename X::Scalar; }
struct state_scalar<X> {
  using type = typename X::Scalar;
};
template <class X>
using state_scalar_t = typename state_scalar<std::remove_cvref_t<X>>::type;

/// a·x + b·y, evaluated into a fresh X (never an expression template that outlives its operands).
template <class X>
X lincomb(double a, const X& x, double b, const X& y) {
  using S = state_scalar_t<X>;
  return X(static_cast<S>(a) * x + static_cast<S>(b) * y);
}

/// a·x as a fresh X.
template <class X>
X scaled(double a, const X& x) {
  using S = state_scalar_t<X>;
  return X(static_cast<S>(a) * x);
}

}  // namespace detail

/// A batch of points the samplers can move: copyable, closed under a·x + b·y.
template <class X>
concept diffusion_state = std::copy_constructible<X> && requires(const X& x, double a) {
  { X(static_cast<detail::state_scalar_t<X>>(a) * x + static_cast<detail::state_scalar_t<X>>(a) * x) };
};

}  // namespace scorelift::diffusion

// scorelift/detail/power_of_two_exponent.hpp — the exponent that brings a set of values into [−1, 1]
// by a power of two, so that sums of their squares (distances of points ~1e160 or ~1e−170 apart)
// neither overflow nor underflow, and scaling back is exact.
#pragma once

#include <cmath>

namespace scorelift::detail {

/// e with 2^−e·v in [−1, 1] for every |v| ≤ largest: ilogb(largest) + 1, or 0 when largest is 0.
/// Multiplying by 2^∓e (std::ldexp) changes no significand bit.
template <class Scalar>
int power_of_two_exponent(Scalar largest) {
  return largest > Scalar(0) ? std::ilogb(largest) + 1 : 0;
}

}  // namespace scorelift::detail

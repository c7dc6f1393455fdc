// scorelift/detail/whole_as_written.hpp — counts computed from decimal inputs as the user means them.
// 0.07 · 100 is 7.000000000000001 in double and 1/0.3 is 3.3333333333333335: a parameter written in
// decimal is a binary approximation, so a product or quotient that should be a whole number can land a
// few ulps beside it, and ⌈·⌉ or ⌊·⌋ then miss by one.
#pragma once

#include <cmath>
#include <optional>

namespace scorelift::detail {

/// The whole number `value` means when it lies within 4 ulps of one — ulps of the precision `epsilon` the
/// inputs were given in (a float parameter carries float's rounding) — and nullopt otherwise.
inline std::optional<double> whole_as_written(double value, double epsilon) {
  const double nearest = std::nearbyint(value);
  if (std::abs(value - nearest) <= 4.0 * epsilon * std::abs(value)) return nearest;
  return std::nullopt;
}

}  // namespace scorelift::detail

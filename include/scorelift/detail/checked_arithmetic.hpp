// scorelift/detail/checked_arithmetic.hpp — index_t sums and products that refuse to overflow.
//
// Sizes in this library are index_t (std::ptrdiff_t). A product such as modes × noise_levels or
// i × steps that wraps is undefined behaviour for signed integers and, in practice, a small or
// negative size handed to an allocation or a loop bound: memory corruption from a plain call.
// Every size computed from user-supplied counts goes through these helpers instead, which throw
// scorelift::invalid_argument naming the function and the operation:
//     "sign_tracker: modes × noise_levels = 4611686018427387904 × 4 overflows index_t (max 9223372036854775807)"
// The GCC/Clang builtins detect the wrap exactly (no widening type needed); the operands are
// otherwise unrestricted (negative values are the caller's to validate).
#pragma once

#include <limits>
#include <string_view>

#include "scorelift/errors.hpp"

namespace scorelift::detail {

/// a × b, or invalid_argument "`where`: `what` = a × b overflows index_t" when it does not fit.
inline index_t checked_multiply(index_t a, index_t b, std::string_view where, std::string_view what) {
  index_t product = 0;
  if (__builtin_mul_overflow(a, b, &product))
    fail(where, what, " = ", a, " × ", b, " overflows index_t (max ", std::numeric_limits<index_t>::max(), ")");
  return product;
}

/// a + b, or invalid_argument "`where`: `what` = a + b overflows index_t" when it does not fit.
inline index_t checked_add(index_t a, index_t b, std::string_view where, std::string_view what) {
  index_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    fail(where, what, " = ", a, " + ", b, " overflows index_t (max ", std::numeric_limits<index_t>::max(), ")");
  return sum;
}

}  // namespace scorelift::detail

// checked_multiply / checked_add: exact at the edges of index_t, and an overflow (either sign) is an
// invalid_argument naming the function, the operation and both operands.
#include <doctest/doctest.h>

#include <limits>

#include "scorelift/detail/checked_arithmetic.hpp"

using scorelift::index_t;
using scorelift::detail::checked_add;
using scorelift::detail::checked_multiply;

TEST_CASE("checked_multiply and checked_add: exact up to the limits of index_t, a clear error beyond") {
  constexpr index_t max = std::numeric_limits<index_t>::max();
  constexpr index_t min = std::numeric_limits<index_t>::min();
  CHECK(checked_multiply(max, 1, "f", "a × b") == max);
  CHECK(checked_multiply(max / 2, 2, "f", "a × b") == max - 1);
  CHECK(checked_multiply(-3, 7, "f", "a × b") == -21);
  CHECK(checked_multiply(min, 1, "f", "a × b") == min);
  CHECK(checked_add(max - 1, 1, "f", "a + b") == max);
  CHECK(checked_add(min, max, "f", "a + b") == -1);

  CHECK_THROWS_WITH_AS(checked_multiply(max / 2 + 1, 2, "respaced_timesteps", "i × steps"),
                       doctest::Contains("respaced_timesteps: i × steps = 4611686018427387904 × 2 overflows index_t "
                                         "(max 9223372036854775807)"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(checked_multiply(min, -1, "f", "a × b"), doctest::Contains("f: a × b = -9223372036854775808 × -1"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(checked_multiply(index_t{1} << 32, index_t{1} << 31, "f", "a × b"), doctest::Contains("overflows"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(checked_add(max, 1, "edm_sigma_steps", "steps + 1"),
                       doctest::Contains("edm_sigma_steps: steps + 1 = 9223372036854775807 + 1 overflows"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(checked_add(min, -1, "f", "a + b"), doctest::Contains("-9223372036854775808 + -1"),
                       scorelift::invalid_argument);
}

// transpose_into: B = Aᵀ exactly, for blocks of larger row-major matrices (outer strides), in sizes that
// are, and are not, multiples of the SIMD width (full register tiles, ragged right columns, ragged
// bottom rows, both, and blocks narrower than one tile), in float and double; nothing outside B is written.
#include <doctest/doctest.h>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/block_transpose.hpp"

using namespace scorelift;

TEST_CASE_TEMPLATE("transpose_into writes exactly the transpose into a strided block and nothing else", Scalar, float,
                   double) {
  using matrix = nonparametric::detail::row_major<Scalar>;
  for (const index_t rows : {1, 3, 8, 16, 21, 64})
    for (const index_t columns : {1, 5, 8, 17, 32, 64}) {
      CAPTURE(rows);
      CAPTURE(columns);
      const matrix big_a = test::standard_normal(rows + 3, columns + 5, 40).template cast<Scalar>();
      const auto a = big_a.block(2, 3, rows, columns);  // outer stride columns + 5, unaligned start
      matrix big_b = matrix::Constant(columns + 2, rows + 7, Scalar(-7));
      nonparametric::detail::transpose_into<Scalar>(a, big_b.block(1, 4, columns, rows));
      CHECK(big_b.block(1, 4, columns, rows) == a.transpose());
      // Everything around the block keeps its sentinel.
      const Eigen::Index written = columns * rows;
      CHECK((big_b.array() == Scalar(-7)).count() == big_b.size() - written);
    }
}

// scorelift/nonparametric/block_transpose.hpp — B = Aᵀ for row-major blocks, in square register tiles.
//
// A Gram matrix on its own samples is made one block at a time below the diagonal, and each block is
// written to its mirror position while in cache (diagonal_kernel.hpp). Eigen's `b = a.transpose()` on
// dynamic blocks moves one scalar at a time, reading A down its columns: two scalar loads for every
// 16-byte store (Gaussian block of N = 2000, D = 16: ~2.3 of its 7 ms). Here w×w tiles, w the SIMD
// width in scalars, are loaded as w row packets, transposed in registers by Eigen's ptranspose (the
// kernel its own GEMM packing uses, for each instruction set) and stored as w row packets; the ragged
// edges go through Eigen's assignment.
#pragma once

#include <Eigen/Core>

#include "scorelift/nonparametric/thin_product.hpp"  // the operand types, SCORELIFT_PACKET_TYPES_BEGIN/END

namespace scorelift::nonparametric::detail {

/// b = aᵀ for a row-major a (r×c) and b (c×r), unit inner strides; a and b must not overlap.
template <class Scalar>
void transpose_into(const const_row_ref<Scalar>& a, row_ref<Scalar> b) {
  eigen_assert(b.rows() == a.cols() && b.cols() == a.rows());
  const index_t rows = a.rows(), columns = a.cols();
  index_t tiled_rows = 0, tiled_columns = 0;
  SCORELIFT_PACKET_TYPES_BEGIN
  using packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr int width = Eigen::internal::unpacket_traits<packet>::size;
  if constexpr (width > 1) {
    tiled_rows = rows / width * width;
    tiled_columns = columns / width * width;
    const index_t lda = a.outerStride(), ldb = b.outerStride();
    for (index_t i = 0; i < tiled_rows; i += width)
      for (index_t j = 0; j < tiled_columns; j += width) {
        Eigen::internal::PacketBlock<packet, width> tile;
        for (int q = 0; q < width; ++q) tile.packet[q] = Eigen::internal::ploadu<packet>(a.data() + (i + q) * lda + j);
        Eigen::internal::ptranspose(tile);
        for (int q = 0; q < width; ++q) Eigen::internal::pstoreu(b.data() + (j + q) * ldb + i, tile.packet[q]);
      }
  }
  SCORELIFT_PACKET_TYPES_END
  // A's right columns (all rows) are B's bottom rows; A's bottom rows left of them, B's right columns.
  b.bottomRows(columns - tiled_columns) = a.rightCols(columns - tiled_columns).transpose();
  b.topRightCorner(tiled_columns, rows - tiled_rows) = a.bottomLeftCorner(rows - tiled_rows, tiled_columns).transpose();
}

}  // namespace scorelift::nonparametric::detail

// scorelift/nonparametric/thin_product.hpp — C (+)= A W for a large row-major A (n×m, a Gram matrix or a
// tile of one) and a thin W (m×d, d the data dimension): the product every kernel block applies.
//
// A general GEMM packs both operands into its blocked layout on every call. When W has only d ≈ 16
// columns the packing of A is as much memory traffic as the product itself (measured: Eigen spends
// 28% of a Landweber fit at N = 2000 in gemm_pack_rhs for K), and A is used once per call, so packing
// it buys nothing. Here A is read in place, row by row: a register tile of R rows of C and C' columns,
//   C[i..i+R, c..c+C'] = Σⱼ A[i..i+R, j] ⊗ W[j, c..c+C'],
// keeps the R×C' accumulators in vector registers; each step broadcasts R entries of A and loads one row
// segment of W (W, m·d entries, stays in cache). Every entry of C is the sum over j in order, one FMA
// (or multiply-add) at a time: the same result whatever the tile, to rounding.
// At N = 2000, D = 16 this runs at the FMA peak of one AVX-512 core (2.5 ms), so a symmetric variant
// reading only A's lower triangle (half the memory traffic, the same multiply-adds) measured no faster.
// The tile is written in Eigen's packets, its height set by the register count: a 256×1000 by 1000×16
// double product here (Zen 4) runs at 15–19 GFLOP/s with SSE2 only, 33–39 (Clang 46–49) with AVX2 + FMA and
// 55–58 with AVX-512, at -O2 and -O3 alike (an Array-based tile of 8 rows: 14–17, 27–32 and 26–57).
#pragma once

#include <Eigen/Core>
#include <algorithm>

#include "scorelift/backends/eigen.hpp"

namespace scorelift::nonparametric::detail {

/// Row-major operands with unit inner stride and any outer stride (whole matrices, row blocks, tiles).
template <class Scalar>
using row_major = typename eigen_backend<Scalar>::matrix_type;
template <class Scalar>
using const_row_ref = Eigen::Ref<const row_major<Scalar>, 0, Eigen::OuterStride<>>;
template <class Scalar>
using row_ref = Eigen::Ref<row_major<Scalar>, 0, Eigen::OuterStride<>>;

// The accumulators stay in registers only if the loops over a tile's rows and packets are unrolled,
// which GCC does at -O3 but not at -O2 (CMake's RelWithDebInfo): there they went to the stack, and K W at
// N = 2000, D = 16 ran at 6–24 instead of 55 GFLOP/s.
#if defined(__clang__)
#define SCORELIFT_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define SCORELIFT_UNROLL _Pragma("GCC unroll 16")
#else
#define SCORELIFT_UNROLL
#endif
// Eigen's packet traits take a SIMD type (__m512d, …) as a template argument, which GCC warns about.
#if defined(__GNUC__) && !defined(__clang__)
#define SCORELIFT_PACKET_TYPES_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wignored-attributes\"")
#define SCORELIFT_PACKET_TYPES_END _Pragma("GCC diagnostic pop")
#else
#define SCORELIFT_PACKET_TYPES_BEGIN
#define SCORELIFT_PACKET_TYPES_END
#endif

SCORELIFT_PACKET_TYPES_BEGIN
/// The SIMD packet a tile of `Width` columns is made of (Eigen's widest one that divides Width), and how
/// many rows a tile has: as many as keep its R × Width/lanes accumulators, one row of W and a broadcast in
/// the vector registers, at most 8 (Eigen's count: 32 with AVX-512, 16 with AVX or SSE). AVX-512, double,
/// Width 16: 8 rows (16 accumulators); AVX2: 2 rows (8); SSE2: 1 row, Width 16 then spills a little.
template <class Scalar, int Width>
struct thin_tile_shape {
  using packet = typename Eigen::internal::find_best_packet<Scalar, Width>::type;
  static constexpr int lanes = Eigen::internal::unpacket_traits<packet>::size;
  static constexpr bool vectorised = lanes > 1 && Width % lanes == 0;
  static constexpr int per_row = vectorised ? Width / lanes : 1;
  static constexpr int registers = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS;
  static constexpr int rows = std::clamp((registers - per_row - 1) / per_row, 1, 8);
};

/// One register tile: R rows of C, columns [c, c + Width) — `sign` is +1 (add) or −1 (subtract); with
/// `overwrite` the old C is ignored. A's entry (r, j) is a[r·lda + j], or a[j·lda + r] when `Transposed`
/// (A given as the row-major storage of Aᵀ: its R entries of step j are then adjacent). Each step is
/// Eigen's pmadd, a fused multiply-add where the instruction set has one: GCC contracts an Array
/// expression `acc += a * w` into FMAs, Clang does not (37 against 55 GFLOP/s, and other rounding).
template <int R, int Width, bool Transposed, class Scalar>
void thin_product_tile(const Scalar* a, index_t lda, index_t m, const Scalar* w, index_t ldw, Scalar* c, index_t ldc,
                       Scalar sign, bool overwrite) {
  using shape = thin_tile_shape<Scalar, Width>;
  const auto entry = [&](index_t j, int r) { return a[Transposed ? j * lda + r : r * lda + j]; };
  if constexpr (!shape::vectorised) {  // narrower than any packet (Width 1, or no SIMD): plain multiply-adds
    Scalar acc[R][Width] = {};
    for (index_t j = 0; j < m; ++j)
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < Width; ++q) acc[r][q] += entry(j, r) * w[j * ldw + q];
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < Width; ++q) c[r * ldc + q] = (overwrite ? Scalar(0) : c[r * ldc + q]) + sign * acc[r][q];
  } else {
    using packet = typename shape::packet;
    namespace simd = Eigen::internal;
    constexpr int per_row = shape::per_row, lanes = shape::lanes;
    packet acc[R][per_row];
    SCORELIFT_UNROLL
    for (int r = 0; r < R; ++r) {
      SCORELIFT_UNROLL
      for (int q = 0; q < per_row; ++q) acc[r][q] = simd::pset1<packet>(Scalar(0));
    }
    for (index_t j = 0; j < m; ++j) {
      // Transposed, step j reads R adjacent entries a whole row of Aᵀ away from step j − 1's, a stride the
      // hardware prefetcher did not keep ahead of here; the line 16 steps on is requested explicitly (a float
      // forward solve at N = 2000, D = 16, after a residual has evicted L: 1.15–1.30 → 0.82–0.94 ms).
      if constexpr (Transposed)
        if (j + 16 < m) simd::prefetch(a + (j + 16) * lda);
      packet wj[per_row];
      SCORELIFT_UNROLL
      for (int q = 0; q < per_row; ++q) wj[q] = simd::ploadu<packet>(w + j * ldw + q * lanes);
      SCORELIFT_UNROLL
      for (int r = 0; r < R; ++r) {
        const packet ar = simd::pset1<packet>(entry(j, r));
        SCORELIFT_UNROLL
        for (int q = 0; q < per_row; ++q) acc[r][q] = simd::pmadd(ar, wj[q], acc[r][q]);
      }
    }
    const packet s = simd::pset1<packet>(sign);
    SCORELIFT_UNROLL
    for (int r = 0; r < R; ++r) {
      SCORELIFT_UNROLL
      for (int q = 0; q < per_row; ++q) {
        Scalar* out = c + r * ldc + q * lanes;
        const packet scaled = simd::pmul(s, acc[r][q]);
        simd::pstoreu(out, overwrite ? scaled : simd::padd(simd::ploadu<packet>(out), scaled));
      }
    }
  }
}
SCORELIFT_PACKET_TYPES_END

/// Columns [c, c + Width) of rows [0, n): tiles of thin_tile_shape's rows (AVX-512, Width 16: 8 rows, 16
/// accumulator registers; measured 2.5 ms for K W at N = 2000, D = 16 against 4.4 ms with 2 rows, 3.4 ms
/// with 4 and 5.6 ms for Eigen's GEMM), then single rows.
template <int Width, bool Transposed, class Scalar>
void thin_product_columns(const Scalar* a, index_t lda, index_t n, index_t m, const Scalar* w, index_t ldw, Scalar* c,
                          index_t ldc, Scalar sign, bool overwrite) {
  constexpr int rows = thin_tile_shape<Scalar, Width>::rows;
  const index_t row_step = Transposed ? 1 : lda;  // from one row of A to the next
  index_t i = 0;
  for (; i + rows <= n; i += rows)
    thin_product_tile<rows, Width, Transposed>(a + i * row_step, lda, m, w, ldw, c + i * ldc, ldc, sign, overwrite);
  for (; i < n; ++i)
    thin_product_tile<1, Width, Transposed>(a + i * row_step, lda, m, w, ldw, c + i * ldc, ldc, sign, overwrite);
}

/// C (+)= sign·A W for the n×m A stored at `a` as described in thin_product_tile.
template <bool Transposed, class Scalar>
void thin_product_any(const Scalar* a, index_t lda, index_t n, index_t m, const const_row_ref<Scalar>& w,
                      row_ref<Scalar> c, Scalar sign, bool overwrite) {
  const index_t d = w.cols(), ldw = w.outerStride(), ldc = c.outerStride();
  // Column chunks of 16, 8, 4 and 1: at d = 16 one pass over A; each chunk re-reads A's rows from cache
  // only when the 8-row tile (8m entries) fits there, which it does for m up to tens of thousands.
  index_t col = 0;
  for (; col + 16 <= d; col += 16)
    thin_product_columns<16, Transposed>(a, lda, n, m, w.data() + col, ldw, c.data() + col, ldc, sign, overwrite);
  for (; col + 8 <= d; col += 8)
    thin_product_columns<8, Transposed>(a, lda, n, m, w.data() + col, ldw, c.data() + col, ldc, sign, overwrite);
  for (; col + 4 <= d; col += 4)
    thin_product_columns<4, Transposed>(a, lda, n, m, w.data() + col, ldw, c.data() + col, ldc, sign, overwrite);
  for (; col < d; ++col)
    thin_product_columns<1, Transposed>(a, lda, n, m, w.data() + col, ldw, c.data() + col, ldc, sign, overwrite);
}

/// C = sign·A W (overwrite) or C += sign·A W, for row-major A (n×m), W (m×d), C (n×d).
template <class Scalar>
void thin_product(const const_row_ref<Scalar>& a, const const_row_ref<Scalar>& w, row_ref<Scalar> c, Scalar sign,
                  bool overwrite) {
  thin_product_any<false>(a.data(), a.outerStride(), a.rows(), a.cols(), w, c, sign, overwrite);
}

/// C = sign·Bᵀ W or C += sign·Bᵀ W for row-major B (m×n), read in place (Bᵀ is a column-major n×m A):
/// the product with a block of a column-major matrix, such as a Cholesky factor L's rows L[i.., 0..j)
/// from the row-major view of its storage, Lᵀ.
template <class Scalar>
void thin_product_transposed(const const_row_ref<Scalar>& b, const const_row_ref<Scalar>& w, row_ref<Scalar> c,
                             Scalar sign, bool overwrite) {
  thin_product_any<true>(b.data(), b.outerStride(), b.cols(), b.rows(), w, c, sign, overwrite);
}

/// A W as a new n×d matrix.
template <class Scalar>
row_major<Scalar> thin_product(const const_row_ref<Scalar>& a, const const_row_ref<Scalar>& w) {
  row_major<Scalar> c(a.rows(), w.cols());
  thin_product<Scalar>(a, w, c, Scalar(1), true);
  return c;
}

}  // namespace scorelift::nonparametric::detail

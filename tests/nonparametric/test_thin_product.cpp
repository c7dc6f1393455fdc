// thin_product: A W against Eigen's dense product for every column-chunk and row-tile remainder, on
// strided operands (row blocks of larger matrices), overwriting and accumulating with either sign; and
// thin_product_transposed, Bᵀ W with B read in place, the same way.
#include <doctest/doctest.h>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/thin_product.hpp"

using namespace scorelift;
using test::rmat;

TEST_CASE("thin_product equals the dense product for all widths, remainders and strides") {
  for (index_t n : {1, 7, 8, 19}) {
    for (index_t d : {1, 3, 4, 5, 8, 13, 16, 29}) {
      const index_t m = 23;
      const rmat<> big_a = test::standard_normal(n + 2, m + 3, static_cast<std::uint64_t>(n * 100 + d));
      const rmat<> w = test::standard_normal(m, d, static_cast<std::uint64_t>(n * 100 + d + 1));
      const auto a = big_a.block(1, 2, n, m);  // outer stride m + 3
      const rmat<> expected = a * w;
      const double scale = a.cwiseAbs().maxCoeff() * w.cwiseAbs().maxCoeff() * static_cast<double>(m);

      const rmat<> fresh = nonparametric::detail::thin_product<double>(a, w);
      CHECK((fresh - expected).cwiseAbs().maxCoeff() <= 1e-14 * scale);

      rmat<> big_c = rmat<>::Ones(n + 1, d + 2);  // write into a strided block, leave the rest alone
      auto c = big_c.block(1, 1, n, d);
      nonparametric::detail::thin_product<double>(a, w, c, -1.0, false);  // C −= A W
      CHECK((c + expected - rmat<>::Ones(n, d)).cwiseAbs().maxCoeff() <= 1e-14 * scale);
      nonparametric::detail::thin_product<double>(a, w, c, 1.0, true);  // C = A W
      CHECK((c - expected).cwiseAbs().maxCoeff() <= 1e-14 * scale);
      CHECK(big_c.row(0).isOnes());
      CHECK(big_c.col(0).isOnes());
      CHECK(big_c.col(d + 1).isOnes());
    }
  }
}

TEST_CASE("thin_product_transposed equals B^T W for all widths, remainders and strides") {
  for (index_t n : {1, 7, 8, 19}) {
    for (index_t d : {1, 5, 16, 29}) {
      const index_t m = 23;
      const rmat<> big_b = test::standard_normal(m + 2, n + 3, static_cast<std::uint64_t>(n * 100 + d + 7));
      const rmat<> w = test::standard_normal(m, d, static_cast<std::uint64_t>(n * 100 + d + 8));
      const auto b = big_b.block(1, 2, m, n);  // m×n, outer stride n + 3
      const rmat<> expected = b.transpose() * w;
      const double scale = b.cwiseAbs().maxCoeff() * w.cwiseAbs().maxCoeff() * static_cast<double>(m);
      rmat<> big_c = rmat<>::Ones(n + 1, d + 2);
      auto c = big_c.block(1, 1, n, d);
      nonparametric::detail::thin_product_transposed<double>(b, w, c, -1.0, false);  // C −= Bᵀ W
      CHECK((c + expected - rmat<>::Ones(n, d)).cwiseAbs().maxCoeff() <= 1e-14 * scale);
      nonparametric::detail::thin_product_transposed<double>(b, w, c, 1.0, true);  // C = Bᵀ W
      CHECK((c - expected).cwiseAbs().maxCoeff() <= 1e-14 * scale);
      CHECK(big_c.row(0).isOnes());
      CHECK(big_c.col(0).isOnes());
      CHECK(big_c.col(d + 1).isOnes());
    }
  }
}

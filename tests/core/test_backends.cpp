// Every Backend adapter computes the same contractions, reductions and draws: checked on values
// worked out by hand, on each backend through one templated test body.
#include <doctest/doctest.h>

#include <cmath>

#include "backends_under_test.hpp"
#include "scorelift/objectives/lifted.hpp"

using scorelift::index_t;
using scorelift::test::convert;
using scorelift::test::host_matrix;

TEST_CASE_TEMPLATE("backend row_dot, sums and row scaling match hand computation", B, SCORELIFT_TEST_BACKENDS) {
  const host_matrix hx{3, 2, {1, 2, 3, 4, 5, 6}};
  const host_matrix hy{3, 2, {-1, 0.5, 2, 0, 1, -1}};
  const auto x = convert<B>::matrix(hx);
  const auto y = convert<B>::matrix(hy);

  const auto d = convert<B>::host_vector(B::row_dot(x, y));  // [-1+1, 6+0, 5-6]
  REQUIRE(d.size() == 3);
  CHECK(d[0] == doctest::Approx(0.0));
  CHECK(d[1] == doctest::Approx(6.0));
  CHECK(d[2] == doctest::Approx(-1.0));

  const auto v = convert<B>::vector({2.0, -1.0, 0.5});
  CHECK(B::sum(v, 0, 3) == doctest::Approx(1.5));
  CHECK(B::sum(v, 1, 3) == doctest::Approx(-0.5));

  auto out = B::scaled_rows(v, x);  // rows scaled by 2, -1, 0.5
  B::add_scaled_rows(out, v, y);    // += rows of y scaled the same way
  const auto h = convert<B>::host(out);
  CHECK(h(0, 0) == doctest::Approx(2 * 1 + 2 * -1));
  CHECK(h(1, 1) == doctest::Approx(-1 * 4 + -1 * 0));
  CHECK(h(2, 0) == doctest::Approx(0.5 * 5 + 0.5 * 1));

  const auto half = B::slice_rows(x, 1, 3);
  CHECK(B::rows(half) == 2);
  CHECK(convert<B>::host(half)(0, 1) == doctest::Approx(4.0));
  CHECK(B::shape_string(x) == "[3, 2]");
  // Rows outside the view are refused, not read, naming the rows asked for and the rows there are.
  CHECK_THROWS_WITH_AS(B::slice_rows(x, 2, 5), doctest::Contains("rows [2, 5) are outside [0, 3)"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(B::slice_rows(x, 2, 1), doctest::Contains("rows [2, 1) are outside [0, 3)"),
                       scorelift::invalid_argument);

  const auto split = convert<B>::host_vector(B::split_filled(5, 2, 1.5, -2.0, x));
  CHECK(split == std::vector<double>{1.5, 1.5, -2.0, -2.0, -2.0});
  const auto ab = convert<B>::host_vector(B::axpby(2.0, v, -1.0, B::multiply(v, v)));  // 2v - v^2
  CHECK(ab[1] == doctest::Approx(-2.0 - 1.0));
}

TEST_CASE_TEMPLATE("backend finiteness checks see NaN and Inf", B, SCORELIFT_TEST_BACKENDS) {
  host_matrix h{2, 2, {1, 2, 3, 4}};
  CHECK(B::all_finite(convert<B>::matrix(h)));
  h(1, 0) = std::nan("");
  CHECK_FALSE(B::all_finite(convert<B>::matrix(h)));
  h(1, 0) = INFINITY;
  CHECK_FALSE(B::all_finite(convert<B>::matrix(h)));
  CHECK_FALSE(B::all_finite_vector(convert<B>::vector({0.0, -INFINITY})));
}

TEST_CASE_TEMPLATE("backend probes have the moments Hutchinson needs: E[v]=0, E[vv^T]=I", B, SCORELIFT_TEST_BACKENDS) {
  // 20000 draws in D = 3: each second moment has standard error sqrt(Var(v_i v_j)/n) <= sqrt(3/n)
  // ~ 0.012 (Gaussian diagonal: Var = 2); the tolerance 0.05 is > 4 standard errors.
  typename B::generator_type gen(1234);
  const host_matrix like{1, 1, {0}};
  for (int kind = 0; kind < 2; ++kind) {
    const index_t n = 20000, d = 3;
    const auto draws = kind == 0 ? B::gaussian(n, d, gen, convert<B>::matrix(like))
                                 : B::rademacher(n, d, gen, convert<B>::matrix(like));
    const auto h = convert<B>::host(draws);
    for (index_t i = 0; i < d; ++i) {
      double mean = 0;
      for (index_t r = 0; r < n; ++r) mean += h(r, i) / static_cast<double>(n);
      CHECK(std::abs(mean) < 0.05);
      for (index_t j = 0; j < d; ++j) {
        double second = 0;
        for (index_t r = 0; r < n; ++r) second += h(r, i) * h(r, j) / static_cast<double>(n);
        CHECK(std::abs(second - (i == j ? 1.0 : 0.0)) < 0.05);
      }
    }
    if (kind == 1) {
      for (double value : h.values) CHECK(std::abs(value) == 1.0);
    }
  }
}

TEST_CASE_TEMPLATE("a score_batch built from temporaries keeps them alive, and its slices share them", B,
                   SCORELIFT_TEST_BACKENDS) {
  // Views of matrices returned by value: the batch must own them (ASan reads freed memory otherwise).
  const host_matrix hf{4, 2, {1, 2, 3, 4, 5, 6, 7, 8}};
  const host_matrix ht{4, 2, {0.5, -1, 2, 0, 1, -1, 3, 2}};
  const scorelift::score_batch<B> from_temporaries{.modes = {convert<B>::matrix(hf)}, .target = convert<B>::matrix(ht)};
  const auto f = convert<B>::matrix(hf);
  const auto t = convert<B>::matrix(ht);
  const scorelift::score_batch<B> from_lvalues{.modes = {f}, .target = t};
  // Halves A = rows {0, 1}, B = rows {2, 3}: c_A = (1·0.5 − 2 + 6 + 0)/2 = 2.25, c_B = (5 − 6 + 21 + 16)/2 = 18,
  // G_A = (5 + 25)/2 = 15, G_B = (61 + 113)/2 = 87; L = −c_A c_B + ½ G_A G_B = −40.5 + 652.5 = 612.
  CHECK(scorelift::lifted_residual_loss(from_temporaries).value == doctest::Approx(612.0));
  CHECK(scorelift::lifted_residual_loss(from_lvalues).value == doctest::Approx(612.0));

  typename B::matrix_view tail = B::slice_rows(convert<B>::matrix(hf), 2, 4);  // the slice keeps the whole alive
  CHECK(convert<B>::host(tail)(1, 1) == doctest::Approx(8.0));
}

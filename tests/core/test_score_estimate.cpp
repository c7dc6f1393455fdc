// score_estimate: ŝ = Σ_l κ_l f_l with per-sample and with global signs, and shape errors.
#include <doctest/doctest.h>

#include "objective_test_support.hpp"
#include "scorelift/residual/score_estimate.hpp"

using scorelift::test::convert;
using scorelift::test::host_matrix;

TEST_CASE_TEMPLATE("score_estimate sums the signed modes", B, SCORELIFT_TEST_BACKENDS) {
  const auto f1 = convert<B>::matrix(host_matrix{2, 2, {1, 2, 3, 4}});
  const auto f2 = convert<B>::matrix(host_matrix{2, 2, {10, 20, 30, 40}});
  const std::vector<typename B::matrix_view> modes{f1, f2};

  // Per-sample signs: sample 0 has κ = (+1, −1), sample 1 has κ = (−1, +1).
  const std::vector<typename B::vector_type> signs{convert<B>::vector({1, -1}), convert<B>::vector({-1, 1})};
  CHECK(convert<B>::host(scorelift::score_estimate<B>(modes, signs)).values == std::vector<double>{-9, -18, 27, 36});
  CHECK(convert<B>::host(scorelift::score_estimate<B>(modes, std::vector<typename B::vector_type>{})).values == std::vector<double>{11, 22, 33, 44});
  const std::vector<double> global{-1.0, 1.0};
  CHECK(convert<B>::host(scorelift::score_estimate<B>(modes, global)).values == std::vector<double>{9, 18, 27, 36});

  const auto wrong = convert<B>::matrix(host_matrix{1, 2, {0, 0}});
  CHECK_THROWS_WITH_AS(scorelift::score_estimate<B>({f1, wrong}, global),
                       doctest::Contains("argument 'modes[1]' has shape [1, 2] but modes[0] has shape [2, 2]"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(scorelift::score_estimate<B>(modes, std::vector<double>{1.0}),
                       doctest::Contains("argument 'signs' has 1 entries but there are L = 2"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(scorelift::score_estimate<B>({}, std::vector<double>{}),
                       doctest::Contains("argument 'modes' is empty (L = 0)"), scorelift::invalid_argument);
}

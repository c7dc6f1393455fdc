// sign_tracker: EMA arithmetic, sgn(0) = +1, per-noise-level indexing (absent levels keep their
// state), per-sample sign vectors for score_batch, state save/load, bad input.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "objective_test_support.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/residual/sign_tracker.hpp"

using scorelift::index_t;
using scorelift::sign_tracker;
using scorelift::test::convert;

TEST_CASE("sign_tracker: EMA A ← βA + (1−β)a and κ = sgn(A) with sgn(0) = +1") {
  sign_tracker tracker(2);  // β = 0.5
  CHECK(tracker.beta() == 0.5);
  CHECK(tracker.signs() == std::vector<double>{1, 1});  // A = 0: sgn(0) = +1
  tracker.update(std::vector<double>{-2.0, 1.0});
  CHECK(tracker.soft_sign(0) == -1.0);
  CHECK(tracker.soft_sign(1) == 0.5);
  CHECK(tracker.signs() == std::vector<double>{-1, 1});
  tracker.update(std::vector<double>{3.0, -0.5});
  CHECK(tracker.soft_sign(0) == 1.0);  // 0.5·(−1) + 0.5·3
  CHECK(tracker.soft_sign(1) == 0.0);  // 0.5·0.5 + 0.5·(−0.5): exactly zero
  CHECK(tracker.sign(1) == 1.0);       // sgn(0) = +1

  sign_tracker slow(1, 1, 0.9);
  slow.update(std::vector<double>{10.0});
  CHECK(slow.soft_sign(0) == doctest::Approx(1.0));  // 0.9·0 + 0.1·10
}

TEST_CASE("sign_tracker per noise level: averages each level's samples, absent levels keep their state") {
  sign_tracker tracker(2, 3, 0.5);  // 2 modes, 3 noise levels
  tracker.set_state({0, 0, 4, -4, -1, 1});  // rows: level 0, 1, 2
  const std::vector<index_t> levels{2, 0, 2, 2};
  // mode 0: level 0 ← sample 1 (−6); level 2 ← mean(1, 2, 3) = 2. mode 1: level 0 ← 2; level 2 ← mean(−3, 0, 0) = −1.
  tracker.update(levels, std::vector<std::vector<double>>{{1, -6, 2, 3}, {-3, 2, 0, 0}});
  CHECK(tracker.soft_sign(0, 0) == -3.0);
  CHECK(tracker.soft_sign(1, 0) == 1.0);
  CHECK(tracker.soft_sign(0, 1) == 4.0);  // level 1 absent: unchanged
  CHECK(tracker.soft_sign(1, 1) == -4.0);
  CHECK(tracker.soft_sign(0, 2) == 0.5);  // 0.5·(−1) + 0.5·2
  CHECK(tracker.soft_sign(1, 2) == 0.0);  // 0.5·1 + 0.5·(−1): sgn(0) = +1
  const auto signs = tracker.signs_for(std::vector<index_t>{1, 0, 2});
  CHECK(signs[0] == std::vector<double>{1, -1, 1});
  CHECK(signs[1] == std::vector<double>{-1, 1, 1});
  CHECK(tracker.state() == std::vector<double>{-3, 1, 4, -4, 0.5, 0});

  CHECK_THROWS_WITH_AS(tracker.update(std::vector<double>{1, 1}), doctest::Contains("this tracker has 3 noise levels"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tracker.update(std::vector<index_t>{0, 3}, {{1, 1}, {1, 1}}),
                       doctest::Contains("argument 'levels[1]' is 3 but the tracker has noise levels [0, 3)"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tracker.update(std::vector<index_t>{0, 1}, {{1, 1}}),
                       doctest::Contains("got alignments for 1 modes but the tracker has 2"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tracker.set_state({1, 2}), doctest::Contains("argument 'state' has 2 entries"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sign_tracker(2, 1, 1.5), doctest::Contains("argument 'beta' is 1.5"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sign_tracker(0), doctest::Contains("argument 'modes' is 0"), scorelift::invalid_argument);
}

TEST_CASE_TEMPLATE("sign_tracker with backend vectors: lifted alignments in, score_batch signs out", B,
                   SCORELIFT_TEST_BACKENDS) {
  std::mt19937_64 gen(5);
  const auto h = scorelift::test::random_batch({6, 3, 2, true, true, true, false}, gen);
  const scorelift::test::backend_batch<B> bb(h);
  const std::vector<index_t> levels{0, 1, 1, 0, 1, 1};
  const auto per_sample = scorelift::per_sample_residual_alignment(bb.batch);

  sign_tracker tracker(2, 2, 0.5);
  tracker.update<B>(levels, per_sample);
  for (index_t l = 0; l < 2; ++l) {
    const auto host = convert<B>::host_vector(per_sample[static_cast<std::size_t>(l)]);
    CHECK(tracker.soft_sign(l, 0) == doctest::Approx(0.5 * (host[0] + host[3]) / 2));
    CHECK(tracker.soft_sign(l, 1) == doctest::Approx(0.5 * (host[1] + host[2] + host[4] + host[5]) / 4));
  }
  const auto signs = tracker.signs_for<B>(levels, bb.batch.modes.front());
  REQUIRE(signs.size() == 2);
  for (index_t l = 0; l < 2; ++l)
    for (std::size_t b = 0; b < levels.size(); ++b)
      CHECK(convert<B>::host_vector(signs[static_cast<std::size_t>(l)])[b] == tracker.sign(l, levels[b]));

  sign_tracker global(2);
  global.update(scorelift::lifted_residual_loss(bb.batch).residual_alignment);
  const auto broadcast = global.signs_for<B>(6, bb.batch.modes.front());
  CHECK(convert<B>::host_vector(broadcast[1]) == std::vector<double>(6, global.sign(1)));
}

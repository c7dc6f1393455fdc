// sign_tracker: EMA arithmetic, sgn(0) = +1, per-noise-level indexing (absent levels keep their
// state), per-sample sign vectors for score_batch, state save/load, bad input, atomic updates
// (a throwing call leaves state() bit for bit as it was), and the sums/counts form of the update
// that data-parallel training all-reduces.
#include <doctest/doctest.h>

#include <cstddef>
#include <limits>
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
  CHECK(global.signs_for<B>(0, bb.batch.modes.front()).size() == 2);  // an empty batch is fine
  CHECK_THROWS_WITH_AS(global.signs_for<B>(-1, bb.batch.modes.front()),
                       doctest::Contains("sign_tracker::signs_for: argument 'batch' is -1"), scorelift::invalid_argument);

  // level_sums from backend vectors: the same numbers as from their host copies.
  std::vector<std::vector<double>> host;
  for (const auto& v : per_sample) host.push_back(convert<B>::host_vector(v));
  const auto from_backend = tracker.level_sums<B>(levels, per_sample);
  const auto from_host = tracker.level_sums(levels, host);
  CHECK(from_backend.sums == from_host.sums);
  CHECK(from_backend.counts == std::vector<double>{2, 4});
}

namespace {

/// Runs `call`, requires that it throws scorelift::invalid_argument containing `expected`, and
/// that the tracker's state is bit for bit what it was before.
template <class Call>
void check_throws_unchanged(sign_tracker& tracker, Call&& call, const std::string& expected) {
  const std::vector<double> before = tracker.state();
  std::string message;
  try {
    call(tracker);
  } catch (const scorelift::invalid_argument& e) {
    message = e.what();
  }
  CAPTURE(message);
  CHECK(message.find(expected) != std::string::npos);
  CHECK(tracker.state() == before);
}

}  // namespace

TEST_CASE("sign_tracker updates are atomic: a throwing call leaves the state exactly as it was") {
  sign_tracker global(3);
  global.set_state({0.25, -0.5, 0.75});
  // alignment[0] and [1] are fine, [2] is not: nothing may be written (the old loop wrote A_0, A_1).
  check_throws_unchanged(global, [](sign_tracker& t) { t.update(std::vector<double>{1.0, 2.0, std::nan("")}); },
                         "argument 'alignment[2]' is not finite");
  check_throws_unchanged(global, [](sign_tracker& t) { t.update(std::vector<double>{1.0, 2.0}); },
                         "got alignments for 2 modes but the tracker has 3");

  sign_tracker tracker(2, 3, 0.5);
  tracker.set_state({1, -1, 2, -2, 3, -3});
  const std::vector<index_t> levels{0, 2, 2};
  // Mode 0 is valid, mode 1 has a NaN / a short vector / an Inf: mode 0's rows must not move.
  check_throws_unchanged(tracker, [&](sign_tracker& t) { t.update(levels, {{1, 2, 3}, {1, 2, std::nan("")}}); },
                         "sign_tracker::update: argument 'per_sample[1]' is not finite at 2");
  check_throws_unchanged(tracker, [&](sign_tracker& t) { t.update(levels, {{1, 2, 3}, {1, 2}}); },
                         "argument 'per_sample[1]' has length 2 but 'levels' has length 3");
  check_throws_unchanged(
      tracker, [&](sign_tracker& t) { t.update(levels, {{1, 2, 3}, {1, 2, std::numeric_limits<double>::infinity()}}); },
      "argument 'per_sample[1]' is not finite at 2");
  check_throws_unchanged(tracker, [&](sign_tracker& t) { t.update(std::vector<index_t>{0, -1, 2}, {{1, 2, 3}, {1, 2, 3}}); },
                         "argument 'levels[1]' is -1");
  // Finite alignments whose per-level sum overflows: 1e308 + 1e308 = inf at level 2.
  check_throws_unchanged(tracker, [&](sign_tracker& t) { t.update(levels, {{0, 0, 0}, {0, 1e308, 1e308}}); },
                         "the sum of 'per_sample[1]' over the samples of level 2 overflows at sample 2");
  // A new state that is not finite although every input is: 1e308 / 0.5 = 2e308.
  check_throws_unchanged(
      tracker, [](sign_tracker& t) { t.update_from_sums(std::vector<double>{1, 1, 0, 0, 1e308, 1}, std::vector<double>{1, 0, 0.5}); },
      "the new soft sign of mode 0 at noise level 2 is not finite");
  check_throws_unchanged(
      tracker, [](sign_tracker& t) { t.update_from_sums(std::vector<double>{1, 1, 0, 0, 1, 1}, std::vector<double>{1, -1, 1}); },
      "argument 'level_counts[1]' is -1 but must be finite and >= 0");
  check_throws_unchanged(
      tracker, [](sign_tracker& t) { t.update_from_sums(std::vector<double>{1, 1, 0, 0, 1, 1}, std::vector<double>{1, std::nan(""), 1}); },
      "argument 'level_counts[1]' is nan");
  check_throws_unchanged(
      tracker, [](sign_tracker& t) { t.update_from_sums(std::vector<double>{1, 1, 0, 5, 1, 1}, std::vector<double>{1, 0, 1}); },
      "argument 'level_sums[3]' is 5 but level 1 has count 0");
  check_throws_unchanged(
      tracker, [](sign_tracker& t) { t.update_from_sums(std::vector<double>{1, 1, 0, 0, 1}, std::vector<double>{1, 0, 1}); },
      "argument 'level_sums' has 5 entries but the tracker has noise_levels × modes = 3 × 2");
  check_throws_unchanged(
      tracker, [](sign_tracker& t) { t.update_from_sums(std::vector<double>{1, 1, 0, 0, 1, 1}, std::vector<double>{1, 0}); },
      "argument 'level_counts' has 2 entries but the tracker has 3 noise levels");
  check_throws_unchanged(tracker, [](sign_tracker& t) { t.set_state({1, 2, 3, std::nan(""), 5, 6}); },
                         "argument 'state' is not finite at 3");
  CHECK(tracker.state() == std::vector<double>{1, -1, 2, -2, 3, -3});  // and never moved at all
}

TEST_CASE("sign_tracker: update(levels, a) == update_from_sums(level_sums(levels, a)), also all-reduced") {
  std::mt19937_64 gen(11);
  std::uniform_int_distribution<index_t> level_of(0, 3);  // level 4 of 5 never occurs
  std::uniform_int_distribution<int> eighths(-40, 40);     // k/8: every sum below is exact in double
  const index_t modes = 3, n_levels = 5, batch = 40;
  std::vector<index_t> levels(batch);
  for (auto& n : levels) n = level_of(gen);
  std::vector<std::vector<double>> per_sample(modes, std::vector<double>(batch));
  for (auto& row : per_sample)
    for (auto& a : row) a = eighths(gen) / 8.0;

  sign_tracker direct(modes, n_levels, 0.75), via_sums(modes, n_levels, 0.75), reduced(modes, n_levels, 0.75);
  std::vector<double> start(static_cast<std::size_t>(modes * n_levels));
  for (auto& a : start) a = eighths(gen) / 8.0;
  direct.set_state(start);
  via_sums.set_state(start);
  reduced.set_state(start);

  direct.update(levels, per_sample);
  via_sums.update_from_sums(via_sums.level_sums(levels, per_sample));
  CHECK(via_sums.state() == direct.state());

  // Two "processes" with half the batch each: add their sums and counts (the all-reduce), apply once.
  const auto half = static_cast<std::ptrdiff_t>(batch / 2);
  const std::vector<index_t> levels_a(levels.begin(), levels.begin() + half), levels_b(levels.begin() + half, levels.end());
  std::vector<std::vector<double>> a_part, b_part;
  for (const auto& row : per_sample) {
    a_part.emplace_back(row.begin(), row.begin() + half);
    b_part.emplace_back(row.begin() + half, row.end());
  }
  auto total = reduced.level_sums(levels_a, a_part);
  const auto other = reduced.level_sums(levels_b, b_part);
  for (std::size_t i = 0; i < total.sums.size(); ++i) total.sums[i] += other.sums[i];
  for (std::size_t n = 0; n < total.counts.size(); ++n) total.counts[n] += other.counts[n];
  CHECK(total.counts[4] == 0.0);
  reduced.update_from_sums(total.sums, total.counts);
  CHECK(reduced.state() == direct.state());
  // Level 4 had no samples: its row is exactly the starting row.
  for (index_t l = 0; l < modes; ++l) CHECK(direct.soft_sign(l, 4) == start[static_cast<std::size_t>(4 * modes + l)]);
  // And a hand-computed entry: A[0, 0] ← 0.75 A + 0.25 · mean of mode 0 over level 0.
  double sum = 0.0, count = 0.0;
  for (index_t b = 0; b < batch; ++b)
    if (levels[static_cast<std::size_t>(b)] == 0) {
      sum += per_sample[0][static_cast<std::size_t>(b)];
      count += 1.0;
    }
  REQUIRE(count > 0.0);
  CHECK(direct.soft_sign(0, 0) == doctest::Approx(0.75 * start[0] + 0.25 * sum / count));
}

TEST_CASE("sign_tracker: set_state(state()) round-trips, soft signs are any finite reals, signs are ±1") {
  sign_tracker tracker(2, 2, 0.5);
  // Soft signs, not ±1: -0.0 (sgn = +1), a subnormal, the largest double and a small negative value.
  const std::vector<double> soft{-0.0, 4.9e-324, std::numeric_limits<double>::max(), -1e-300};
  tracker.set_state(soft);
  tracker.set_state(tracker.state());
  CHECK(tracker.state() == soft);
  CHECK(std::signbit(tracker.state()[0]));  // -0.0 is kept, not normalised
  CHECK(tracker.signs(0) == std::vector<double>{1, 1});
  CHECK(tracker.signs(1) == std::vector<double>{1, -1});
  tracker.update(std::vector<index_t>{1, 1}, {{1.5, 2.5}, {-3, 5}});
  sign_tracker copy(2, 2, 0.5);
  copy.set_state(tracker.state());
  CHECK(copy.state() == tracker.state());
  // β·max + (1 − β)·mean(1.5, 2.5) = max/2 + 1, and 1 is far below half an ulp of max/2 (2^970): exactly
  // max/2, with no overflow on the way (an Approx here would accept anything within 1e303).
  CHECK(copy.soft_sign(0, 1) == 0.5 * std::numeric_limits<double>::max());
  CHECK(copy.soft_sign(1, 1) == 0.5 * -1e-300 + 0.5);
}

TEST_CASE("sign_tracker: modes × noise_levels is checked before anything is allocated") {
  const index_t huge = std::numeric_limits<index_t>::max() / 2 + 1;
  CHECK_THROWS_WITH_AS(sign_tracker(huge, 4, 0.5),
                       doctest::Contains("sign_tracker: modes × noise_levels = 4611686018427387904 × 4 overflows index_t"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sign_tracker(2, -1, 0.5), doctest::Contains("argument 'noise_levels' is -1"),
                       scorelift::invalid_argument);
}

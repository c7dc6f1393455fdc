// Bad input to the objectives: every violated precondition throws scorelift::invalid_argument
// naming the function and the argument (objectives/detail/validate.hpp is the one place checking).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "objective_test_support.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"

using scorelift::test::backend_batch;
using scorelift::test::host_batch;

namespace {

template <class B>
auto lifted(const host_batch& h, scorelift::lifted_options o = {}) {
  const backend_batch<B> bb(h);
  return scorelift::lifted_residual_loss(bb.batch, o);
}
template <class B>
auto residual(const host_batch& h) {
  const backend_batch<B> bb(h);
  return scorelift::residual_score_matching_loss(bb.batch);
}

host_batch good(bool target = true) {
  std::mt19937_64 gen(1);
  return scorelift::test::random_batch({4, 3, 2, target, true, true, false}, gen);
}

}  // namespace

TEST_CASE_TEMPLATE("objectives reject L = 0, B < 2 (lifted) and D = 0", B, SCORELIFT_TEST_BACKENDS) {
  host_batch h = good();
  h.modes.clear();
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("lifted_residual_loss: argument 'modes' is empty (L = 0)"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(residual<B>(h), doctest::Contains("residual_score_matching_loss: argument 'modes' is empty"),
                       scorelift::invalid_argument);

  std::mt19937_64 gen(2);
  const host_batch single = scorelift::test::random_batch({1, 3, 1, true, false, false, false}, gen);
  CHECK_THROWS_WITH_AS(lifted<B>(single), doctest::Contains("has shape [1, 3] but this objective needs a batch of at least B = 2"),
                       scorelift::invalid_argument);
  CHECK_NOTHROW(residual<B>(single));  // the non-lifted loss is defined for B = 1

  host_batch empty_dim;
  empty_dim.modes.push_back({4, 0, {}});
  empty_dim.target = scorelift::test::host_matrix{4, 0, {}};
  CHECK_THROWS_WITH_AS(lifted<B>(empty_dim), doctest::Contains("dimension D must be at least 1"),
                       scorelift::invalid_argument);
}

TEST_CASE_TEMPLATE("objectives name the mismatched argument and both shapes", B, SCORELIFT_TEST_BACKENDS) {
  std::mt19937_64 gen(3);
  host_batch h = good();
  h.modes[1] = scorelift::test::random_matrix(4, 2, gen);
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("argument 'modes[1]' has shape [4, 2] but modes[0] has shape [4, 3]"),
                       scorelift::invalid_argument);

  h = good();
  h.target = scorelift::test::random_matrix(5, 3, gen);
  CHECK_THROWS_WITH_AS(residual<B>(h), doctest::Contains("argument 'target' has shape [5, 3] but modes[0] has shape [4, 3]"),
                       scorelift::invalid_argument);

  h = good();
  h.weights->pop_back();
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("argument 'weights' has length 3 but the batch has B = 4"),
                       scorelift::invalid_argument);

  h = good();
  h.signs.pop_back();
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("argument 'signs' has 1 entries but there are L = 2 modes"),
                       scorelift::invalid_argument);

  h = good(false);
  h.divergence[1].push_back(0.0);
  CHECK_THROWS_WITH_AS(residual<B>(h), doctest::Contains("argument 'divergence[1]' has length 5"),
                       scorelift::invalid_argument);
  h = good(false);
  h.divergence.pop_back();
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("argument 'divergence' has 1 entries but there are L = 2"),
                       scorelift::invalid_argument);

  h = good(false);
  h.target = scorelift::test::random_matrix(4, 3, gen);
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("exactly one of the arguments 'target' and 'divergence'"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(lifted<B>(good(false), {true, false}), doctest::Contains("distance form needs argument 'target'"),
                       scorelift::invalid_argument);
}

TEST_CASE_TEMPLATE("objectives reject NaN and Inf in every input, naming it", B, SCORELIFT_TEST_BACKENDS) {
  host_batch h = good();
  h.modes[1](2, 1) = std::nan("");
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("argument 'modes[1]' contains NaN or Inf"),
                       scorelift::invalid_argument);
  h = good();
  (*h.target)(0, 0) = INFINITY;
  CHECK_THROWS_WITH_AS(residual<B>(h), doctest::Contains("argument 'target' contains NaN or Inf"),
                       scorelift::invalid_argument);
  h = good();
  (*h.weights)[3] = std::nan("");
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("argument 'weights' contains NaN or Inf"),
                       scorelift::invalid_argument);
  h = good();
  h.signs[0][0] = -INFINITY;
  CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("argument 'signs[0]' contains NaN or Inf"),
                       scorelift::invalid_argument);
  h = good(false);
  h.divergence[0][1] = std::nan("");
  CHECK_THROWS_WITH_AS(residual<B>(h), doctest::Contains("argument 'divergence[0]' contains NaN or Inf"),
                       scorelift::invalid_argument);
}

TEST_CASE_TEMPLATE("objectives reject weights that are zero or negative, naming the sample", B, SCORELIFT_TEST_BACKENDS) {
  for (double bad : {0.0, -1.0, -1e-300}) {
    host_batch h = good();
    (*h.weights)[2] = bad;
    CHECK_THROWS_WITH_AS(lifted<B>(h), doctest::Contains("at sample 2 but weights must be positive"),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(residual<B>(h), doctest::Contains("argument 'weights' is"), scorelift::invalid_argument);
  }
  host_batch h = good();
  (*h.weights)[2] = 1e-300;  // tiny but positive: accepted
  CHECK(std::isfinite(lifted<B>(h).value));
}

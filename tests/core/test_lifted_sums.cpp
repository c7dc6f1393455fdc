// The lifted loss of a batch split into shards, with the shards' half sums added together before the
// products are formed (what a data-parallel job's all-reduce does), equals the loss of one batch
// holding every shard's samples with the same assignment to halves: value, every gradient and the
// sign tracker's alignments. Shards are simulated in one process here; tests/distributed runs the
// same reduction over c10d between real processes.
#include <doctest/doctest.h>

#include <span>

#include "objective_test_support.hpp"
#include "scorelift/objectives/lifted.hpp"

using namespace scorelift;
using namespace scorelift::test;
using E = eigen_backend<double>;

namespace {

/// Rows [begin, end) of every per-sample part of a host batch.
host_batch rows_of(const host_batch& h, index_t begin, index_t end) {
  const auto rows = [&](const host_matrix& m) {
    host_matrix out{end - begin, m.cols, {}};
    out.values.assign(m.values.begin() + begin * m.cols, m.values.begin() + end * m.cols);
    return out;
  };
  const auto entries = [&](const std::vector<double>& v) {
    return std::vector<double>(v.begin() + begin, v.begin() + end);
  };
  host_batch out;
  for (const auto& m : h.modes) out.modes.push_back(rows(m));
  if (h.target) out.target = rows(*h.target);
  for (const auto& d : h.divergence) out.divergence.push_back(entries(d));
  if (h.weights) out.weights = entries(*h.weights);
  for (const auto& s : h.signs) out.signs.push_back(entries(s));
  return out;
}

/// The shards of `whole` with the given sizes, whose half A rows are the first ⌊B_r/2⌋ of each shard:
/// `whole` lists every shard's half A first, then every shard's half B (the one-process reference).
std::vector<host_batch> shards_of(const host_batch& whole, const std::vector<index_t>& sizes) {
  index_t total_a = 0;
  for (index_t s : sizes) total_a += s / 2;
  std::vector<host_batch> shards;
  index_t a = 0, b = total_a;
  for (index_t s : sizes) {
    host_batch half_a = rows_of(whole, a, a + s / 2), half_b = rows_of(whole, b, b + s - s / 2);
    a += s / 2;
    b += s - s / 2;
    // Concatenate the two halves of this shard.
    host_batch shard = half_a;
    const auto append = [](host_matrix& m, const host_matrix& more) {
      m.values.insert(m.values.end(), more.values.begin(), more.values.end());
      m.rows += more.rows;
    };
    for (std::size_t l = 0; l < shard.modes.size(); ++l) append(shard.modes[l], half_b.modes[l]);
    if (shard.target) append(*shard.target, *half_b.target);
    const auto extend = [](std::vector<double>& v, const std::vector<double>& more) { v.insert(v.end(), more.begin(), more.end()); };
    for (std::size_t l = 0; l < shard.divergence.size(); ++l) extend(shard.divergence[l], half_b.divergence[l]);
    if (shard.weights) extend(*shard.weights, *half_b.weights);
    for (std::size_t l = 0; l < shard.signs.size(); ++l) extend(shard.signs[l], half_b.signs[l]);
    shards.push_back(shard);
  }
  return shards;
}

/// Each shard's result with the sums of all shards (round 1 collects them, round 2 hands them over).
std::vector<objective_result<E>> sharded_results(const std::vector<host_batch>& shards, const lifted_options& options) {
  std::vector<double> total;
  for (const auto& shard : shards) {
    const backend_batch<E> b(shard);
    (void)lifted_residual_loss(b.batch, options, [&](std::span<double> sums) {
      if (total.empty()) total.assign(sums.size(), 0.0);
      for (std::size_t i = 0; i < sums.size(); ++i) total[i] += sums[i];
    });
  }
  std::vector<objective_result<E>> results;
  for (const auto& shard : shards) {
    const backend_batch<E> b(shard);
    results.push_back(lifted_residual_loss(b.batch, options, [&](std::span<double> sums) {
      std::copy(total.begin(), total.end(), sums.begin());
    }));
  }
  return results;
}

/// Row `row` of shard `r` is this row of the reference batch.
index_t reference_row(const std::vector<index_t>& sizes, std::size_t r, index_t row) {
  index_t total_a = 0, before_a = 0, before_b = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    total_a += sizes[i] / 2;
    if (i < r) {
      before_a += sizes[i] / 2;
      before_b += sizes[i] - sizes[i] / 2;
    }
  }
  const index_t own_a = sizes[r] / 2;
  return row < own_a ? before_a + row : total_a + before_b + (row - own_a);
}

void check_against_reference(const batch_options& o, const std::vector<index_t>& sizes, const lifted_options& options,
                             unsigned seed) {
  std::mt19937_64 gen(seed);
  const host_batch whole = random_batch(o, gen);
  const backend_batch<E> reference_batch(whole);
  const auto reference = lifted_residual_loss(reference_batch.batch, options);
  const auto results = sharded_results(shards_of(whole, sizes), options);
  const double tolerance = 1e-12;
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    const auto& got = results[r];
    CHECK(got.value == doctest::Approx(reference.value).epsilon(tolerance));
    for (std::size_t l = 0; l < got.level_values.size(); ++l) {
      CHECK(got.level_values[l] == doctest::Approx(reference.level_values[l]).epsilon(tolerance));
      CHECK(got.residual_alignment[l] == doctest::Approx(reference.residual_alignment[l]).epsilon(tolerance));
    }
    const double scale = reference.grad_modes[0].cwiseAbs().maxCoeff();
    for (index_t row = 0; row < sizes[r]; ++row) {
      const index_t at = reference_row(sizes, r, row);
      for (std::size_t l = 0; l < got.grad_modes.size(); ++l) {
        CHECK((got.grad_modes[l].row(row) - reference.grad_modes[l].row(at)).cwiseAbs().maxCoeff() <= tolerance * scale);
        if (!o.target)
          CHECK(std::abs(got.grad_divergence[l](row) - reference.grad_divergence[l](at)) <= tolerance * scale);
      }
      if (o.target)
        CHECK((got.grad_target->row(row) - reference.grad_target->row(at)).cwiseAbs().maxCoeff() <= tolerance * scale);
    }
  }
}

}  // namespace

TEST_CASE("lifted loss over shards with summed half sums equals one process holding every shard") {
  // 13 = 5 + 4 + 4 and 7 = 3 + 4: Σ⌊B_r/2⌋ = ⌊B/2⌋, so the one-process batch splits where the shards do.
  SUBCASE("LDSE, weights and per-sample signs, residual L = 3, distance form") {
    check_against_reference({.batch = 13, .dim = 3, .levels = 3, .target = true, .weights = true, .signs = true},
                            {5, 4, 4}, {.distance_form = true}, 11);
  }
  SUBCASE("LDSE L = 1, asymmetric weights, ÷ D²") {
    check_against_reference({.batch = 7, .dim = 4, .levels = 1, .target = true, .weights = true}, {3, 4},
                            {.divide_by_dim_squared = true}, 12);
  }
  SUBCASE("LSE (divergence), L = 2, signs") {
    check_against_reference({.batch = 13, .dim = 2, .levels = 2, .target = false, .signs = true}, {4, 5, 4}, {}, 13);
  }
}

TEST_CASE("with two odd shards the global gradients are the derivatives of the global value") {
  // 3 + 5: halves of 1 + 2 and 2 + 3, which no single split of 8 rows reproduces; the reference is
  // the global value itself, differentiated by central differences (exact: quadratic per entry).
  std::mt19937_64 gen(21);
  const host_batch whole = random_batch({.batch = 8, .dim = 2, .levels = 2, .target = true, .weights = true, .signs = true}, gen);
  std::vector<host_batch> shards = shards_of(whole, {3, 5});
  const auto results = sharded_results(shards, {});
  const auto level_value = [&](std::size_t l) {
    return [&, l](const host_batch&) { return sharded_results(shards, {})[0].level_values[l] / 2.0; };
  };
  const auto full_value = [&](const host_batch&) { return sharded_results(shards, {})[0].value; };
  CHECK(results[1].value == results[0].value);
  double worst = 0.0;
  for (std::size_t r = 0; r < shards.size(); ++r) {
    for (std::size_t l = 0; l < 2; ++l) {
      for (std::size_t i = 0; i < shards[r].modes[l].values.size(); ++i) {
        const double fd = central_difference(shards[r], shards[r].modes[l].values[i], level_value(l));
        const double g = results[r].grad_modes[l].data()[i];
        worst = std::max(worst, std::abs(fd - g) / std::max(std::abs(g), 1e-3));
      }
    }
    for (std::size_t i = 0; i < shards[r].target->values.size(); ++i) {
      const double fd = central_difference(shards[r], shards[r].target->values[i], full_value);
      const double g = results[r].grad_target->data()[i];
      worst = std::max(worst, std::abs(fd - g) / std::max(std::abs(g), 1e-3));
    }
  }
  CHECK(worst < 1e-7);
}

TEST_CASE("a reducer that loses a shard's samples or returns non-finite sums is refused") {
  std::mt19937_64 gen(31);
  const host_batch h = random_batch({.batch = 6, .dim = 2, .levels = 1}, gen);
  const backend_batch<E> b(h);
  CHECK_THROWS_WITH_AS(lifted_residual_loss(b.batch, {}, [](std::span<double> sums) { sums[0] = 0.0; }),
                       doctest::Contains("reduced half A has 0 samples"), invalid_argument);
  CHECK_THROWS_WITH_AS(lifted_residual_loss(b.batch, {}, [](std::span<double> sums) { sums.back() = INFINITY; }),
                       doctest::Contains("not finite"), invalid_argument);
}

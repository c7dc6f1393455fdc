// Probes: E[v vᵀ] = I for all three kinds (so Hutchinson is unbiased for tr A), the sphere kind has
// ‖v‖² = D exactly, and the per-probe helpers average and project as documented.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "objective_test_support.hpp"
#include "scorelift/probes.hpp"

using scorelift::index_t;
using scorelift::probe_kind;
using scorelift::test::convert;
using scorelift::test::host_matrix;

TEST_CASE_TEMPLATE("every probe kind has E[v vᵀ] = I and gives an unbiased Hutchinson trace", B,
                   SCORELIFT_TEST_BACKENDS) {
  // 4 probe matrices of 5000 × 4 = 20000 draws. Second moments have standard error <= sqrt(2/20000)
  // = 0.01; tolerance 0.05. The Hutchinson estimate of tr A for a fixed A (tr A = 2.5) has standard
  // error sqrt(Var(vᵀAv)/20000) < 0.03 here; tolerance 0.15.
  const index_t d = 4, n = 5000, m = 4;
  const double a[4][4] = {{1.0, 0.5, -0.3, 0.0}, {0.2, -0.5, 0.1, 0.4}, {0.0, 0.3, 2.0, -0.2}, {0.6, 0.0, 0.1, 0.0}};
  typename B::generator_type gen(99);
  const auto like = convert<B>::matrix(host_matrix{1, 1, {0}});
  for (probe_kind kind : {probe_kind::rademacher, probe_kind::gaussian, probe_kind::sphere}) {
    INFO(scorelift::probe_name(kind));
    const auto probes = scorelift::draw_probes<B>(kind, m, n, d, gen, like);
    REQUIRE(probes.size() == static_cast<std::size_t>(m));
    double second[4][4] = {}, trace = 0;
    for (const auto& probe : probes) {
      const host_matrix v = convert<B>::host(probe);
      REQUIRE(v.rows == n);
      REQUIRE(v.cols == d);
      for (index_t r = 0; r < n; ++r) {
        double norm = 0;
        for (index_t i = 0; i < d; ++i) {
          norm += v(r, i) * v(r, i);
          for (index_t j = 0; j < d; ++j) {
            second[i][j] += v(r, i) * v(r, j) / static_cast<double>(n * m);
            trace += v(r, i) * a[i][j] * v(r, j) / static_cast<double>(n * m);
          }
        }
        if (kind != probe_kind::gaussian) REQUIRE(norm == doctest::Approx(static_cast<double>(d)).epsilon(1e-12));
      }
    }
    for (index_t i = 0; i < d; ++i)
      for (index_t j = 0; j < d; ++j) CHECK(std::abs(second[i][j] - (i == j ? 1.0 : 0.0)) < 0.05);
    CHECK(std::abs(trace - 2.5) < 0.15);
  }
}

TEST_CASE_TEMPLATE("probe_projections and average_over_probes compute vᵀf and (1/M)Σ", B, SCORELIFT_TEST_BACKENDS) {
  const auto f = convert<B>::matrix(host_matrix{2, 2, {1, 2, 3, 4}});
  std::vector<typename B::matrix_type> probes{convert<B>::matrix(host_matrix{2, 2, {1, -1, 1, 1}}),
                                              convert<B>::matrix(host_matrix{2, 2, {-1, -1, 1, -1}})};
  const auto projections = scorelift::probe_projections<B>(probes, f);
  CHECK(convert<B>::host_vector(projections[0]) == std::vector<double>{-1, 7});
  CHECK(convert<B>::host_vector(projections[1]) == std::vector<double>{-3, -1});
  CHECK(convert<B>::host_vector(scorelift::average_over_probes<B>(projections)) == std::vector<double>{-2, 3});

  CHECK_THROWS_WITH_AS(scorelift::average_over_probes<B>({}), doctest::Contains("argument 'per_probe' is empty (M = 0)"),
                       scorelift::invalid_argument);
  probes.push_back(convert<B>::matrix(host_matrix{3, 2, {1, 1, 1, 1, 1, 1}}));
  CHECK_THROWS_WITH_AS(scorelift::probe_projections<B>(probes, f),
                       doctest::Contains("argument 'probes[2]' has shape [3, 2] but 'f' has shape [2, 2]"),
                       scorelift::invalid_argument);
  typename B::generator_type gen(1);
  CHECK_THROWS_WITH_AS(scorelift::draw_probes<B>(probe_kind::gaussian, 0, 2, 2, gen, f),
                       doctest::Contains("draw_probes: argument 'probes' is 0"), scorelift::invalid_argument);
  // Element counts that wrap index_t are refused before any backend sizes a buffer with them.
  const index_t half = std::numeric_limits<index_t>::max() / 2 + 1;
  CHECK_THROWS_WITH_AS(scorelift::draw_probes<B>(probe_kind::gaussian, 1, half, 2, gen, f),
                       doctest::Contains("draw_probes: batch × dim = 4611686018427387904 × 2 overflows index_t"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(scorelift::draw_probes<B>(probe_kind::rademacher, 4, index_t{1} << 31, index_t{1} << 31, gen, f),
                       doctest::Contains("draw_probes: probes × batch × dim = 4 × 4611686018427387904 overflows"),
                       scorelift::invalid_argument);
  // A kind cast from an integer outside the enumeration: an error, not silently fewer probes.
  CHECK_THROWS_WITH_AS(scorelift::draw_probes<B>(static_cast<probe_kind>(7), 2, 2, 2, gen, f),
                       doctest::Contains("draw_probes: argument 'kind' is 7 which is not a probe_kind"),
                       scorelift::invalid_argument);
}

TEST_CASE("probe kinds round-trip through their names") {
  for (probe_kind kind : {probe_kind::rademacher, probe_kind::gaussian, probe_kind::sphere})
    CHECK(scorelift::parse_probe_kind(scorelift::probe_name(kind)) == kind);
  CHECK_THROWS_WITH_AS(scorelift::parse_probe_kind("unit-sphere"), doctest::Contains("'unit-sphere'"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(scorelift::probe_name(static_cast<probe_kind>(-1)),
                       doctest::Contains("probe_name: argument 'kind' is -1 which is not a probe_kind"),
                       scorelift::invalid_argument);
}

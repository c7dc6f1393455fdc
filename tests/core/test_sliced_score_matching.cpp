// sliced_score_matching_loss: value and gradients by hand and by finite differences, its
// expectation tr W + ½E‖f‖² for a linear model on a Gaussian with each probe kind, bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "objective_test_support.hpp"
#include "scorelift/objectives/sliced_score_matching.hpp"
#include "scorelift/probes.hpp"

using scorelift::index_t;
using scorelift::test::convert;

TEST_CASE_TEMPLATE("sliced_score_matching_loss: mean over samples and probes, gradients", B, SCORELIFT_TEST_BACKENDS) {
  // M = 2, B = 3: J = (1/6) Σ [h + ½ p²].
  const std::vector<std::vector<double>> h{{1, -2, 0.5}, {0, 3, -1}}, p{{2, 0, -1}, {1, -3, 0.5}};
  std::vector<typename B::vector_type> hb, pb;
  for (std::size_t m = 0; m < 2; ++m) {
    hb.push_back(convert<B>::vector(h[m]));
    pb.push_back(convert<B>::vector(p[m]));
  }
  const auto r = scorelift::sliced_score_matching_loss<B>(hb, pb);
  const double expected = (1.5 + 0.5 * (4 + 0 + 1 + 1 + 9 + 0.25)) / 6.0;
  CHECK(r.value == doctest::Approx(expected).epsilon(1e-14));
  // Finite differences: J is linear in h and quadratic in p, so central differences are exact.
  const double step = 1e-3;
  for (std::size_t m = 0; m < 2; ++m)
    for (std::size_t b = 0; b < 3; ++b) {
      auto pp = p, pm = p;
      pp[m][b] += step;
      pm[m][b] -= step;
      const auto value = [&](const std::vector<std::vector<double>>& q) {
        std::vector<typename B::vector_type> qb{convert<B>::vector(q[0]), convert<B>::vector(q[1])};
        return scorelift::sliced_score_matching_loss<B>(hb, qb).value;
      };
      CHECK(convert<B>::host_vector(r.grad_projections[m])[b] ==
            doctest::Approx((value(pp) - value(pm)) / (2 * step)).epsilon(1e-9));
    }
  CHECK(r.grad_hutchinson == doctest::Approx(1.0 / 6.0));

  CHECK_THROWS_WITH_AS(scorelift::sliced_score_matching_loss<B>({}, {}),
                       doctest::Contains("argument 'hutchinson' is empty (M = 0 probes)"), scorelift::invalid_argument);
  pb[1] = convert<B>::vector({1, 2});
  CHECK_THROWS_WITH_AS(scorelift::sliced_score_matching_loss<B>(hb, pb),
                       doctest::Contains("argument 'projections[1]' has length 2 but the batch has B = 3"),
                       scorelift::invalid_argument);
  pb[1] = convert<B>::vector({1, std::nan(""), 0});
  CHECK_THROWS_WITH_AS(scorelift::sliced_score_matching_loss<B>(hb, pb),
                       doctest::Contains("argument 'projections[1]' contains NaN"), scorelift::invalid_argument);
}

TEST_CASE_TEMPLATE("SSM expectation is tr W + ½E‖f‖² for a linear model, with every probe kind", B,
                   SCORELIFT_TEST_BACKENDS) {
  // h = vᵀ W v, p = vᵀ(Wx + b): E[h] = tr W and E[p²] = E‖f‖² when E[vvᵀ] = I. Tolerance: 4 standard
  // errors of 100 replicates (400 samples, M = 2 probes each); SE < 3% of the value (power).
  std::mt19937_64 gen(41);
  const auto p = scorelift::test::gaussian_linear_problem::random(3, gen);
  const double expected = p.trace_w() + 0.5 * p.mean_norm_f();
  const index_t n = 400, d = p.dim();
  typename B::generator_type probe_gen(42);
  for (auto kind : {scorelift::probe_kind::rademacher, scorelift::probe_kind::gaussian, scorelift::probe_kind::sphere}) {
    std::vector<double> values;
    for (int k = 0; k < 100; ++k) {
      const Eigen::MatrixXd x = p.sample(n, gen);
      const auto f = convert<B>::matrix(scorelift::test::to_host(p.model(x)));
      const auto probes = scorelift::draw_probes<B>(kind, 2, n, d, probe_gen, f);
      std::vector<typename B::vector_type> hutchinson;
      for (const auto& v : probes) {
        // (V Wᵀ) has rows (W v_b)ᵀ, so row_dot(V, V Wᵀ) is vᵀ W v per sample.
        const auto host_v = convert<B>::host(v);
        Eigen::MatrixXd vm(n, d);
        for (index_t r = 0; r < n; ++r)
          for (index_t c = 0; c < d; ++c) vm(r, c) = host_v(r, c);
        hutchinson.push_back(B::row_dot(v, convert<B>::matrix(scorelift::test::to_host(vm * p.w.transpose()))));
      }
      values.push_back(
          scorelift::sliced_score_matching_loss<B>(hutchinson, scorelift::probe_projections<B>(probes, f)).value);
    }
    const scorelift::test::replicate_mean estimate(values);
    INFO(scorelift::probe_name(kind), ": ", estimate.mean, " ± ", estimate.standard_error, " vs ", expected);
    CHECK(std::abs(estimate.mean - expected) < 4.0 * estimate.standard_error);
    CHECK(estimate.standard_error < 0.03 * std::abs(expected));
  }
}

// residual_score_matching_loss: the value against a naive transcription of the residual ISM/DSM
// formulas, gradients against central differences, closed forms for a linear model on a Gaussian
// (ISM, SSM-VR, DSM), bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "objective_test_support.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"
#include "scorelift/probes.hpp"

using scorelift::index_t;
using scorelift::test::backend_batch;
using scorelift::test::batch_options;
using scorelift::test::host_batch;

namespace {

/// L_l = ½ mean w‖f_l − r_l‖² (target, r_l = t − Σ_{i<l} f_i) or mean w(½‖f_l‖² + div_l + ⟨Σ_{i<l} f_i, f_l⟩).
std::vector<double> reference_levels(const host_batch& h) {
  const index_t n = h.batch(), d = h.dim();
  std::vector<double> levels;
  for (std::size_t l = 0; l < h.modes.size(); ++l) {
    double value = 0;
    for (index_t b = 0; b < n; ++b) {
      double per_sample = h.target ? 0.0 : h.divergence[l][static_cast<std::size_t>(b)];
      for (index_t j = 0; j < d; ++j) {
        double earlier = 0;
        for (std::size_t i = 0; i < l; ++i) earlier += h.modes[i](b, j);
        const double f = h.modes[l](b, j);
        if (h.target) {
          const double r = (*h.target)(b, j) - earlier;
          per_sample += 0.5 * (f - r) * (f - r);
        } else {
          per_sample += 0.5 * f * f + earlier * f;
        }
      }
      value += scorelift::test::weight_of(h, b) * per_sample / static_cast<double>(n);
    }
    levels.push_back(value);
  }
  return levels;
}

std::vector<batch_options> sweep() {
  std::vector<batch_options> cases;
  int k = 0;
  for (index_t levels = 1; levels <= 4; ++levels)
    for (index_t n : {1, 2, 5, 8})
      for (index_t d : {1, 3, 50}) {
        if (d == 50 && n > 5) continue;  // keep the finite differences cheap
        cases.push_back({n, d, levels, k % 2 == 0, k % 3 != 0, k % 4 == 1, false});
        ++k;
      }
  return cases;
}

}  // namespace

TEST_CASE_TEMPLATE("residual_score_matching_loss equals the residual ISM/DSM formulas", B, SCORELIFT_TEST_BACKENDS) {
  std::mt19937_64 gen(3);
  for (const auto& o : sweep()) {
    const host_batch h = scorelift::test::random_batch(o, gen);
    const backend_batch<B> bb(h);
    const auto result = scorelift::residual_score_matching_loss(bb.batch);
    const auto expected = reference_levels(h);
    INFO("B = ", o.batch, ", D = ", o.dim, ", L = ", o.levels, ", target = ", o.target);
    REQUIRE(result.level_values.size() == expected.size());
    double mean = 0;
    for (std::size_t l = 0; l < expected.size(); ++l) {
      CHECK(result.level_values[l] == doctest::Approx(expected[l]).epsilon(1e-12));
      mean += expected[l] / static_cast<double>(expected.size());
    }
    CHECK(result.value == doctest::Approx(mean).epsilon(1e-12));
  }
}

TEST_CASE_TEMPLATE("residual_score_matching_loss gradients equal central finite differences", B,
                   SCORELIFT_TEST_BACKENDS) {
  std::mt19937_64 gen(5);
  for (const auto& o : sweep()) {
    const host_batch h = scorelift::test::random_batch(o, gen);
    const auto loss = [](const scorelift::score_batch<B>& batch) {
      return scorelift::residual_score_matching_loss(batch);
    };
    const scorelift::test::gradient_check<B, decltype(loss)> check(h, loss);
    INFO("B = ", o.batch, ", D = ", o.dim, ", L = ", o.levels, ", target = ", o.target, ", weights = ", o.weights);
    CHECK(check.modes < 1e-6);
    CHECK(check.target < 1e-6);
    CHECK(check.divergence < 1e-6);
  }
}

TEST_CASE_TEMPLATE("residual_score_matching_loss: signs are ignored, L = 1 with a target is plain DSM", B,
                   SCORELIFT_TEST_BACKENDS) {
  std::mt19937_64 gen(8);
  host_batch h = scorelift::test::random_batch({6, 4, 1, true, false, false, false}, gen);
  const backend_batch<B> plain(h);
  const double dsm = scorelift::residual_score_matching_loss(plain.batch).value;
  double expected = 0;  // ½ mean ‖f − t‖²
  for (std::size_t i = 0; i < h.modes[0].values.size(); ++i) {
    const double diff = h.modes[0].values[i] - h.target->values[i];
    expected += 0.5 * diff * diff / 6.0;
  }
  CHECK(dsm == doctest::Approx(expected).epsilon(1e-13));
  h.signs.push_back({-1, 1, -1, 1, -1, 1});
  const backend_batch<B> signed_batch(h);
  CHECK(scorelift::residual_score_matching_loss(signed_batch.batch).value == dsm);
}

TEST_CASE_TEMPLATE("ISM, SSM-VR and DSM match their closed forms for a linear model on a Gaussian", B,
                   SCORELIFT_TEST_BACKENDS) {
  // f(x) = W x + b, x ~ N(μ, Σ):  ISM = SSM-VR expectation = tr W + ½ E‖f‖²;
  // DSM on x̃ = x + σε, t = −ε/σ:  ½ E‖W x + b + (σW + I/σ) ε‖² = ½ (E‖f‖² + ‖σW + I/σ‖²_F).
  // Tolerance: 4 standard errors of 100 replicate batches of 400; SE < 2% of the value (power).
  using scorelift::test::replicate_mean;
  std::mt19937_64 gen(31);
  const auto p = scorelift::test::gaussian_linear_problem::random(4, gen);
  const index_t n = 400, d = p.dim();
  const double sigma = 0.7;
  const double ism = p.trace_w() + 0.5 * p.mean_norm_f();
  const Eigen::MatrixXd dsm_noise_map = sigma * p.w + Eigen::MatrixXd::Identity(d, d) / sigma;
  const double dsm = 0.5 * (p.mean_norm_f() + dsm_noise_map.squaredNorm());

  std::vector<double> ism_values, ssm_vr_values, dsm_values;
  std::normal_distribution<double> z;
  typename B::generator_type probe_gen(32);
  for (int k = 0; k < 100; ++k) {
    const Eigen::MatrixXd x = p.sample(n, gen);
    const auto loss = [](const host_batch& h) {
      const backend_batch<B> bb(h);
      return scorelift::residual_score_matching_loss(bb.batch).value;
    };
    host_batch h;
    h.modes.push_back(scorelift::test::to_host(p.model(x)));
    h.divergence.push_back(std::vector<double>(static_cast<std::size_t>(n), p.trace_w()));
    ism_values.push_back(loss(h));

    // SSM-VR: the trace replaced by the mean over M = 2 Rademacher probes of vᵀ W v.
    const auto like = scorelift::test::convert<B>::matrix(h.modes[0]);
    const auto probes = scorelift::draw_probes<B>(scorelift::probe_kind::rademacher, 2, n, d, probe_gen, like);
    std::vector<typename B::vector_type> hutchinson;
    for (const auto& v : probes) {
      const Eigen::MatrixXd vh = Eigen::Map<const Eigen::MatrixXd>(
          scorelift::test::convert<B>::host(v).values.data(), d, n).transpose();  // host_matrix is row-major
      const Eigen::VectorXd vwv = vh.cwiseProduct(vh * p.w.transpose()).rowwise().sum();
      hutchinson.push_back(scorelift::test::convert<B>::vector(std::vector<double>(vwv.data(), vwv.data() + n)));
    }
    h.divergence[0] = scorelift::test::convert<B>::host_vector(scorelift::average_over_probes<B>(hutchinson));
    ssm_vr_values.push_back(loss(h));

    const Eigen::MatrixXd eps = Eigen::MatrixXd::NullaryExpr(n, d, [&] { return z(gen); });
    host_batch noisy;
    noisy.modes.push_back(scorelift::test::to_host(p.model(x + sigma * eps)));
    noisy.target = scorelift::test::to_host(-eps / sigma);
    dsm_values.push_back(loss(noisy));
  }
  const std::pair<const std::vector<double>*, double> checks[] = {
      {&ism_values, ism}, {&ssm_vr_values, ism}, {&dsm_values, dsm}};
  for (const auto& check : checks) {
    const double expected = check.second;  // a plain variable: INFO captures it (Clang 14 cannot capture a binding)
    const replicate_mean estimate(*check.first);
    INFO(estimate.mean, " ± ", estimate.standard_error, " vs ", expected);
    CHECK(std::abs(estimate.mean - expected) < 4.0 * estimate.standard_error);
    CHECK(estimate.standard_error < 0.02 * std::abs(expected));
  }
}

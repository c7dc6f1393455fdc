// lifted_residual_loss: the value against a naive transcription of DESIGN.md (explicit G_h[l,k]
// matrices), gradients against central differences, closed forms for a Gaussian, bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "objective_test_support.hpp"
#include "scorelift/objectives/lifted.hpp"

using scorelift::index_t;
using scorelift::lifted_options;
using scorelift::test::backend_batch;
using scorelift::test::batch_options;
using scorelift::test::host_batch;

namespace {

struct lifted_reference {
  std::vector<double> level_values;
  std::vector<double> residual_alignment;
  double value = 0.0;
};

/// L_l = −c_A[l] c_B[l] + ½ G_A[l,l] G_B[l,l] (+ ½ T_A T_B) (÷ D²), written with explicit loops.
lifted_reference reference(const host_batch& h, const lifted_options& options) {
  const index_t n = h.batch(), d = h.dim(), levels = h.levels();
  const index_t half_begin[2] = {0, n / 2}, half_end[2] = {n / 2, n};
  const auto tilde = [&](index_t l, index_t b, index_t j) {
    return scorelift::test::sign_of(h, l, b) * h.modes[static_cast<std::size_t>(l)](b, j);
  };
  lifted_reference out;
  for (index_t l = 0; l < levels; ++l) {
    double c[2] = {0, 0}, g_ll[2] = {0, 0}, t_norm[2] = {0, 0};
    for (int half = 0; half < 2; ++half) {
      const auto size = static_cast<double>(half_end[half] - half_begin[half]);
      for (index_t b = half_begin[half]; b < half_end[half]; ++b) {
        const double w = scorelift::test::weight_of(h, b);
        double a = 0, earlier = 0, own = 0, tt = 0;
        for (index_t j = 0; j < d; ++j) {
          if (h.target) {
            a += (*h.target)(b, j) * tilde(l, b, j);
            tt += (*h.target)(b, j) * (*h.target)(b, j);
          }
          for (index_t i = 0; i < l; ++i) earlier += tilde(l, b, j) * tilde(i, b, j);
          own += tilde(l, b, j) * tilde(l, b, j);
        }
        if (!h.target)
          a = -scorelift::test::sign_of(h, l, b) * h.divergence[static_cast<std::size_t>(l)][static_cast<std::size_t>(b)];
        c[half] += w * (a - earlier) / size;
        g_ll[half] += w * own / size;
        t_norm[half] += w * tt / size;
      }
    }
    double level = -c[0] * c[1] + 0.5 * g_ll[0] * g_ll[1];
    if (options.distance_form) level += 0.5 * t_norm[0] * t_norm[1];
    if (options.divide_by_dim_squared) level /= static_cast<double>(d * d);
    out.level_values.push_back(level);
    out.value += level / static_cast<double>(levels);

    // mean_b w_b ⟨r_l, f_l⟩ with r_l = s − Σ_{i<l} f̃_i and the unsigned f_l.
    double alignment = 0;
    for (index_t b = 0; b < n; ++b) {
      double r_dot_f = h.target ? 0.0 : -h.divergence[static_cast<std::size_t>(l)][static_cast<std::size_t>(b)];
      for (index_t j = 0; j < d; ++j) {
        double r = h.target ? (*h.target)(b, j) : 0.0;
        for (index_t i = 0; i < l; ++i) r -= tilde(i, b, j);
        r_dot_f += r * h.modes[static_cast<std::size_t>(l)](b, j);
      }
      alignment += scorelift::test::weight_of(h, b) * r_dot_f / static_cast<double>(n);
    }
    out.residual_alignment.push_back(alignment);
  }
  return out;
}

/// The configurations the value and gradient tests sweep: L = 1..4, D = 1..50, odd and even B,
/// with/without weights and (soft) per-sample signs, target vs divergence, distance form, ÷ D².
struct lifted_case {
  batch_options batch;
  lifted_options options;
};

std::vector<lifted_case> sweep() {
  std::vector<lifted_case> cases;
  const index_t batches[] = {2, 3, 5, 8, 11};
  const index_t dims[] = {1, 2, 7, 50};
  int k = 0;
  for (index_t levels = 1; levels <= 4; ++levels)
    for (index_t n : batches)
      for (index_t d : dims) {
        // A deterministic mix of the switches, so every one appears with every L.
        batch_options o{n, d, levels, k % 2 == 0, k % 3 != 0, k % 4 != 1, k % 5 == 2};
        lifted_options lo{o.target && k % 3 == 1, k % 7 == 3};
        if (d == 50 && n > 5) continue;  // keep the finite differences cheap
        cases.push_back({o, lo});
        ++k;
      }
  return cases;
}

}  // namespace

TEST_CASE_TEMPLATE("lifted_residual_loss equals the DESIGN.md formula on random batches", B, SCORELIFT_TEST_BACKENDS) {
  std::mt19937_64 gen(7);
  for (const auto& c : sweep()) {
    const host_batch h = scorelift::test::random_batch(c.batch, gen);
    const backend_batch<B> bb(h);
    const auto result = scorelift::lifted_residual_loss(bb.batch, c.options);
    const auto expected = reference(h, c.options);
    INFO("B = ", c.batch.batch, ", D = ", c.batch.dim, ", L = ", c.batch.levels, ", target = ", c.batch.target);
    REQUIRE(result.level_values.size() == expected.level_values.size());
    CHECK(result.value == doctest::Approx(expected.value).epsilon(1e-12));
    for (std::size_t l = 0; l < expected.level_values.size(); ++l) {
      CHECK(result.level_values[l] == doctest::Approx(expected.level_values[l]).epsilon(1e-12));
      CHECK(result.residual_alignment[l] == doctest::Approx(expected.residual_alignment[l]).epsilon(1e-12));
    }
    // The per-sample alignments average to the reported batch alignment.
    const auto per_sample = scorelift::per_sample_residual_alignment(bb.batch);
    for (std::size_t l = 0; l < per_sample.size(); ++l)
      CHECK(B::sum(per_sample[l], 0, h.batch()) / static_cast<double>(h.batch()) ==
            doctest::Approx(expected.residual_alignment[l]).epsilon(1e-12));
  }
}

TEST_CASE_TEMPLATE("lifted_residual_loss gradients equal central finite differences (semi-gradient)", B,
                   SCORELIFT_TEST_BACKENDS) {
  std::mt19937_64 gen(11);
  for (const auto& c : sweep()) {
    const host_batch h = scorelift::test::random_batch(c.batch, gen);
    const auto loss = [&c](const scorelift::score_batch<B>& batch) {
      return scorelift::lifted_residual_loss(batch, c.options);
    };
    const scorelift::test::gradient_check<B, decltype(loss)> check(h, loss);
    INFO("B = ", c.batch.batch, ", D = ", c.batch.dim, ", L = ", c.batch.levels, ", target = ", c.batch.target,
         ", weights = ", c.batch.weights, ", signs = ", c.batch.signs, ", distance = ", c.options.distance_form);
    CHECK(check.modes < 1e-6);
    CHECK(check.target < 1e-6);
    CHECK(check.divergence < 1e-6);
  }
}

TEST_CASE_TEMPLATE("lifted halves: an odd batch uses each half's own mean", B, SCORELIFT_TEST_BACKENDS) {
  // B = 3, D = 1, L = 1, target t = 1, f = (1, 2, 4): A = {1}, B-half = {2, 4}.
  // c_A = 1, c_B = 3, G_A = 1, G_B = 10: L = −3 + ½·10 = 2.
  host_batch h;
  h.modes.push_back({3, 1, {1, 2, 4}});
  h.target = scorelift::test::host_matrix{3, 1, {1, 1, 1}};
  const backend_batch<B> bb(h);
  const auto r = scorelift::lifted_residual_loss(bb.batch);
  CHECK(r.value == doctest::Approx(2.0));
  // ∂/∂f_0 = (1/1)(−c_B t + G_B f) = −3 + 10 = 7;  ∂/∂f_2 = (1/2)(−c_A t + G_A f) = (−1 + 4)/2.
  const auto g = scorelift::test::convert<B>::host(r.grad_modes[0]);
  CHECK(g(0, 0) == doctest::Approx(7.0));
  CHECK(g(2, 0) == doctest::Approx(1.5));
}

namespace {

using scorelift::test::gaussian_linear_problem;
using scorelift::test::replicate_mean;

/// K replicate batches of n samples of the L = 1 lifted loss for f(x) = W x + b (or f = sign·s).
enum class lifted_source { exact_divergence, exact_score_target, denoising_target };

template <class B>
replicate_mean lifted_replicates(const gaussian_linear_problem& p, lifted_source source, std::mt19937_64& gen,
                                 int replicates = 200, index_t n = 400, double sigma = 0.5) {
  std::vector<double> values;
  std::normal_distribution<double> z;
  for (int k = 0; k < replicates; ++k) {
    Eigen::MatrixXd x = p.sample(n, gen);
    host_batch h;
    if (source == lifted_source::denoising_target) {
      const Eigen::MatrixXd eps = Eigen::MatrixXd::NullaryExpr(n, p.dim(), [&] { return z(gen); });
      x += sigma * eps;
      h.target = scorelift::test::to_host(-eps / sigma);  // t = s(x̃|x) = −ε/σ
    } else if (source == lifted_source::exact_score_target) {
      h.target = scorelift::test::to_host(p.score(x));
    } else {
      h.divergence.push_back(std::vector<double>(static_cast<std::size_t>(n), p.trace_w()));  // tr ∇f = tr W
    }
    h.modes.push_back(scorelift::test::to_host(p.model(x)));
    const backend_batch<B> bb(h);
    values.push_back(scorelift::lifted_residual_loss(bb.batch).value);
  }
  return replicate_mean(values);
}

}  // namespace

TEST_CASE_TEMPLATE("LSE and LDSE match −(tr W)² + ½(E‖f‖²)² for a linear model on a Gaussian", B,
                   SCORELIFT_TEST_BACKENDS) {
  // E[sᵀf] = −E[tr ∇f] = −tr W (Stein), and the product of two independent half-means is unbiased
  // for the squared expectation, so E[loss] = −(tr W)² + ½ (E‖f‖²)² exactly. Tolerance: 4 standard
  // errors of 200 replicates (each 400 samples); the standard error itself must be < 3% of the
  // value, so the comparison has power.
  std::mt19937_64 gen(21);
  const auto p = gaussian_linear_problem::random(3, gen);
  const double expected = -p.trace_w() * p.trace_w() + 0.5 * p.mean_norm_f() * p.mean_norm_f();
  for (auto source : {lifted_source::exact_divergence, lifted_source::exact_score_target}) {
    const auto estimate = lifted_replicates<B>(p, source, gen);
    INFO("source ", static_cast<int>(source), ": ", estimate.mean, " ± ", estimate.standard_error, " vs ", expected);
    CHECK(std::abs(estimate.mean - expected) < 4.0 * estimate.standard_error);
    CHECK(estimate.standard_error < 0.03 * std::abs(expected));
  }
  // LDSE on x̃ = x + σε with the Tweedie target −ε/σ: E[tᵀf(x̃)] = −tr W, E‖f(x̃)‖² uses Σ + σ²I.
  const double sigma = 0.5;
  const double noisy_norm = p.mean_norm_f() + sigma * sigma * p.w.squaredNorm();
  const double expected_noisy = -p.trace_w() * p.trace_w() + 0.5 * noisy_norm * noisy_norm;
  const auto estimate = lifted_replicates<B>(p, lifted_source::denoising_target, gen, 200, 400, sigma);
  INFO("LDSE: ", estimate.mean, " ± ", estimate.standard_error, " vs ", expected_noisy);
  CHECK(std::abs(estimate.mean - expected_noisy) < 4.0 * estimate.standard_error);
  CHECK(estimate.standard_error < 0.03 * std::abs(expected_noisy));
}

TEST_CASE_TEMPLATE("LSE is minimised by ±s: value −½(E‖s‖²)², higher at perturbed f", B, SCORELIFT_TEST_BACKENDS) {
  // f = ±s is W = ∓Σ⁻¹, b = ±Σ⁻¹μ; E‖s‖² = tr Σ⁻¹ (Fisher information), so the minimum is −½(tr Σ⁻¹)².
  std::mt19937_64 gen(22);
  auto p = gaussian_linear_problem::random(3, gen);
  const double fisher = p.precision.trace();
  const double minimum = -0.5 * fisher * fisher;
  const Eigen::MatrixXd perturbation = Eigen::MatrixXd::Identity(3, 3) * 0.15 + p.w * 0.1;
  std::vector<double> at_optimum_plus, at_optimum_minus, excess;
  std::mt19937_64 replicate_gen(23);
  for (int k = 0; k < 200; ++k) {
    const Eigen::MatrixXd x = p.sample(400, replicate_gen);
    const auto lse = [&](const Eigen::MatrixXd& w, const Eigen::VectorXd& b) {
      host_batch h;
      h.modes.push_back(scorelift::test::to_host((x * w.transpose()).rowwise() + b.transpose()));
      h.divergence.push_back(std::vector<double>(400, w.trace()));
      const backend_batch<B> bb(h);
      return scorelift::lifted_residual_loss(bb.batch).value;
    };
    const Eigen::VectorXd b = p.precision * p.mu;
    at_optimum_plus.push_back(lse(-p.precision, b));
    at_optimum_minus.push_back(lse(p.precision, -b));
    excess.push_back(lse(-p.precision + perturbation, b) - at_optimum_plus.back());  // same samples: paired
  }
  for (const auto* values : {&at_optimum_plus, &at_optimum_minus}) {
    const replicate_mean estimate(*values);
    INFO(estimate.mean, " ± ", estimate.standard_error, " vs ", minimum);
    CHECK(std::abs(estimate.mean - minimum) < 4.0 * estimate.standard_error);
  }
  const replicate_mean paired(excess);
  INFO("perturbed − optimum: ", paired.mean, " ± ", paired.standard_error);
  CHECK(paired.mean > 4.0 * paired.standard_error);
}

TEST_CASE("lifted_residual_loss in float agrees with double to float precision") {
  using F = scorelift::eigen_backend<float>;
  std::mt19937_64 gen(77);
  const host_batch h = scorelift::test::random_batch({9, 6, 3, true, true, true, false}, gen);
  const backend_batch<F> single(h);
  const backend_batch<scorelift::eigen_backend<double>> twice(h);
  const auto rf = scorelift::lifted_residual_loss(single.batch, {true, false});
  const auto rd = scorelift::lifted_residual_loss(twice.batch, {true, false});
  CHECK(rf.value == doctest::Approx(rd.value).epsilon(1e-5));
  const auto gf = scorelift::test::convert<F>::host(rf.grad_modes[2]);
  const auto gd = scorelift::test::convert<scorelift::eigen_backend<double>>::host(rd.grad_modes[2]);
  const double scale = scorelift::test::max_abs(gd.values);
  for (std::size_t i = 0; i < gd.values.size(); ++i) CHECK(std::abs(gf.values[i] - gd.values[i]) < 1e-5 * scale);
}

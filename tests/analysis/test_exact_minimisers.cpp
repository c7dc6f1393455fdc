// Exact minimisers of linear models: the quadratic and quartic forms in W equal the library's objective
// functions of the model's outputs (value and, through the chain rule, gradient); their gradients and
// the lifted Hessian equal central differences; the minimisers are stationary points and minima; the
// lifted sign choice; bad input.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <optional>
#include <random>

#include "analysis_test_support.hpp"
#include "scorelift/analysis/lifted_minimiser.hpp"
#include "scorelift/analysis/linear_estimator.hpp"
#include "scorelift/analysis/polynomial_features.hpp"
#include "scorelift/analysis/rbf_features.hpp"
#include "scorelift/analysis/score_matching_minimiser.hpp"
#include "scorelift/backends/eigen.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"

using namespace scorelift::analysis;
using scorelift::index_t;
using test::eigen;

namespace {

/// N = 9 (odd: halves of 4 and 5) samples in D = 2 with targets and two Rademacher probes per sample.
struct small_problem {
  polynomial_features phi{2, 2};
  estimation_data data;
  Eigen::MatrixXd w;  // a random D×K model
  small_problem() {
    std::mt19937_64 gen(7);
    data.x = test::standard_normal(9, 2, gen);
    data.target = test::standard_normal(9, 2, gen);
    for (int m = 0; m < 2; ++m) data.probes.push_back(eigen::rademacher(9, 2, gen, data.x));
    w = test::standard_normal(2, phi.feature_count(), gen);
  }
  /// Per-sample sliced trace mean_m vᵀ W ∇φ v and its W-gradient Σ_b g_b mean_m (∇φ v vᵀ)ᵀ.
  Eigen::VectorXd sliced_divergence(const Eigen::MatrixXd& weights) const {
    Eigen::VectorXd out(data.x.rows());
    for (index_t b = 0; b < data.x.rows(); ++b) {
      const Eigen::MatrixXd jac = phi.jacobian(data.x.row(b).transpose());
      out(b) = 0.0;
      for (const auto& v : data.probes) out(b) += (v.row(b) * weights * jac * v.row(b).transpose()).value() / 2.0;
    }
    return out;
  }
  Eigen::MatrixXd sliced_chain_rule(const Eigen::VectorXd& grad_div) const {
    Eigen::MatrixXd g = Eigen::MatrixXd::Zero(2, phi.feature_count());
    for (index_t b = 0; b < data.x.rows(); ++b) {
      const Eigen::MatrixXd jac = phi.jacobian(data.x.row(b).transpose());
      for (const auto& v : data.probes) g += grad_div(b) * (jac * v.row(b).transpose() * v.row(b)).transpose() / 2.0;
    }
    return g;
  }
};

}  // namespace

TEST_CASE("the quadratic and lifted forms in W equal the library's objectives of f = W phi, value and gradient") {
  const small_problem p;
  const row_matrix f = evaluate(p.phi, p.w, p.data.x);
  const Eigen::VectorXd div = divergence(p.phi, p.w, p.data.x);
  const Eigen::VectorXd sliced = p.sliced_divergence(p.w);
  // Unweighted, and with per-sample weights w_b (score_batch::weights: EDM's λ(σ), asymmetric LDSE).
  std::mt19937_64 gen(9);
  std::uniform_real_distribution<double> uniform(0.2, 3.0);
  const Eigen::VectorXd uneven = Eigen::VectorXd::NullaryExpr(9, [&] { return uniform(gen); });
  for (const bool weighted : {false, true}) {
    CAPTURE(weighted);
    const Eigen::VectorXd w = weighted ? uneven : Eigen::VectorXd();
    const std::optional<Eigen::VectorXd> batch_weights = weighted ? std::optional(uneven) : std::nullopt;
    const score_moments exact = implicit_moments(p.phi, p.data.x, {}, w);
    const score_moments target = denoising_moments(p.phi, p.data.x, p.data.target, {}, w);
    const score_moments slicedm = sliced_moments(p.phi, p.data.x, p.data.probes, {}, w);

    // Library gradients are with respect to f and div; the chain rule carries them into W.
    const auto library_check = [&](const scorelift::objective_result<eigen>& r, bool with_divergence, double value,
                                   const Eigen::MatrixXd& grad, bool sliced_terms) {
      CHECK(r.value == doctest::Approx(value).epsilon(1e-12));
      const Eigen::VectorXd grad_div = with_divergence ? r.grad_divergence.front() : Eigen::VectorXd();
      Eigen::MatrixXd chained = test::chain_rule(p.phi, p.data.x, r.grad_modes.front(), nullptr);
      if (with_divergence)
        chained += sliced_terms ? p.sliced_chain_rule(grad_div) : test::chain_rule(p.phi, p.data.x, row_matrix::Zero(9, 2), &grad_div);
      CHECK((chained - grad).cwiseAbs().maxCoeff() < 1e-12 * (1 + grad.cwiseAbs().maxCoeff()));
    };
    using scorelift::lifted_residual_loss;
    using scorelift::residual_score_matching_loss;
    library_check(residual_score_matching_loss<eigen>({.modes = {f}, .divergence = {div}, .weights = batch_weights}), true,
                  score_matching_value(exact, p.w), score_matching_gradient(exact, p.w), false);  // ISM
    library_check(residual_score_matching_loss<eigen>({.modes = {f}, .divergence = {sliced}, .weights = batch_weights}), true,
                  score_matching_value(slicedm, p.w), score_matching_gradient(slicedm, p.w), true);  // SSM-VR
    library_check(residual_score_matching_loss<eigen>({.modes = {f}, .target = p.data.target, .weights = batch_weights}), false,
                  score_matching_value(target, p.w), score_matching_gradient(target, p.w), false);  // DSM
    library_check(lifted_residual_loss<eigen>({.modes = {f}, .divergence = {div}, .weights = batch_weights}), true,
                  lifted_value(exact, p.w), lifted_gradient(exact, p.w), false);  // LSE
    library_check(lifted_residual_loss<eigen>({.modes = {f}, .divergence = {sliced}, .weights = batch_weights}), true,
                  lifted_value(slicedm, p.w), lifted_gradient(slicedm, p.w), true);  // sliced LSE
    library_check(lifted_residual_loss<eigen>({.modes = {f}, .target = p.data.target, .weights = batch_weights}), false,
                  lifted_value(target, p.w), lifted_gradient(target, p.w), false);  // LDSE
  }
}

TEST_CASE("weighted DSM: the exact minimiser solves the weighted normal equations, and weights 1 change nothing") {
  const small_problem p;
  std::mt19937_64 gen(10);
  std::uniform_real_distribution<double> uniform(0.2, 3.0);
  const Eigen::VectorXd w = Eigen::VectorXd::NullaryExpr(9, [&] { return uniform(gen); });
  // Weighted least squares: W* = Tᵀ diag(w) Φ (Φᵀ diag(w) Φ)⁻¹, written out independently of the moments.
  const row_matrix features = p.phi.features(p.data.x);
  const Eigen::MatrixXd gram = features.transpose() * w.asDiagonal() * features;
  const Eigen::MatrixXd expected = (gram.llt().solve(features.transpose() * w.asDiagonal() * p.data.target)).transpose();
  estimation_data data = p.data;
  data.sample_weights = w;
  const Eigen::MatrixXd fitted = fit_linear_score(p.phi, data, linear_objective::dsm()).weights;
  CHECK((fitted - expected).cwiseAbs().maxCoeff() < 1e-10 * (1 + expected.cwiseAbs().maxCoeff()));
  // Scaling every weight by a constant leaves the minimiser unchanged but not the objective.
  data.sample_weights = 2.5 * w;
  CHECK((fit_linear_score(p.phi, data, linear_objective::dsm()).weights - expected).cwiseAbs().maxCoeff() <
        1e-10 * (1 + expected.cwiseAbs().maxCoeff()));
  const score_moments ones = denoising_moments(p.phi, p.data.x, p.data.target, {}, Eigen::VectorXd::Ones(9));
  const score_moments none = denoising_moments(p.phi, p.data.x, p.data.target);
  CHECK((ones.a.gram - none.a.gram).norm() == 0.0);
  CHECK((ones.b.cross - none.b.cross).norm() == 0.0);
}

TEST_CASE("residual level 2: the moments with the earlier estimate F reproduce the library's semi-gradient level") {
  const small_problem p;
  std::mt19937_64 gen(8);
  const rbf_features phi2(test::standard_normal(3, 2, gen), 1.0);
  const Eigen::MatrixXd w2 = test::standard_normal(2, 3, gen);
  const row_matrix f1 = evaluate(p.phi, p.w, p.data.x), f2 = evaluate(phi2, w2, p.data.x);
  const Eigen::VectorXd div1 = divergence(p.phi, p.w, p.data.x), div2 = divergence(phi2, w2, p.data.x);
  for (const bool lifted : {false, true}) {
    for (const bool with_target : {false, true}) {
      CAPTURE(lifted);
      CAPTURE(with_target);
      scorelift::score_batch<eigen> batch{.modes = {f1, f2}};
      if (with_target) batch.target = p.data.target; else batch.divergence = {div1, div2};
      const auto r = lifted ? scorelift::lifted_residual_loss<eigen>(batch) : scorelift::residual_score_matching_loss<eigen>(batch);
      const score_moments m2 = with_target ? denoising_moments(phi2, p.data.x, p.data.target, f1)
                                           : implicit_moments(phi2, p.data.x, f1);
      const double value = lifted ? lifted_value(m2, w2) : score_matching_value(m2, w2);
      const Eigen::MatrixXd grad = lifted ? lifted_gradient(m2, w2) : score_matching_gradient(m2, w2);
      CHECK(r.level_values[1] == doctest::Approx(value).epsilon(1e-12));
      // value = mean of the two levels: the library's gradient of level 2's mode is ½ ∂L_2/∂f_2.
      const Eigen::VectorXd grad_div = with_target ? Eigen::VectorXd() : Eigen::VectorXd(2.0 * r.grad_divergence[1]);
      const Eigen::MatrixXd chained =
          test::chain_rule(phi2, p.data.x, 2.0 * r.grad_modes[1], with_target ? nullptr : &grad_div);
      CHECK((chained - grad).cwiseAbs().maxCoeff() < 1e-11 * (1 + grad.cwiseAbs().maxCoeff()));
    }
  }
}

TEST_CASE("gradients and the lifted Hessian equal central differences") {
  const small_problem p;
  for (const double ridge : {0.0, 0.3}) {
    for (const score_moments& m : {implicit_moments(p.phi, p.data.x), denoising_moments(p.phi, p.data.x, p.data.target)}) {
      const Eigen::MatrixXd sm_fd = test::finite_difference([&](const Eigen::MatrixXd& w) { return score_matching_value(m, w, ridge); }, p.w);
      CHECK((sm_fd - score_matching_gradient(m, p.w, ridge)).cwiseAbs().maxCoeff() < 1e-6);
      const Eigen::MatrixXd lifted_fd = test::finite_difference([&](const Eigen::MatrixXd& w) { return lifted_value(m, w, ridge); }, p.w);
      const Eigen::MatrixXd lifted_grad = lifted_gradient(m, p.w, ridge);
      CHECK((lifted_fd - lifted_grad).cwiseAbs().maxCoeff() < 1e-6 * (1 + lifted_grad.cwiseAbs().maxCoeff()));
      // Hessian column j = central difference of the gradient along entry j (column-major vec).
      const Eigen::MatrixXd hessian = lifted_hessian(m, p.w, ridge);
      double worst = 0.0;
      for (index_t j = 0; j < p.w.size(); ++j) {
        Eigen::MatrixXd plus = p.w, minus = p.w;
        plus.data()[j] += 1e-6;
        minus.data()[j] -= 1e-6;
        const Eigen::MatrixXd column = (lifted_gradient(m, plus, ridge) - lifted_gradient(m, minus, ridge)) / 2e-6;
        worst = std::max(worst, (hessian.col(j) - Eigen::Map<const Eigen::VectorXd>(column.data(), column.size())).cwiseAbs().maxCoeff());
      }
      CHECK(worst < 1e-5 * (1 + hessian.cwiseAbs().maxCoeff()));
      CHECK((hessian - hessian.transpose()).cwiseAbs().maxCoeff() == 0.0);
    }
  }
}

TEST_CASE("the exact minimisers are stationary points and minima") {
  std::mt19937_64 gen(11);
  const polynomial_features phi(2, 2);
  estimation_data data;
  data.x = test::standard_normal(40, 2, gen);
  data.target = test::standard_normal(40, 2, gen);
  for (const linear_objective& objective :
       {linear_objective::ism(), linear_objective::dsm(0.1), linear_objective::lse(), linear_objective::ldse(0.1)}) {
    CAPTURE(objective.name);
    const linear_fit fit = fit_linear_score(phi, data, objective);
    const score_moments m = moments_for(phi, data, objective.source);
    const auto value = [&](const Eigen::MatrixXd& w) { return objective_value(m, w, objective); };
    CHECK(fit.converged);
    CHECK(fit.value == doctest::Approx(value(fit.weights)).epsilon(1e-13));
    // Stationary: the gradient at W* is ~1e-11 of the gradient's size at a unit perturbation.
    const Eigen::MatrixXd grad = objective_gradient(m, fit.weights, objective);
    const Eigen::MatrixXd perturbation = test::standard_normal(2, phi.feature_count(), gen);
    const Eigen::MatrixXd grad_away = objective_gradient(m, fit.weights + perturbation, objective);
    CHECK(grad.norm() < 1e-9 * grad_away.norm());
    // A minimum: every small perturbation raises the value.
    for (int trial = 0; trial < 20; ++trial) {
      const Eigen::MatrixXd step = 1e-3 * test::standard_normal(2, phi.feature_count(), gen);
      CHECK(value(fit.weights + step) > fit.value);
    }
    if (objective.lifted) {  // and the Hessian is positive definite there (an isolated minimum)
      const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(lifted_hessian(m, fit.weights, objective.ridge));
      CHECK(eig.eigenvalues().minCoeff() > 0.0);
      CHECK(lifted_value(m, -fit.weights, objective.ridge) == doctest::Approx(fit.value).epsilon(1e-14));
    }
  }
}

TEST_CASE("lifted sign: aligned with the data by default, with a reference when one is given") {
  std::mt19937_64 gen(12);
  const polynomial_features phi(2, 1);
  const score_moments m = implicit_moments(phi, test::standard_normal(30, 2, gen));
  const lifted_solution by_data = lifted_minimiser(m);
  CHECK(by_data.alignment > 0.0);
  CHECK(by_data.weights.cwiseProduct(m.pooled().cross.transpose()).sum() == doctest::Approx(by_data.alignment));
  const lifted_solution by_reference = lifted_minimiser(m, {.sign_reference = Eigen::MatrixXd(-by_data.weights)});
  CHECK((by_reference.weights + by_data.weights).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(by_reference.alignment == doctest::Approx(-by_data.alignment));
}

TEST_CASE("population moments: LSE minimiser = +/- SM minimiser, value -m^2/2, for any moments with equal halves") {
  std::mt19937_64 gen(13);
  const index_t k = 5, d = 3;
  const Eigen::MatrixXd root = test::standard_normal(k, k, gen);
  score_moments m;
  m.a = {root * root.transpose() / k + 0.1 * Eigen::MatrixXd::Identity(k, k), test::standard_normal(k, d, gen), 0.0, 100.0};
  m.b = m.a;
  const Eigen::MatrixXd w_sm = score_matching_minimiser(m);
  const double m_norm = w_sm.cwiseProduct(m.a.cross.transpose()).sum();  // tr(Pᵀ C⁻¹ P)
  const lifted_solution lse = lifted_minimiser(m);
  CHECK((lse.weights - w_sm).cwiseAbs().maxCoeff() < 1e-10 * w_sm.cwiseAbs().maxCoeff());
  CHECK(lse.value == doctest::Approx(-0.5 * m_norm * m_norm).epsilon(1e-12));
  CHECK(!lse.flipped);
}

TEST_CASE("Gaussian population: phi = (1, x) gives the true score -Sigma^-1 (x - mu) for SM and +/- it for LSE") {
  // x ~ N(μ, Σ): C = E[φφᵀ] = [[1, μᵀ], [μ, Σ + μμᵀ]], P = −E[∇φ] = −[0; I] (φ = (1, x)). For DSM with
  // x̃ = x + σε, t = −ε/σ: E[φ(x̃) tᵀ] = −[0; I] too, and C is that of N(μ, Σ + σ²I): the noisy score.
  const Eigen::Vector2d mu(0.5, -1.0);
  Eigen::Matrix2d sigma;
  sigma << 2.0, 0.6, 0.6, 0.5;
  const auto population = [&](const Eigen::Matrix2d& cov) {
    score_moments m;
    Eigen::Matrix3d c;
    c << 1.0, mu.transpose(), mu, cov + mu * mu.transpose();
    Eigen::MatrixXd p = Eigen::MatrixXd::Zero(3, 2);
    p.bottomRows(2) = -Eigen::Matrix2d::Identity();
    m.a = {c, p, 0.0, 1.0};
    m.b = m.a;
    return m;
  };
  for (const double noise : {0.0, 0.7}) {
    const Eigen::Matrix2d cov = sigma + noise * noise * Eigen::Matrix2d::Identity();
    const Eigen::Matrix2d precision = cov.inverse();
    Eigen::MatrixXd truth(2, 3);  // W φ(x) = Σ⁻¹μ − Σ⁻¹x
    truth << precision * mu, -precision;
    const score_moments m = population(cov);
    CHECK((score_matching_minimiser(m) - truth).cwiseAbs().maxCoeff() < 1e-12);
    const lifted_solution lse = lifted_minimiser(m);
    CHECK((lse.weights - truth).cwiseAbs().maxCoeff() < 1e-10);
    // m = E‖s‖² = tr Σ⁻¹, the lifted value −½ m².
    CHECK(lse.value == doctest::Approx(-0.5 * precision.trace() * precision.trace()).epsilon(1e-12));
  }
}

TEST_CASE("exact minimisers refuse bad input, naming the argument and its shape") {
  using scorelift::invalid_argument;
  std::mt19937_64 gen(14);
  const polynomial_features phi(2, 2);  // K = 6
  const row_matrix x = test::standard_normal(5, 2, gen);
  // 5 samples, 6 features: C is singular without a ridge; with one, the solve is defined.
  const score_moments m = implicit_moments(phi, x);
  CHECK_THROWS_WITH_AS(score_matching_minimiser(m), doctest::Contains("is not positive definite: pass ridge > 0"),
                       invalid_argument);
  CHECK(score_matching_minimiser(m, 0.1).allFinite());
  CHECK_THROWS_WITH_AS(lifted_minimiser(m, {.ridge = 0.0}), doctest::Contains("not positive definite"), invalid_argument);
  CHECK_THROWS_WITH_AS(score_matching_minimiser(m, -1.0), doctest::Contains("argument 'ridge' is -1"), invalid_argument);
  CHECK_THROWS_WITH_AS(score_matching_value(m, Eigen::MatrixXd::Zero(2, 3)),
                       doctest::Contains("argument 'weights' has shape [2, 3] but the moments are of a model with [D, K] = [2, 6]"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(implicit_moments(phi, x.topRows(1)), doctest::Contains("has shape [1, 2] but the moments need N >= 2"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(denoising_moments(phi, x, row_matrix::Zero(5, 3)),
                       doctest::Contains("argument 'target' has shape [5, 3] but 'x_noisy' has shape [5, 2]"), invalid_argument);
  CHECK_THROWS_WITH_AS(implicit_moments(phi, x, row_matrix::Zero(4, 2)),
                       doctest::Contains("argument 'earlier' has shape [4, 2] but 'x' has shape [5, 2]"), invalid_argument);
  CHECK_THROWS_WITH_AS(sliced_moments(phi, x, {row_matrix::Zero(5, 1)}),
                       doctest::Contains("argument 'probes[0]' has shape [5, 1]"), invalid_argument);
  CHECK_THROWS_WITH_AS(fit_residual_stack({}, {.x = x}, linear_objective::ism()), doctest::Contains("argument 'levels' is empty"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(implicit_moments(phi, x, {}, Eigen::VectorXd::Ones(4)),
                       doctest::Contains("argument 'sample_weights' has shape [4] but the batch has N = 5"), invalid_argument);
  CHECK_THROWS_WITH_AS(denoising_moments(phi, x, x, {}, Eigen::VectorXd::Zero(5)),
                       doctest::Contains("argument 'sample_weights' is 0 at sample 0 but weights must be finite and > 0"),
                       invalid_argument);
  Eigen::VectorXd nan_weight = Eigen::VectorXd::Ones(5);
  nan_weight(3) = std::nan("");
  CHECK_THROWS_WITH_AS(sliced_moments(phi, x, {x}, {}, nan_weight), doctest::Contains("at sample 3"), invalid_argument);
}

// Implicit-model layer: the entropy surrogate's gradient is −∇h (closed form for a Gaussian
// encoder), the Gaussian KL / entropy closed forms, the k-NN entropy used by the evaluation agrees
// with the exact entropy on a Gaussian posterior, latent score estimators (residual SSM-VR, LSE,
// Stein in blocks) recover a known score, and the trainer / adaptor reject bad input.
#include <torch/torch.h>

#include <any>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <vector>

#include "scorelift/data/torch/images.hpp"
#include "scorelift/implicit/knn_entropy.hpp"
#include "scorelift/implicit/torch/autoencoders.hpp"
#include "scorelift/implicit/torch/entropy_gradient_fidelity.hpp"
#include "scorelift/implicit/torch/entropy_surrogate.hpp"
#include "scorelift/implicit/torch/evaluation.hpp"
#include "scorelift/implicit/torch/latent_score.hpp"
#include "scorelift/implicit/torch/nonparametric_latent_score.hpp"
#include "scorelift/implicit/torch/trainer.hpp"
#include "scorelift/nonparametric/stein.hpp"
#include "torch/torch_test_support.hpp"  // (doctest, after LibTorch)

namespace im = scorelift::implicit;
using scorelift::index_t;
using scorelift::test::all_equal;
using scorelift::test::copies;

TEST_CASE("entropy surrogate with the exact score has gradient −∇h for a Gaussian encoder") {
  // z = μ + σ ε, ε ~ N(0, I_D): h = D log σ + const, so ∂h/∂σ = D/σ and ∂h/∂μ = 0. With the exact
  // score s(z) = −(z − μ)/σ² = −ε/σ, ∂S/∂σ = mean_b ⟨−ε_b/σ, ε_b⟩ = −mean ‖ε‖²/σ, whose mean is −D/σ
  // and standard error √(2D/N)/σ; ∂S/∂μ = mean(−ε/σ) with standard error 1/(σ√N) per entry.
  torch::manual_seed(3);
  const index_t n = 40000, d = 5;
  const double sigma_value = 0.7;
  const auto mu = torch::full({d}, 0.3, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto sigma = torch::full({1}, sigma_value, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto eps = torch::randn({n, d}, torch::kFloat64);
  const auto z = mu + sigma * eps;
  const auto score = -(z - mu) / (sigma * sigma);
  im::entropy_gradient_surrogate(z, score).backward();
  const double d_sigma = sigma.grad().item<double>();
  CHECK(std::abs(d_sigma - (-d / sigma_value)) < 4.0 * std::sqrt(2.0 * d / n) / sigma_value);
  CHECK(mu.grad().abs().max().item<double>() < 4.5 / (sigma_value * std::sqrt(static_cast<double>(n))));
  // The score is held constant: ∂S/∂z_b = ŝ_b / B, and no gradient reaches what produced ŝ.
  const auto w = torch::ones({2, 2}, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto z_leaf = torch::ones({2, 2}, torch::dtype(torch::kFloat64).requires_grad(true));
  im::entropy_gradient_surrogate(z_leaf, 3.0 * w).backward();
  CHECK(z_leaf.grad().eq(1.5).all().item<bool>());
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("entropy surrogate rejects mismatched shapes and non-finite scores") {
  CHECK_THROWS_WITH_AS(im::entropy_gradient_surrogate(torch::zeros({4, 3}), torch::zeros({4, 2})),
                       doctest::Contains("argument 'score' has shape [4, 2] but z has shape [4, 3]"),
                       scorelift::invalid_argument);
  auto bad = torch::zeros({4, 3});
  bad[1][2] = std::nan("");
  CHECK_THROWS_WITH_AS(im::entropy_gradient_surrogate(torch::zeros({4, 3}), bad),
                       doctest::Contains("argument 'score' of shape [4, 3] contains NaN or Inf"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(im::entropy_gradient_surrogate(torch::zeros({3}), torch::zeros({3})),
                       doctest::Contains("argument 'z' has shape [3] but [B, D] with B >= 1 was expected"),
                       scorelift::invalid_argument);
}

TEST_CASE("entropy-gradient fidelity is exact for the true score and scales with a scaled score") {
  // Reparameterised diagonal Gaussian z = μ + exp(ρ) ⊙ ε, s(z) = −(z − μ)/σ²: h = Σ ρ_i + const,
  // so ∂h/∂ρ_i = 1 and ∂h/∂μ = 0. The surrogate gives −∂S/∂ρ_i = mean_b ε_bi², mean 1 and standard
  // error √(2/N); −∂S/∂μ_i = mean_b ε_bi/σ_i, mean 0 and standard error 1/(σ_i √N).
  torch::manual_seed(11);
  const index_t n = 20000, d = 4;
  const auto mu = torch::tensor({0.2, -0.4, 1.0, 0.0}, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto rho = torch::tensor({-2.0, -1.0, 0.0, 0.5}, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto eps = torch::randn({n, d}, torch::kFloat64);
  const auto sigma = torch::exp(rho);
  const auto z = mu + sigma * eps;
  const auto score = (-(z - mu) / (sigma * sigma)).detach();
  const auto same = im::entropy_gradient_fidelity(z, score, score, {mu, rho});
  CHECK(same.cosine == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(same.relative_error == 0.0);
  CHECK(same.score_cosine == doctest::Approx(1.0).epsilon(1e-12));
  // ŝ = a·s gives g_est = a·g_exact exactly: cosine sign(a), relative error |a − 1|.
  const auto half = im::entropy_gradient_fidelity(z, 0.5 * score, score, {mu, rho});
  CHECK(half.cosine == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(half.relative_error == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(half.estimated_norm == doctest::Approx(0.5 * half.exact_norm).epsilon(1e-12));
  const auto flipped = im::entropy_gradient_fidelity(z, -score, score, {mu, rho});
  CHECK(flipped.cosine == doctest::Approx(-1.0).epsilon(1e-12));
  CHECK(flipped.relative_error == doctest::Approx(2.0).epsilon(1e-12));
  CHECK(flipped.score_cosine == doctest::Approx(-1.0).epsilon(1e-12));  // a wrong sign κ shows here
  // The exact gradient itself matches the closed form (statistically, 4.5 standard errors).
  const auto g = im::detail::entropy_gradient_vector(z, score, {mu, rho});
  const auto g_mu = g.slice(0, 0, d), g_rho = g.slice(0, d, 2 * d);
  CHECK((g_rho - 1.0).abs().max().item<double>() < 4.5 * std::sqrt(2.0 / n));
  CHECK((g_mu * sigma.detach()).abs().max().item<double>() < 4.5 / std::sqrt(static_cast<double>(n)));
  // An estimate that ignores the width (score of N(μ, I)) has the right sign but the wrong size.
  const auto unit = im::entropy_gradient_fidelity(z, (-(z - mu)).detach(), score, {mu, rho});
  CHECK(unit.cosine > 0.0);
  CHECK(unit.cosine < 0.99);
  CHECK(unit.relative_error > 0.1);
  // Its score cosine is Σ_b Σ_i ε² / √(Σ σ_i² ε² · Σ ε²/σ_i²) → D / √(Σσ² Σσ⁻²) = 0.2554 for these
  // widths; the relative standard error of each sum is ≲ √(2/N) = 1%.
  const auto s2 = sigma.detach().square();
  const double unit_limit = d / std::sqrt(s2.sum().item<double>() * s2.reciprocal().sum().item<double>());
  CHECK(unit_limit == doctest::Approx(0.2554).epsilon(1e-3));
  CHECK(unit.score_cosine == doctest::Approx(unit_limit).epsilon(0.03));
}

TEST_CASE("entropy-gradient fidelity's exact gradient matches a non-Gaussian flow's entropy gradient") {
  // Element-wise cubic flow z = m + a (ε + c ε³), c > 0, g(ε) = ε + c ε³ monotone with g' = 1 + 3cε²,
  // g'' = 6cε. Change of variables: log q(z) = log N(ε) − log a − log g'(ε), so
  //     s(z) = (−ε − g''(ε)/g'(ε)) / (a g'(ε)),      h = h(N) + D log a + E Σ_i log g'(ε_i),
  // and ∂h/∂c = E Σ_i 3ε_i² / (1 + 3cε_i²). The surrogate's −∂S/∂c = −mean_b Σ_i s_bi a ε_bi³ must
  // have the same mean: checked on the per-sample paired difference within 4.5 standard errors.
  torch::manual_seed(5);
  const index_t n = 40000, d = 3;
  const auto c = torch::full({1}, 0.3, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto a = torch::full({1}, 0.8, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto eps = torch::randn({n, d}, torch::kFloat64);
  const auto z = 0.5 + a * (eps + c * eps.pow(3));
  const auto c0 = c.detach(), a0 = a.detach();
  const auto g1 = 1.0 + 3.0 * c0 * eps.square();
  const auto score = (-eps - 6.0 * c0 * eps / g1) / (a0 * g1);
  const auto g = im::detail::entropy_gradient_vector(z, score, {c, a});
  const auto per_sample = (-(score * a0 * eps.pow(3)) - 3.0 * eps.square() / g1).sum(1);
  const double se = per_sample.std().item<double>() / std::sqrt(static_cast<double>(n));
  CHECK(std::abs(g[0].item<double>() - (3.0 * eps.square() / g1).sum(1).mean().item<double>()) < 4.5 * se);
  // ∂h/∂a = D / a, exactly in expectation; −∂S/∂a = −mean Σ s (ε + cε³).
  const auto per_sample_a = (-(score * (eps + c0 * eps.pow(3)))).sum(1);
  CHECK(std::abs(g[1].item<double>() - d / 0.8) < 4.5 * per_sample_a.std().item<double>() / std::sqrt(static_cast<double>(n)));
  const auto report = im::entropy_gradient_fidelity(z, score, score, {c, a});
  CHECK(report.relative_error == 0.0);
}

TEST_CASE("entropy-gradient fidelity rejects parameters without grad and mismatched scores") {
  const auto p = torch::ones({2}, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto z = p.unsqueeze(0).expand({3, 2}) * torch::ones({3, 2}, torch::kFloat64);
  const auto s = torch::ones({3, 2}, torch::kFloat64);
  CHECK_THROWS_WITH_AS(im::entropy_gradient_fidelity(z, s, s, {}), doctest::Contains("'parameters' is empty"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(im::entropy_gradient_fidelity(z, s, s, {torch::ones({5})}),
                       doctest::Contains("shape [5] that does not require grad"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(im::entropy_gradient_fidelity(z, torch::ones({3, 3}, torch::kFloat64), s, {p}),
                       doctest::Contains("argument 'score' has shape [3, 3]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(im::entropy_gradient_fidelity(z, s, torch::zeros({3, 2}, torch::kFloat64), {p}),
                       doctest::Contains("the exact entropy gradient (argument 'exact_score') is zero"),
                       scorelift::invalid_argument);
}

TEST_CASE("Gaussian KL, entropy and prior terms match their closed forms") {
  // KL(N(1, 2²) ‖ N(0, 1)) = ½(1 + 4 − 1 − 2 log 2) per dimension.
  const auto mean = torch::tensor({{1.0, 0.0}}, torch::kFloat64);
  const auto log_std = torch::tensor({{std::log(2.0), 0.0}}, torch::kFloat64);
  CHECK(im::gaussian_kl_to_standard(mean, log_std).item<double>() ==
        doctest::Approx(0.5 * (4.0 - 2.0 * std::log(2.0))));
  CHECK(im::gaussian_entropy(log_std).item<double>() ==
        doctest::Approx(std::log(2.0) + std::log(2.0 * std::numbers::pi * std::numbers::e)));
  CHECK(im::negative_log_prior(torch::tensor({{1.0, -2.0}}, torch::kFloat64)).item<double>() ==
        doctest::Approx(2.5 + std::log(2.0 * std::numbers::pi)));
  // Bernoulli NLL of logit 0 is log 2 per pixel whatever the grey level.
  CHECK(im::negative_log_likelihood(torch::zeros({1, 3}), torch::tensor({{0.0F, 0.5F, 1.0F}})).item<double>() ==
        doctest::Approx(3.0 * std::log(2.0)).epsilon(1e-6));
}

TEST_CASE("k-NN entropy of a Gaussian posterior's particles agrees with its exact entropy") {
  // The evaluation estimates h(q(z|x)) by k-NN for implicit encoders and uses the closed form for
  // the Gaussian posterior: on the Gaussian posterior both must agree. Tolerance 0.15 nats at
  // N = 3000, D = 4: the posterior is anisotropic, which raises the k-NN estimate's finite-N bias.
  torch::manual_seed(5);
  im::Autoencoder model(im::autoencoder_options{.kind = im::autoencoder_kind::gaussian_vae, .data_dim = 12,
                                                .latent_dim = 4, .hidden = 16});
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({1, 12}).repeat({3000, 1});
  const auto code = model->encode(x, torch::randn({3000, 4}));
  const auto z = code.z.to(torch::kFloat64).contiguous();
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> samples(
      z.data_ptr<double>(), 3000, 4);
  const double exact = im::gaussian_entropy(code.log_std.narrow(0, 0, 1).to(torch::kFloat64)).item<double>();
  CHECK(std::abs(scorelift::knn_entropy(samples, 3) - exact) < 0.15);
}

namespace {

/// Mean squared error ‖ŝ − s‖² / ‖s‖² on fresh samples of N(0, τ² I), true score −z/τ².
double relative_score_error(im::latent_score_estimator& estimator, double tau, index_t d, index_t steps) {
  for (index_t step = 0; step < steps; ++step) estimator.train_step(tau * torch::randn({128, d}), {});
  const auto z = tau * torch::randn({2000, d});
  const auto truth = -z / (tau * tau);
  return ((estimator.score(z, {}) - truth).pow(2).sum() / truth.pow(2).sum()).item<double>();
}

}  // namespace

TEST_CASE("parametric latent scores learn the score of a Gaussian (SSM-VR, residual LSE)") {
  // N(0, 0.5² I) in D = 3; 600 RMSProp steps. The zero estimator has relative error 1; the bound
  // 0.05 (measured ≈ 0.01) fails for a wrong sign, a missing divergence term or a broken stack.
  for (const auto& [objective, levels] : {std::pair{im::score_objective::ssm_vr, index_t{1}},
                                          std::pair{im::score_objective::ssm_vr, index_t{2}},
                                          std::pair{im::score_objective::lse, index_t{1}},
                                          std::pair{im::score_objective::lse, index_t{2}}}) {
    torch::manual_seed(11);
    im::parametric_latent_score estimator(im::parametric_score_options{
        .objective = objective, .levels = levels, .latent_dim = 3, .hidden = 32, .depth = 2, .learning_rate = 3e-3});
    const double error = relative_score_error(estimator, 0.5, 3, 600);
    CAPTURE(levels);
    CAPTURE(static_cast<int>(objective));
    CHECK(error < 0.05);
  }
}

TEST_CASE("nonparametric latent score fits each block of particles on its own") {
  // Two blocks with scales 0.2 and 3: per-block fits give scores −z/τ_b²; one pooled fit could not
  // (the pooled distribution is a scale mixture). Stein recovers each within 35% relative error.
  namespace np = scorelift::nonparametric;
  torch::manual_seed(13);
  im::nonparametric_latent_score<np::stein_gradient_estimator<>> stein(
      [] { return np::stein_gradient_estimator<>(); }, 200);
  CHECK(stein.particles() == 200);
  const auto small = 0.2 * torch::randn({200, 2});
  const auto large = 3.0 * torch::randn({200, 2});
  const auto score = stein.score(torch::cat({small, large}), {});
  const auto error = [](const torch::Tensor& s, const torch::Tensor& z, double tau) {
    const auto truth = -z / (tau * tau);
    return ((s - truth).pow(2).sum() / truth.pow(2).sum()).item<double>();
  };
  CHECK(error(score.narrow(0, 0, 200), small, 0.2) < 0.35);
  CHECK(error(score.narrow(0, 200, 200), large, 3.0) < 0.35);
  CHECK(std::isnan(stein.train_step(small, {})));
  CHECK_THROWS_WITH_AS(
      stein.score(torch::zeros({300, 2}), {}),
      doctest::Contains("argument 'z' has shape [300, 2] but rows must come in blocks of 200 particles"),
      scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((im::nonparametric_latent_score<np::stein_gradient_estimator<>>(
                           [] { return np::stein_gradient_estimator<>(); }, 1)),
                       doctest::Contains("argument 'particles' is 1 but must be 0 (marginal) or at least 2"),
                       scorelift::invalid_argument);
}

TEST_CASE("implicit_trainer steps reduce the loss and reject bad input") {
  torch::manual_seed(17);
  const im::autoencoder_options options{.kind = im::autoencoder_kind::wae, .data_dim = 20, .latent_dim = 2,
                                        .hidden = 16};
  CHECK_THROWS_WITH_AS(im::implicit_trainer(im::Autoencoder(options), nullptr, 1e-3),
                       doctest::Contains("needs a latent score estimator"), scorelift::invalid_argument);
  auto estimator = std::make_shared<im::parametric_latent_score>(
      im::parametric_score_options{.objective = im::score_objective::lse, .levels = 2, .latent_dim = 2, .hidden = 8});
  im::implicit_trainer trainer(im::Autoencoder(options), estimator, 3e-3, /*score_steps=*/1);
  const auto images = torch::rand({32, 20});
  CHECK_THROWS_WITH_AS(trainer.step(torch::rand({32, 21})),
                       doctest::Contains("implicit_trainer::step: argument 'images' has shape [32, 21] but [B, 20] with B >= 2"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(trainer.step(torch::rand({1, 20})), doctest::Contains("argument 'images' has shape [1, 20]"),
                       scorelift::invalid_argument);
  const double first = trainer.step(images).loss;
  double last = first;
  for (int i = 0; i < 150; ++i) last = trainer.step(images).loss;
  // Reconstruction of a fixed batch: the loss (dominated by ‖x − x̂‖² ≈ 20/12 at the start) drops.
  CHECK(last < first - 0.5);
}

TEST_CASE(
    "parametric_latent_score: restore(snapshot()) undoes train steps exactly, RMSProp, signs and probes included") {
  torch::manual_seed(5);
  im::parametric_latent_score estimator(
      {.objective = im::score_objective::lse, .levels = 2, .latent_dim = 2, .hidden = 8, .learning_rate = 1e-2});
  const auto z = torch::randn({16, 2});
  const auto parameters = copies(estimator.stack()->parameters()), buffers = copies(estimator.stack()->buffers());
  const std::any before = estimator.snapshot();
  std::vector<double> first;
  for (int step = 0; step < 3; ++step) first.push_back(estimator.train_step(z, {}));
  const torch::Tensor trained = estimator.score(z, {});
  REQUIRE_FALSE(all_equal(copies(estimator.stack()->parameters()), parameters));
  REQUIRE_FALSE(all_equal(copies(estimator.stack()->buffers()), buffers));  // the soft signs moved
  estimator.restore(before);
  CHECK(all_equal(copies(estimator.stack()->parameters()), parameters));
  CHECK(all_equal(copies(estimator.stack()->buffers()), buffers));
  // The same three steps again: the same probes (the stream was put back) and the same RMSProp updates
  // (its state was empty at the snapshot, and the entries the steps created are gone).
  std::vector<double> again;
  for (int step = 0; step < 3; ++step) again.push_back(estimator.train_step(z, {}));
  CHECK(again == first);
  CHECK(torch::equal(estimator.score(z, {}), trained));
  CHECK_THROWS_WITH_AS(estimator.restore(std::any{}),
                       doctest::Contains("argument 'snapshot' was not taken by parametric_latent_score::snapshot"),
                       scorelift::invalid_argument);
}

namespace {
// A parametric estimator whose score() can be armed to throw after its updates: the trainer must undo them.
class failing_after_updates final : public im::latent_score_estimator {
 public:
  explicit failing_after_updates(std::shared_ptr<im::parametric_latent_score> inner) : inner_(std::move(inner)) {}
  double train_step(const torch::Tensor& z, const torch::Tensor& context) override {
    return inner_->train_step(z, context);
  }
  torch::Tensor score(const torch::Tensor& z, const torch::Tensor& context) override {
    if (fail) throw std::runtime_error("failing_after_updates: armed to fail");
    return inner_->score(z, context);
  }
  std::any snapshot() const override { return inner_->snapshot(); }
  void restore(const std::any& saved) override { inner_->restore(saved); }
  bool fail = false;

 private:
  std::shared_ptr<im::parametric_latent_score> inner_;
};
}  // namespace

TEST_CASE(
    "implicit_trainer: a step that throws after the estimator's updates leaves the estimator and the model as they "
    "were") {
  torch::manual_seed(9);
  const im::autoencoder_options options{
      .kind = im::autoencoder_kind::wae, .data_dim = 10, .latent_dim = 2, .hidden = 8};
  auto inner = std::make_shared<im::parametric_latent_score>(
      im::parametric_score_options{.objective = im::score_objective::lse, .levels = 2, .latent_dim = 2, .hidden = 8});
  auto estimator = std::make_shared<failing_after_updates>(inner);
  im::implicit_trainer trainer(im::Autoencoder(options), estimator, 1e-3, /*score_steps=*/3);
  const auto images = torch::rand({8, 10});
  trainer.step(images);  // RMSProp state and signs exist before the failing step
  const auto estimator_parameters = copies(inner->stack()->parameters());
  const auto estimator_buffers = copies(inner->stack()->buffers());
  const auto model_parameters = copies(trainer.model()->parameters());
  estimator->fail = true;
  CHECK_THROWS_WITH_AS(trainer.step(images), doctest::Contains("armed to fail"), std::runtime_error);
  CHECK(all_equal(copies(inner->stack()->parameters()), estimator_parameters));  // 3 updates undone
  CHECK(all_equal(copies(inner->stack()->buffers()), estimator_buffers));
  CHECK(all_equal(copies(trainer.model()->parameters()), model_parameters));
  estimator->fail = false;
  trainer.step(images);
  CHECK_FALSE(all_equal(copies(inner->stack()->parameters()), estimator_parameters));  // and it trains on
}

namespace {
// Counts train_step calls; its score is the standard normal's, so the trainer has something to use.
class counting_estimator final : public im::latent_score_estimator {
 public:
  explicit counting_estimator(bool trainable = true) : trainable_(trainable) {}
  double train_step(const torch::Tensor&, const torch::Tensor&) override { return static_cast<double>(++calls); }
  torch::Tensor score(const torch::Tensor& z, const torch::Tensor&) override { return -z.detach(); }
  bool trainable() const override { return trainable_; }
  int calls = 0;

 private:
  bool trainable_;
};
}  // namespace

TEST_CASE("implicit_trainer takes score_steps estimator steps per autoencoder step") {
  const im::autoencoder_options options{.kind = im::autoencoder_kind::wae, .data_dim = 6, .latent_dim = 2, .hidden = 4};
  auto estimator = std::make_shared<counting_estimator>();
  CHECK_THROWS_WITH_AS(im::implicit_trainer(im::Autoencoder(options), estimator, 1e-3, 0),
                       doctest::Contains("argument 'score_steps' is 0"), scorelift::invalid_argument);
  im::implicit_trainer trainer(im::Autoencoder(options), estimator, 1e-3, 3);
  const auto report = trainer.step(torch::rand({4, 6}));
  CHECK(estimator->calls == 3);
  CHECK(report.score_loss == 3.0);  // the last step's loss
  trainer.step(torch::rand({4, 6}));
  CHECK(estimator->calls == 6);
  // The default, chosen from measurements (trainer.hpp), and no updates for an estimator with nothing to fit.
  auto defaulted = std::make_shared<counting_estimator>();
  im::implicit_trainer(im::Autoencoder(options), defaulted, 1e-3).step(torch::rand({4, 6}));
  CHECK(defaulted->calls == im::default_score_steps);
  auto fixed = std::make_shared<counting_estimator>(/*trainable=*/false);
  const auto untrained = im::implicit_trainer(im::Autoencoder(options), fixed, 1e-3, 3).step(torch::rand({4, 6}));
  CHECK(fixed->calls == 0);
  CHECK(std::isnan(untrained.score_loss));
}

namespace {
// The Gaussian posterior's exact conditional score −(z − μ(x))/σ(x)², read off the model's own encoder
// (μ and σ depend on x only), scaled by `scale`: 1 is an oracle, 0 an estimator that knows nothing.
class gaussian_oracle final : public im::latent_score_estimator {
 public:
  gaussian_oracle(im::Autoencoder model, double scale) : model_(std::move(model)), scale_(scale) {}
  double train_step(const torch::Tensor&, const torch::Tensor&) override { return 0.0; }
  torch::Tensor score(const torch::Tensor& z, const torch::Tensor& x) override {
    if (fail_next) {
      fail_next = false;
      throw std::runtime_error("gaussian_oracle: armed to fail");
    }
    torch::NoGradGuard no_grad;
    const im::encoding code = model_->encode(x, torch::zeros_like(z));
    return scale_ * (-(z - code.mean) * (-2.0 * code.log_std).exp());
  }
  bool fail_next = false;  // the next score() throws, as an estimator's refit on a bad batch does

 private:
  im::Autoencoder model_;
  double scale_;
};
}  // namespace

TEST_CASE("implicit_trainer: a Gaussian VAE trained through an estimator reports the entropy gradient's fidelity") {
  torch::manual_seed(23);
  const im::autoencoder_options options{.kind = im::autoencoder_kind::gaussian_vae, .data_dim = 12, .latent_dim = 3,
                                        .hidden = 16};
  const auto images = torch::rand({8, 12});
  for (const double scale : {1.0, 0.0, 0.5}) {
    CAPTURE(scale);
    im::Autoencoder model(options);
    im::implicit_trainer trainer(model, std::make_shared<gaussian_oracle>(model, scale), 1e-3, 1, 2);
    for (int step = 1; step <= 4; ++step) {
      const im::step_report report = trainer.step(images);
      REQUIRE(report.fidelity.has_value() == (step % 2 == 0));  // every fidelity_every = 2 steps
      if (!report.fidelity) continue;
      // ĝ = scale · g exactly (the surrogate is linear in the score), on the same z.
      CHECK(report.fidelity->relative_error == doctest::Approx(std::abs(1.0 - scale)).epsilon(1e-4));
      CHECK(report.fidelity->estimated_norm == doctest::Approx(scale * report.fidelity->exact_norm).epsilon(1e-4));
      CHECK(report.fidelity->cosine == doctest::Approx(scale > 0.0 ? 1.0 : 0.0).epsilon(1e-4));
      CHECK(report.fidelity->score_cosine == doctest::Approx(scale > 0.0 ? 1.0 : 0.0).epsilon(1e-4));
    }
  }
  CHECK_THROWS_WITH_AS(im::implicit_trainer(im::Autoencoder(options), nullptr, 1e-3, 1, -1),
                       doctest::Contains("argument 'fidelity_every' is -1"), scorelift::invalid_argument);

  // A step that throws is not counted and leaves the autoencoder as it was: the retried step is the
  // 2nd, and reports the fidelity due every 2 steps.
  im::Autoencoder model(options);
  auto oracle = std::make_shared<gaussian_oracle>(model, 1.0);
  im::implicit_trainer trainer(model, oracle, 1e-3, 1, 2);
  CHECK(!trainer.step(images).fidelity.has_value());
  std::vector<torch::Tensor> before;
  for (const auto& p : model->parameters()) before.push_back(p.detach().clone());
  oracle->fail_next = true;
  CHECK_THROWS_WITH_AS(trainer.step(images), doctest::Contains("armed to fail"), std::runtime_error);
  const auto after = model->parameters();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(torch::equal(after[i], before[i]));
  CHECK(trainer.step(images).fidelity.has_value());
  torch::Tensor corrupted = images.clone();
  corrupted[0][0] = std::nan("");
  CHECK_THROWS_WITH_AS(trainer.step(corrupted), doctest::Contains("holds NaN or Inf"), scorelift::invalid_argument);
}

TEST_CASE("to_tensors copies pixels and labels") {
  scorelift::data::image_dataset data;
  data.count = 2;
  data.height = 1;
  data.width = 3;
  data.pixels = {0.f, 0.5f, 1.f, 0.25f, 0.75f, 0.125f};
  data.labels = {7, 2};
  const auto t = scorelift::data::to_tensors(data);
  data.pixels[4] = -1.f;  // the tensors own their memory
  CHECK(t.pixels.size(0) == 2);
  CHECK(t.pixels.size(1) == 3);
  CHECK(t.pixels[1][1].item<float>() == 0.75f);
  CHECK((t.labels.scalar_type() == torch::kInt64));
  CHECK(t.labels[0].item<int64_t>() == 7);
  // Sizes edited without the vectors (here 3 images said, 2 held) are refused, not read past.
  data.count = 3;
  CHECK_THROWS_WITH_AS(scorelift::data::to_tensors(data),
                       doctest::Contains("count = 3, height = 1, width = 3 but holds 6 pixels and 2 labels"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(
      data.image(2),
      doctest::Contains(
          "image_dataset::image: the dataset says count = 3, height = 1, width = 3 but holds 6 pixels and 2 labels"),
      scorelift::invalid_argument);
}

TEST_CASE("evaluate: checks its options first, hands the model back in its own mode, leaves the RNG stream alone") {
  torch::manual_seed(29);
  const im::autoencoder_options options{.kind = im::autoencoder_kind::implicit_vae, .data_dim = 12, .latent_dim = 2,
                                        .hidden = 8};
  im::Autoencoder model(options);
  im::FeatureClassifier classifier(im::feature_classifier_options{.input_dim = 12, .hidden = 8, .feature_dim = 4});
  const torch::Tensor test_images = torch::rand({16, 12});
  const scorelift::feature_moments reference = im::classifier_feature_moments(classifier, test_images);
  const im::evaluation_options small{.images = 16, .entropy_images = 2, .entropy_particles = 8, .generated = 16};

  // The same numbers twice (a private generator), and the caller's stream is where it was.
  torch::manual_seed(5);
  const im::evaluation_result first = im::evaluate(model, classifier, test_images, reference, small);
  const double next_draw = torch::rand({1}).item<double>();
  torch::manual_seed(5);
  const double expected_draw = torch::rand({1}).item<double>();
  CHECK(next_draw == expected_draw);
  const im::evaluation_result second = im::evaluate(model, classifier, test_images, reference, small);
  CHECK(first.objective == second.objective);
  CHECK(first.frechet == second.frechet);

  // Train mode in, train mode out; eval mode in, eval mode out — also when the call is refused.
  CHECK(model->is_training());
  im::evaluation_options too_few = small;
  too_few.entropy_particles = 3;  // k = 3 neighbours need at least 4 particles
  CHECK_THROWS_WITH_AS(im::evaluate(model, classifier, test_images, reference, too_few),
                       doctest::Contains("option 'entropy_neighbour' is 3 but the k-NN entropy needs 1 <= k < 3"),
                       scorelift::invalid_argument);
  CHECK(model->is_training());
  model->eval();
  im::evaluate(model, classifier, test_images, reference, small);
  CHECK(!model->is_training());
  im::evaluation_options no_samples = small;
  no_samples.generated = 1;
  CHECK_THROWS_WITH_AS(im::evaluate(model, classifier, test_images, reference, no_samples),
                       doctest::Contains("'generated' = 1"), scorelift::invalid_argument);
}

TEST_CASE("parametric_latent_score: a batch refused for NaN leaves the estimator's probe stream where it was") {
  const im::parametric_score_options options{.objective = im::score_objective::lse, .levels = 2, .latent_dim = 2,
                                             .hidden = 8};
  torch::manual_seed(31);
  im::parametric_latent_score refused_once(options);
  torch::manual_seed(31);
  im::parametric_latent_score never_refused(options);
  const torch::Tensor z = torch::randn({16, 2});
  torch::Tensor bad = z.clone();
  bad[3][1] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(refused_once.train_step(bad, {}), doctest::Contains("holds NaN or Inf"), scorelift::invalid_argument);
  for (int step = 0; step < 2; ++step) CHECK(refused_once.train_step(z, {}) == never_refused.train_step(z, {}));
}

TEST_CASE("load_or_train_classifier refuses settings that would cache an untrained classifier") {
  const std::string cache = (std::filesystem::temp_directory_path() / "scorelift_untrained_classifier.pt").string();
  std::filesystem::remove(cache);
  const torch::Tensor images = torch::rand({10, 784});
  const torch::Tensor labels = torch::randint(0, 10, {10}, torch::kInt64);
  CHECK_THROWS_WITH_AS(im::load_or_train_classifier(cache, images, labels, {.epochs = 0}),
                       doctest::Contains("would take no step"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(im::load_or_train_classifier(cache, images, labels, {.epochs = 1, .batch = 128}),
                       doctest::Contains("on 10 images would take no step"), scorelift::invalid_argument);
  CHECK(!std::filesystem::exists(cache));
}

// Implicit-model layer: the entropy surrogate's gradient is −∇h (closed form for a Gaussian
// encoder), the Gaussian KL / entropy closed forms, the k-NN entropy used by the evaluation agrees
// with the exact entropy on a Gaussian posterior, latent score estimators (residual SSM-VR, LSE,
// Stein in blocks) recover a known score, and the trainer / adaptor reject bad input.
#include <torch/torch.h>

#include <cmath>
#include <numbers>

#include "scorelift/data/torch/images.hpp"
#include "scorelift/implicit/knn_entropy.hpp"
#include "scorelift/implicit/torch/autoencoders.hpp"
#include "scorelift/implicit/torch/entropy_surrogate.hpp"
#include "scorelift/implicit/torch/evaluation.hpp"
#include "scorelift/implicit/torch/latent_score.hpp"
#include "scorelift/implicit/torch/nonparametric_latent_score.hpp"
#include "scorelift/implicit/torch/trainer.hpp"
#include "scorelift/nonparametric/stein.hpp"

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

namespace im = scorelift::implicit;
using scorelift::index_t;

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
  CHECK_THROWS_AS(im::entropy_gradient_surrogate(torch::zeros({4, 3}), bad), scorelift::invalid_argument);
  CHECK_THROWS_AS(im::entropy_gradient_surrogate(torch::zeros({3}), torch::zeros({3})), scorelift::invalid_argument);
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
  CHECK_THROWS_AS(stein.score(torch::zeros({300, 2}), {}), scorelift::invalid_argument);
  CHECK_THROWS_AS((im::nonparametric_latent_score<np::stein_gradient_estimator<>>(
                      [] { return np::stein_gradient_estimator<>(); }, 1)),
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
  im::implicit_trainer trainer(im::Autoencoder(options), estimator, 3e-3);
  const auto images = torch::rand({32, 20});
  CHECK_THROWS_AS(trainer.step(torch::rand({32, 21})), scorelift::invalid_argument);
  CHECK_THROWS_AS(trainer.step(torch::rand({1, 20})), scorelift::invalid_argument);
  const double first = trainer.step(images).loss;
  double last = first;
  for (int i = 0; i < 150; ++i) last = trainer.step(images).loss;
  // Reconstruction of a fixed batch: the loss (dominated by ‖x − x̂‖² ≈ 20/12 at the start) drops.
  CHECK(last < first - 0.5);
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
}

// The LibTorch side of the diffusion toolkit: noising tables, DSM / LDSE in noise units with per-timestep
// signs, combining modes, samplers on torch::Tensor states, the UNet's shapes. Double precision, CPU.
#include <torch/torch.h>

#include <Eigen/Core>
#include <cmath>

#include "scorelift/diffusion/samplers/ddim.hpp"
#include "scorelift/diffusion/torch/clipped_denoising.hpp"
#include "scorelift/diffusion/torch/diffusion_loss.hpp"
#include "scorelift/diffusion/torch/unet.hpp"
#include "torch/torch_test_support.hpp"

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

using namespace scorelift::diffusion;
using namespace scorelift::diffusion::torch_ext;
using scorelift::index_t;

namespace {
using scorelift::test::f64;

struct fixture {
  discrete_schedule schedule = cosine_schedule(50);
  schedule_tensors tables{schedule, torch::kFloat64, torch::kCPU};
  torch::Tensor x0, eps, t;
  noised_batch batch;
  fixture(int64_t B, int64_t D) {
    torch::manual_seed(3);
    x0 = torch::randn({B, D}, f64);
    eps = torch::randn({B, D}, f64);
    t = torch::randint(1, 51, {B}, torch::TensorOptions().dtype(torch::kInt64));
    batch = tables.at_timesteps(x0, t, eps);
  }
};
}  // namespace

TEST_CASE("schedule_tensors: the noised batch is alpha_t x + sigma_t eps with the schedule's values") {
  fixture f(7, 3);
  for (int64_t b = 0; b < 7; ++b) {
    const noise_level n = f.schedule.level(f.t[b].item<int64_t>());
    CHECK(f.batch.alpha[b].item<double>() == doctest::Approx(n.alpha).epsilon(1e-14));
    CHECK(f.batch.sigma[b].item<double>() == doctest::Approx(n.sigma).epsilon(1e-14));
    const torch::Tensor expected = n.alpha * f.x0[b] + n.sigma * f.eps[b];
    CHECK(torch::allclose(f.batch.x_noisy[b], expected, 1e-14, 1e-14));
  }
  CHECK_THROWS_WITH_AS(f.tables.at_timesteps(f.x0, torch::zeros({7}, torch::kInt64), f.eps),
                       doctest::Contains("outside [1, 50]"), scorelift::invalid_argument);
}

TEST_CASE("schedule_tensors::add_noise: one timestep per sample (asymmetric) or one per batch (symmetric)") {
  fixture f(64, 2);
  torch::manual_seed(11);
  const noised_batch shared = f.tables.add_noise(f.x0, true);
  CHECK(shared.timesteps.min().item<int64_t>() == shared.timesteps.max().item<int64_t>());
  const noised_batch own = f.tables.add_noise(f.x0, false);
  CHECK(own.timesteps.min().item<int64_t>() >= 1);
  CHECK(own.timesteps.max().item<int64_t>() <= 50);
  CHECK(own.timesteps.min().item<int64_t>() < own.timesteps.max().item<int64_t>());  // 64 draws from 50 values
  // ε is returned, so x̃ is reproducible from it.
  CHECK(torch::allclose(own.x_noisy, own.alpha.reshape({-1, 1}) * f.x0 + own.sigma.reshape({-1, 1}) * own.epsilon));
}

// ⟨−ε/σ, −ε̂/σ⟩ σ² = ⟨ε, ε̂⟩: the noise-unit objective with weight w_ε is the score-unit objective with w' = σ² w_ε.
TEST_CASE("diffusion_loss: LDSE in noise units equals LDSE in score units with weights sigma^2 (value and gradient)") {
  fixture f(9, 3);
  const torch::Tensor modes = torch::randn({2, 9, 3}, f64).requires_grad_(true);
  scorelift::sign_tracker signs(2, 50, 0.5);
  diffusion_loss_options options;
  options.objective = diffusion_objective::ldse;
  options.weighting = epsilon_weighting::edm;
  const auto ours = diffusion_loss(modes, f.batch, &signs, options);
  const torch::Tensor grad_ours = torch::autograd::grad({ours.loss}, {modes})[0];

  const torch::Tensor sigma = f.batch.sigma.reshape({1, -1, 1});
  const torch::Tensor modes2 = modes.detach().clone().requires_grad_(true);
  scorelift::torch_ext::objective_inputs inputs;
  inputs.target = -f.eps / f.batch.sigma.reshape({-1, 1});
  const torch::Tensor w_eps = (torch::exp(-f.batch.log_snr) + 0.25) / 0.25;
  inputs.weights = f.batch.sigma.pow(2) * w_eps;
  const auto reference = scorelift::torch_ext::lifted_residual_loss(-modes2 / sigma, inputs);
  const torch::Tensor grad_ref = torch::autograd::grad({reference.loss}, {modes2})[0];
  CHECK(ours.loss.item<double>() == doctest::Approx(reference.loss.item<double>()).epsilon(1e-10));
  CHECK(torch::allclose(grad_ours, grad_ref, 1e-9, 1e-12));
}

TEST_CASE("diffusion_loss: DSM with L = 1 is half the (weighted) mean squared noise error") {
  fixture f(8, 4);
  const torch::Tensor modes = torch::randn({1, 8, 4}, f64);
  diffusion_loss_options options;
  options.objective = diffusion_objective::dsm;
  const double uniform = diffusion_loss(modes, f.batch, nullptr, options).loss.item<double>();
  CHECK(uniform == doctest::Approx(0.5 * (modes[0] - f.eps).pow(2).sum(1).mean().item<double>()).epsilon(1e-12));
  options.weighting = epsilon_weighting::edm;
  const torch::Tensor w = (torch::exp(-f.batch.log_snr) + 0.25) / 0.25;
  const double weighted = diffusion_loss(modes, f.batch, nullptr, options).loss.item<double>();
  CHECK(weighted == doctest::Approx(0.5 * (w * (modes[0] - f.eps).pow(2).sum(1)).mean().item<double>()).epsilon(1e-12));
}

TEST_CASE("diffusion_loss: the per-timestep sign state moves only at the batch's timesteps, by EMA 0.5") {
  fixture f(6, 2);
  const torch::Tensor t = torch::tensor({5, 5, 5, 9, 9, 9}, torch::kInt64);
  const noised_batch batch = f.tables.at_timesteps(f.x0, t, f.eps);
  const torch::Tensor modes = torch::randn({1, 6, 2}, f64);
  scorelift::sign_tracker signs(1, 50, 0.5);
  diffusion_loss(modes, batch, &signs, {});
  // L = 1: alignment w_b ⟨ε_b, ε̂_b⟩ averaged over each timestep's samples; A = 0.5·0 + 0.5·mean.
  const torch::Tensor align = (f.eps * modes[0]).sum(1);
  CHECK(signs.soft_sign(0, 4) == doctest::Approx(0.5 * align.slice(0, 0, 3).mean().item<double>()).epsilon(1e-12));
  CHECK(signs.soft_sign(0, 8) == doctest::Approx(0.5 * align.slice(0, 3, 6).mean().item<double>()).epsilon(1e-12));
  CHECK(signs.soft_sign(0, 0) == 0.0);
  CHECK(signs.soft_sign(0, 49) == 0.0);
  CHECK_THROWS_WITH_AS(diffusion_loss(torch::randn({2, 6, 2}, f64), batch, &signs, {}), doctest::Contains("2 modes"),
                       scorelift::invalid_argument);
}

TEST_CASE("combine_modes: sum of kappa_l(t) eps_l with each sample's own timestep") {
  scorelift::sign_tracker signs(2, 10, 0.5);
  std::vector<double> state(20, 1.0);
  state[3 * 2 + 0] = -1.0;  // timestep 4 (level 3): mode 1 negative
  signs.set_state(state);
  const torch::Tensor modes = torch::randn({2, 2, 3}, f64);
  const torch::Tensor t = torch::tensor({4, 7}, torch::kInt64);
  const torch::Tensor combined = combine_modes(modes, t, &signs);
  CHECK(torch::allclose(combined[0], -modes[0][0] + modes[1][0]));
  CHECK(torch::allclose(combined[1], modes[0][1] + modes[1][1]));
  CHECK(torch::allclose(combine_modes(modes, t, nullptr), modes.sum(0)));
}

// The samplers are generic over the state: on data N(0, s²) the exact ε̂ = σ x/(α² s² + σ²) gives the same
// DDIM trajectory with torch::Tensor as with Eigen.
TEST_CASE("ddim_sample: torch::Tensor and Eigen states give the same samples") {
  const discrete_schedule schedule = cosine_schedule(100);
  const double s = 0.8;
  auto eps_eigen = [&](const Eigen::MatrixXd& x, index_t t) {
    const noise_level n = schedule.level(t);
    return Eigen::MatrixXd(n.sigma / (n.alpha * n.alpha * s * s + n.sigma * n.sigma) * x);
  };
  auto eps_torch = [&](const torch::Tensor& x, index_t t) {
    const noise_level n = schedule.level(t);
    return n.sigma / (n.alpha * n.alpha * s * s + n.sigma * n.sigma) * x;
  };
  Eigen::MatrixXd z(3, 2);
  z << 0.1, -1.2, 2.0, 0.5, -0.3, 0.9;
  const torch::Tensor zt = torch::tensor({0.1, -1.2, 2.0, 0.5, -0.3, 0.9}, f64).reshape({3, 2});
  auto no_noise_e = [](const Eigen::MatrixXd& like) { return Eigen::MatrixXd(Eigen::MatrixXd::Zero(like.rows(), like.cols())); };
  auto no_noise_t = [](const torch::Tensor& like) { return torch::zeros_like(like); };
  const Eigen::MatrixXd a = ddim_sample(schedule, eps_eigen, z, no_noise_e, {20, 0.0});
  const torch::Tensor b = ddim_sample(schedule, eps_torch, zt, no_noise_t, {20, 0.0});
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 2; ++c) CHECK(b[r][c].item<double>() == doctest::Approx(a(r, c)).epsilon(1e-12));
}

TEST_CASE("epsilon_with_clipped_x0: unchanged inside the box, clipped outside") {
  const noise_level n = noise_level::variance_preserving(-1.0);
  const torch::Tensor x0 = torch::tensor({{0.5, -3.0}}, f64), eps = torch::tensor({{0.2, 0.1}}, f64);
  const torch::Tensor x = n.alpha * x0 + n.sigma * eps;
  const torch::Tensor clipped = epsilon_with_clipped_x0(x, eps, n, -1.0, 1.0);
  CHECK(clipped[0][0].item<double>() == doctest::Approx(0.2).epsilon(1e-12));
  // x̂₀ = −3 → −1: ε̂' = (x − α(−1))/σ.
  CHECK(clipped[0][1].item<double>() == doctest::Approx((x[0][1].item<double>() + n.alpha) / n.sigma).epsilon(1e-12));
}

TEST_CASE("UNet: output shaped like the input, per sample, conditioned on s, bad shapes throw") {
  unet_options o;
  o.base_channels = 8;
  o.embedding_dim = 16;
  torch::manual_seed(7);
  UNet net(o);
  const torch::Tensor x = torch::randn({2, 1, 28, 28});
  const torch::Tensor s = torch::tensor({0.1f, 0.9f});
  const torch::Tensor y = net->forward(x, s);
  CHECK(y.sizes() == x.sizes());
  CHECK(torch::isfinite(y).all().item<bool>());
  // GroupNorm, no batch statistics: each sample's output is its output alone, and reordering the batch
  // (images with their s) reorders the output (float: to 1e-5 of the output's scale).
  const double scale = y.abs().max().item<double>();
  REQUIRE(scale > 0.0);  // the output convolution is not zero-initialised (unet.hpp)
  CHECK((net->forward(x.narrow(0, 1, 1), s.narrow(0, 1, 1)) - y.narrow(0, 1, 1)).abs().max().item<double>() < 1e-5 * scale);
  const torch::Tensor swap = torch::tensor({1, 0});
  CHECK((net->forward(x.index_select(0, swap), s.index_select(0, swap)) - y.index_select(0, swap)).abs().max().item<double>() <
        1e-5 * scale);
  // The noise level reaches the output: the same images at swapped s give another output.
  CHECK((net->forward(x, s.flip(0)) - y).abs().max().item<double>() > 1e-3 * scale);
  CHECK_THROWS_WITH_AS(net->forward(torch::randn({2, 1, 30, 30}), torch::tensor({0.1f, 0.9f})),
                       doctest::Contains("divisible by 4"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(net->forward(x, torch::tensor({0.1f})), doctest::Contains("'s' has shape [1]"),
                       scorelift::invalid_argument);
}

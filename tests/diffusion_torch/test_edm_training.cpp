// EDM training through the library's losses (diffusion/torch/edm_training.hpp): the noising and its σ
// distribution, the sign bins, the network inputs and the denoiser against edm.hpp's scalar
// coefficients, and DSM on the EDM modes equal to EDM's own regression ½ mean_b λ(σ_b)‖D_b − x_b‖².
#include <torch/torch.h>

#include <cmath>

#include "scorelift/diffusion/edm.hpp"
#include "scorelift/diffusion/torch/diffusion_loss.hpp"
#include "scorelift/diffusion/torch/edm_training.hpp"
#include "torch/torch_test_support.hpp"

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

using namespace scorelift::diffusion;
using namespace scorelift::diffusion::torch_ext;

namespace {
using scorelift::test::f64;

/// D_b = c_skip(σ_b) x̃_b + c_out(σ_b) Σ_l F_lb from edm_preconditioning::at, sample by sample.
torch::Tensor reference_denoiser(const torch::Tensor& x_noisy, const torch::Tensor& sigma, const torch::Tensor& raw_sum) {
  torch::Tensor out = torch::empty_like(x_noisy);
  for (int64_t b = 0; b < x_noisy.size(0); ++b) {
    const auto c = edm_preconditioning::at(sigma[b].item<double>());
    out[b] = c.c_skip * x_noisy[b] + c.c_out * raw_sum[b];
  }
  return out;
}
}  // namespace

TEST_CASE("edm_noising::at_sigmas: x + sigma n, alpha = 1, lambda = -2 ln sigma, sign bins of ln sigma") {
  const edm_noising noising({}, 32);
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({4, 3}, f64), n = torch::randn({4, 3}, f64);
  const torch::Tensor sigma = torch::tensor({0.002, 1.0, 80.0, 1e-4}, f64);
  const auto batch = noising.at_sigmas(x, sigma, n);
  CHECK(torch::allclose(batch.x_noisy, x + sigma.unsqueeze(1) * n, 0, 1e-15));
  CHECK(torch::equal(batch.alpha, torch::ones({4}, f64)));
  CHECK(torch::allclose(batch.log_snr, -2.0 * torch::log(sigma), 0, 1e-15));
  // Bin of σ = 1: ⌊32 (0 − ln 0.002)/(ln 80 − ln 0.002)⌋ = ⌊18.77⌋ = 18; the ends, and σ below σ_min, clamp.
  const int64_t middle = static_cast<int64_t>(std::floor(32.0 * -std::log(0.002) / (std::log(80.0) - std::log(0.002))));
  REQUIRE(middle == 18);
  CHECK(batch.timesteps[0].item<int64_t>() == 1);
  CHECK(batch.timesteps[1].item<int64_t>() == middle + 1);
  CHECK(batch.timesteps[2].item<int64_t>() == 32);
  CHECK(batch.timesteps[3].item<int64_t>() == 1);
}

TEST_CASE("edm_noising::add_noise: ln sigma ~ N(P_mean, P_std^2) within 4 standard errors") {
  const edm_noising noising;
  torch::manual_seed(7);
  const int64_t n = 20000;
  const auto batch = noising.add_noise(torch::zeros({n, 2}, f64));
  const torch::Tensor log_sigma = torch::log(batch.sigma);
  const double mean = log_sigma.mean().item<double>(), sd = log_sigma.std().item<double>();
  CHECK(std::abs(mean - (-1.2)) < 4.0 * 1.2 / std::sqrt(static_cast<double>(n)));
  CHECK(std::abs(sd - 1.2) < 4.0 * 1.2 / std::sqrt(2.0 * static_cast<double>(n)));
  // x = 0: x̃ = σ n, so x̃/σ is the noise itself.
  CHECK(torch::allclose(batch.x_noisy / batch.sigma.unsqueeze(1), batch.epsilon, 0, 1e-12));
}

TEST_CASE("edm_noising: network inputs, modes and denoiser match edm_preconditioning, kappa = +1 sums to D") {
  const edm_noising noising;
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({5, 3}, f64), n = torch::randn({5, 3}, f64);
  const torch::Tensor sigma = torch::tensor({0.01, 0.3, 1.0, 7.0, 60.0}, f64);
  const auto batch = noising.at_sigmas(x, sigma, n);
  const auto inputs = noising.network_inputs(batch.x_noisy, sigma);
  for (int64_t b = 0; b < 5; ++b) {
    const auto c = edm_preconditioning::at(sigma[b].item<double>());
    CHECK(torch::allclose(inputs.x[b], c.c_in * batch.x_noisy[b], 1e-14, 0));
    CHECK(inputs.noise[b].item<double>() == doctest::Approx(c.c_noise).epsilon(1e-14));
  }
  const torch::Tensor raw = torch::randn({2, 5, 3}, f64);  // F_1, F_2
  const torch::Tensor modes = noising.epsilon_modes(raw, batch.x_noisy, sigma);
  const torch::Tensor denoised = edm_noising::denoised(batch.x_noisy, sigma, combine_modes(modes, batch.timesteps, nullptr));
  CHECK(torch::allclose(denoised, reference_denoiser(batch.x_noisy, sigma, raw.sum(0)), 1e-12, 1e-12));
}

TEST_CASE("diffusion_loss on EDM modes with the EDM weighting is EDM's regression 1/2 mean lambda(sigma) |D - x|^2") {
  const edm_noising noising;
  torch::manual_seed(4);
  const torch::Tensor x = torch::randn({6, 4}, f64);
  const auto batch = noising.add_noise(x);
  const torch::Tensor raw = torch::randn({1, 6, 4}, f64);
  diffusion_loss_options options;
  options.objective = diffusion_objective::dsm;
  options.weighting = epsilon_weighting::edm;
  options.sigma_data = noising.config().sigma_data;
  const double loss =
      diffusion_loss(noising.epsilon_modes(raw, batch.x_noisy, batch.sigma), batch, nullptr, options).loss.item<double>();
  const torch::Tensor d = reference_denoiser(batch.x_noisy, batch.sigma, raw[0]);
  double expected = 0.0;
  for (int64_t b = 0; b < 6; ++b)
    expected += 0.5 * edm_loss_weight(batch.sigma[b].item<double>()) * (d[b] - x[b]).pow(2).sum().item<double>() / 6.0;
  CHECK(loss == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("edm_noising: bad input is refused naming the argument") {
  CHECK_THROWS_WITH_AS(edm_noising({}, 0), doctest::Contains("'bins' is 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(edm_noising(edm_config{.sigma_data = -1.0}), doctest::Contains("sigma_data"), scorelift::invalid_argument);
  const edm_noising noising;
  const torch::Tensor x = torch::zeros({3, 2}, f64);
  CHECK_THROWS_WITH_AS(noising.at_sigmas(x, torch::tensor({1.0, 0.0, 1.0}, f64), torch::zeros_like(x)),
                       doctest::Contains("not finite and > 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(noising.at_sigmas(x, torch::ones({2}, f64), torch::zeros_like(x)),
                       doctest::Contains("'sigma' has shape [2] but [3]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(noising.epsilon_modes(torch::zeros({1, 3, 3}, f64), x, torch::ones({3}, f64)),
                       doctest::Contains("'raw_modes' has shape [1, 3, 3]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(noising.add_noise(torch::zeros({3}, f64)), doctest::Contains("'x' has shape [3]"),
                       scorelift::invalid_argument);
}

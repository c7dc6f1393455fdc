#include "scorelift/diffusion/samplers/edm_heun.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "sampler_checks.hpp"

using namespace scorelift::diffusion;
using scorelift::index_t;
using scorelift::test::mixture_matrix;

TEST_CASE("edm_sample: 18 Heun steps cost 35 denoiser evaluations and reproduce the mixture") {
  const gaussian_mixture g = scorelift::test::reference_mixture();
  index_t evaluations = 0;
  // VE coordinates: x = y + σ n, the exact denoiser E[y | x].
  auto denoiser = [&](const mixture_matrix& x, double sigma) {
    ++evaluations;
    return g.denoised(x, noise_level::variance_exploding(sigma));
  };
  scorelift::test::gaussian_noise noise(44);
  const mixture_matrix x = edm_sample(denoiser, noise(mixture_matrix(scorelift::test::sample_count, 2)));
  CHECK(evaluations == 35);
  scorelift::test::check_matches_mixture(x, g, "edm heun 18");
}

// On data N(0, s²) the ODE dx/dσ = (x − D(x; σ))/σ with D = s²/(s² + σ²) x has the exact solution
// x(σ) ∝ √(s² + σ²), so x(0) = x(σ_max) s/√(s² + σ_max²). Halving the step must divide Heun's error by ≈ 4
// (second order) and Euler's by ≈ 2 (first order).
TEST_CASE("edm_sample: Heun is second order and Euler first order on a Gaussian") {
  const double s = 0.5;
  auto denoiser = [&](const Eigen::MatrixXd& x, double sigma) { return Eigen::MatrixXd(s * s / (s * s + sigma * sigma) * x); };
  const Eigen::MatrixXd z = Eigen::MatrixXd::Ones(1, 1);
  auto error = [&](index_t steps, bool heun) {
    edm_sampler_options options;
    options.steps = steps;
    options.heun = heun;
    const double exact = 80.0 * s / std::sqrt(s * s + 80.0 * 80.0);
    return std::abs(edm_sample(denoiser, z, options)(0, 0) - exact);
  };
  const double heun_ratio = error(16, true) / error(32, true);
  const double euler_ratio = error(64, false) / error(128, false);
  CAPTURE(heun_ratio);
  CAPTURE(euler_ratio);
  CHECK(heun_ratio > 3.0);
  CHECK(euler_ratio > 1.6);
  CHECK(euler_ratio < 2.5);
  CHECK(error(18, true) < 0.5 * error(18, false));
}

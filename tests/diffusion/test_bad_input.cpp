// Bad input to the diffusion helpers: every parameter is checked where it enters, with a message naming
// the function and the argument; and finite inputs at the edge of the floating-point range are either
// computed in a stable form or refused naming the cause, never returned as NaN/Inf.
#include <doctest/doctest.h>

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <random>

#include "scorelift/diffusion/continuous_schedule.hpp"
#include "scorelift/diffusion/discrete_schedule.hpp"
#include "scorelift/diffusion/edm.hpp"
#include "scorelift/diffusion/gaussian_mixture.hpp"
#include "scorelift/diffusion/parameterisation.hpp"
#include "scorelift/diffusion/sample_metrics.hpp"
#include "scorelift/diffusion/samplers/ddpm.hpp"
#include "scorelift/diffusion/samplers/langevin.hpp"
#include "scorelift/diffusion/samplers/probability_flow.hpp"
#include "scorelift/diffusion/weighting.hpp"

using namespace scorelift::diffusion;
using scorelift::index_t;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

sample_matrix normal_samples(index_t n, index_t d, unsigned seed, double scale = 1.0, double shift = 0.0) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  sample_matrix x(n, d);
  for (index_t i = 0; i < x.size(); ++i) x.data()[i] = scale * normal(gen) + shift;
  return x;
}
}  // namespace

TEST_CASE("continuous schedules: t outside [0, 1] or NaN and invalid parameters are refused naming them") {
  const vp_linear_schedule linear;
  for (const double t : {-0.1, 1.5, not_a_number, inf}) {
    CAPTURE(t);
    CHECK_THROWS_WITH_AS((void)linear.level(t), doctest::Contains("vp_linear_schedule::log_alpha: argument 't' is"),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS((void)linear.d_log_alpha(t), doctest::Contains("argument 't'"), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS((void)vp_cosine_schedule{}.level(t), doctest::Contains("argument 't'"), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS((void)ve_schedule{}.level(t), doctest::Contains("ve_schedule::level: argument 't'"),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS((void)ve_schedule{}.d_log_snr(t), doctest::Contains("argument 't'"), scorelift::invalid_argument);
  }
  // β_max < β_min, β_min < 0, NaN, and β ≡ 0 (σ ≡ 0, λ' = 0/0).
  CHECK_THROWS_WITH_AS((void)(vp_linear_schedule{1.0, 0.5}.level(0.5)), doctest::Contains("beta_max = 0.5"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(vp_linear_schedule{-0.1, 20.0}.d_log_snr(0.5)), doctest::Contains("beta_min = -0.1"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(vp_linear_schedule{not_a_number, 20.0}.level(0.5)), doctest::Contains("beta_min = nan"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(vp_linear_schedule{0.0, 0.0}.d_log_snr(0.5)),
                       doctest::Contains("beta_min = 0, beta_max = 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(vp_linear_schedule{0.1, inf}.level(0.5)), doctest::Contains("beta_max = inf"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)vp_cosine_schedule{0.0}.level(0.5), doctest::Contains("s = 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)vp_cosine_schedule{not_a_number}.d_log_alpha(0.5),
                       doctest::Contains("vp_cosine_schedule has s = nan"), scorelift::invalid_argument);
  // VE: σ_min ≤ 0, σ_min > σ_max, σ_min = σ_max, σ_max = ∞.
  CHECK_THROWS_WITH_AS((void)(ve_schedule{0.0, 50.0}.level(0.5)), doctest::Contains("sigma_min = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(ve_schedule{-1.0, 50.0}.d_log_snr(0.5)), doctest::Contains("sigma_min = -1"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(ve_schedule{10.0, 1.0}.level(0.5)), doctest::Contains("sigma_max = 1"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(ve_schedule{1.0, 1.0}.d_log_alpha(0.5)),
                       doctest::Contains("sigma_min = 1, sigma_max = 1"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(ve_schedule{0.01, inf}.level(0.5)), doctest::Contains("sigma_max = inf"),
                       scorelift::invalid_argument);
  // The ends of the domain stay valid.
  CHECK(linear.level(0.0).sigma == 0.0);
  CHECK(ve_schedule{}.level(1.0).sigma == doctest::Approx(50.0));
}

TEST_CASE("probability_flow_sample: the time grid and the method are checked, and t_end = 0 is reached exactly") {
  auto score = [](const Eigen::MatrixXd& x, double) { return Eigen::MatrixXd(-x); };
  const Eigen::MatrixXd z = Eigen::MatrixXd::Ones(2, 2);
  const ve_schedule ve{0.01, 10.0};
  CHECK_THROWS_WITH_AS((void)probability_flow_sample(ve, score, z, {10, 1.5, 1e-3, ode_method::euler}),
                       doctest::Contains("options.t_start = 1.5"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)probability_flow_sample(ve, score, z, {10, inf, 1e-3, ode_method::euler}),
                       doctest::Contains("t_start"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)probability_flow_sample(ve, score, z, {10, 1.0, not_a_number, ode_method::euler}),
                       doctest::Contains("options.t_end = nan"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)probability_flow_sample(ve, score, z, {10, 0.5, -0.1, ode_method::heun}),
                       doctest::Contains("t_end"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)probability_flow_sample(ve, score, z, {10, 1.0, 1e-3, static_cast<ode_method>(5)}),
                       doctest::Contains("argument 'options.method' is 5"), scorelift::invalid_argument);
  // t_start + steps·h rounds below 0 for some step counts; the grid is clamped so the last Heun stage
  // evaluates the schedule at t_end = 0 itself (VE is finite there).
  for (const index_t steps : {3, 7, 10, 49})
    CHECK(probability_flow_sample(ve, score, z, {steps, 1.0, 0.0, ode_method::heun}).allFinite());
}

TEST_CASE("EDM: sigma, sigma_data and the config are checked, and huge sigma stays finite") {
  CHECK_THROWS_WITH_AS((void)edm_preconditioning::at(inf), doctest::Contains("argument 'sigma' is inf"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_preconditioning::at(not_a_number), doctest::Contains("argument 'sigma' is nan"),
                       scorelift::invalid_argument);
  for (const double sd : {0.0, -0.5, not_a_number, inf}) {
    CAPTURE(sd);
    CHECK_THROWS_WITH_AS((void)edm_preconditioning::at(1.0, sd), doctest::Contains("argument 'sigma_data'"),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS((void)edm_loss_weight(1.0, sd), doctest::Contains("argument 'sigma_data'"), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS((void)edm_sigma_steps(10, {.sigma_data = sd}), doctest::Contains("argument 'sigma_data'"),
                         scorelift::invalid_argument);
  }
  CHECK_THROWS_WITH_AS((void)edm_loss_weight(inf), doctest::Contains("argument 'sigma' is inf"), scorelift::invalid_argument);
  // σ = 1e200: σ² + σ_d² overflows, the hypot form does not (c_skip → 0, c_out → σ_d, c_in → 1/σ).
  const auto huge = edm_preconditioning::at(1e200, 0.5);
  // (Approx's default scale of 1 would accept any c_in below 1e-5: compare 1e200 · c_in with 1.)
  CHECK(huge.c_skip == 0.0);  // (σ_d/σ)² = 2.5e-401 underflows
  CHECK(huge.c_out == doctest::Approx(0.5));
  CHECK(huge.c_in * 1e200 == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(huge.c_noise == doctest::Approx(50.0 * std::log(10.0)).epsilon(1e-15));  // ¼ ln 1e200
  CHECK(edm_loss_weight(1e200) == doctest::Approx(4.0));
  // ρ = ∞ would make every step 1; σ_max = ∞ NaN.
  CHECK_THROWS_WITH_AS((void)edm_sigma_steps(10, {.rho = inf}), doctest::Contains("rho = inf"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_sigma_steps(10, {.sigma_max = inf}), doctest::Contains("sigma_max = inf"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_sigma_steps(10, {.rho = not_a_number}), doctest::Contains("rho = nan"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_sigma_steps(10, {.p_std = 0.0}), doctest::Contains("p_std = 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_training_sigma(0.0, {.p_mean = not_a_number}), doctest::Contains("p_mean = nan"),
                       scorelift::invalid_argument);
  // A draw that overflows exp: refused rather than σ = ∞ (or 0).
  CHECK_THROWS_WITH_AS((void)edm_training_sigma(1e3), doctest::Contains("argument 'standard_normal' is 1000"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_training_sigma(-1e3), doctest::Contains("argument 'standard_normal' is -1000"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_training_sigma(not_a_number), doctest::Contains("argument 'standard_normal' is nan"),
                       scorelift::invalid_argument);
}

TEST_CASE("Langevin and predictor-corrector: step scale, SNR, step counts and overflowing levels are refused") {
  auto score = [](const Eigen::MatrixXd& x, double) { return Eigen::MatrixXd(-x); };
  auto noise = [](const Eigen::MatrixXd& x) { return Eigen::MatrixXd(Eigen::MatrixXd::Zero(x.rows(), x.cols())); };
  const Eigen::MatrixXd z = Eigen::MatrixXd::Ones(2, 2);
  for (const double scale : {0.0, -1.0, not_a_number, inf}) {
    CAPTURE(scale);
    CHECK_THROWS_WITH_AS((void)annealed_langevin_sample(score, z, noise, {{1.0, 0.1}, 2, scale, true}),
                         doctest::Contains("argument 'options.step_scale'"), scorelift::invalid_argument);
  }
  CHECK_THROWS_WITH_AS((void)annealed_langevin_sample(score, z, noise, {{1.0, 0.1}, 0, 1e-3, true}),
                       doctest::Contains("argument 'options.steps_per_level' is 0"), scorelift::invalid_argument);
  // δ_1 = ε (σ_1/σ_L)² = 1e-3 · 1e300 · ... overflows although every level is finite.
  CHECK_THROWS_WITH_AS((void)annealed_langevin_sample(score, z, noise, {{1e150, 1e-150}, 1, 1e-3, true}),
                       doctest::Contains("step_scale (sigma_1/sigma_L)²"), scorelift::invalid_argument);
  for (const double snr : {0.0, -0.16, not_a_number, inf}) {
    CAPTURE(snr);
    CHECK_THROWS_WITH_AS((void)predictor_corrector_sample(score, z, noise, {{1.0, 0.1}, 1, snr, true}),
                         doctest::Contains("argument 'options.snr'"), scorelift::invalid_argument);
  }
  CHECK_THROWS_WITH_AS((void)predictor_corrector_sample(score, z, noise, {{1.0, 0.1}, -1, 0.16, true}),
                       doctest::Contains("argument 'options.corrector_steps' is -1"), scorelift::invalid_argument);
  // σ_0² overflows: the predictor's σ_0² − σ_1² would be ∞.
  CHECK_THROWS_WITH_AS((void)predictor_corrector_sample(score, z, noise, {{1e200, 1.0}, 1, 0.16, true}),
                       doctest::Contains("sigmas[0] = 1e+200 whose square overflows"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)geometric_sigmas(inf, 0.01, 5), doctest::Contains("sigma_max = inf"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)geometric_sigmas(not_a_number, 0.01, 5), doctest::Contains("sigma_max = nan"),
                       scorelift::invalid_argument);
  CHECK(annealed_langevin_sample(score, z, noise, {{1e100, 1e-100}, 1, 1e-250, true}).allFinite());
}

TEST_CASE("parameterisation: v at alpha = sigma = 0 and divisors that overflow are refused") {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Ones(2, 2);
  const noise_level none{0.0, 0.0};
  CHECK_THROWS_WITH_AS((void)x0_from_v(x, x, none), doctest::Contains("x0_from_v: noise level (alpha = 0, sigma = 0) has alpha² + sigma² = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)epsilon_from_v(x, x, none), doctest::Contains("epsilon_from_v"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)to_x0(prediction::v, x, x, none), doctest::Contains("alpha² + sigma²"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)to_score(prediction::v, x, x, none), doctest::Contains("alpha² + sigma²"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)x0_from_v(x, x, noise_level{not_a_number, 1.0}),
                       doctest::Contains("noise level (alpha = nan, sigma = 1)"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)x0_from_v(x, x, noise_level{1e200, 1.0}),  // α² overflows
                       doctest::Contains("(alpha = 1e+200, sigma = 1) has alpha² + sigma² = inf"),
                       scorelift::invalid_argument);
  // 1/α = 1e200 is finite but the conversion also needs 1/α² (x0_from_score: σ²/α): refused at 1e-200.
  CHECK_THROWS_WITH_AS((void)x0_from_epsilon(x, x, noise_level{1e-200, 1.0}), doctest::Contains("alpha = 1e-200"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)score_from_x0(x, x, noise_level{1.0, 1e-200}), doctest::Contains("sigma = 1e-200"),
                       scorelift::invalid_argument);
  CHECK(x0_from_v(x, x, noise_level{0.0, 1.0}).isApprox(-x, 0.0));  // pure noise: x̂₀ = α x − σ v = −v, exactly
  CHECK_THROWS_WITH_AS((void)none.log_snr(), doctest::Contains("noise_level::log_snr"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(noise_level{not_a_number, 1.0}.log_snr()),
                       doctest::Contains("noise_level::log_snr: noise level (alpha = nan, sigma = 1)"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)(noise_level{inf, inf}.log_snr()), doctest::Contains("(alpha = inf, sigma = inf)"),
                       scorelift::invalid_argument);
  CHECK(noise_level{0.0, 1.0}.log_snr() == -inf);  // the documented ends stay exact
}

TEST_CASE("weighting: weights <= 0, sigma_data <= 0 and overflowing weights are refused") {
  const noise_level n = noise_level::variance_preserving(0.5);
  for (const double w : {0.0, -1.0, not_a_number, inf}) {
    CAPTURE(w);
    CHECK_THROWS_WITH_AS((void)score_weight_from_epsilon_weight(w, n), doctest::Contains("argument 'epsilon_weight'"),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS((void)x0_weight_from_epsilon_weight(w, n), doctest::Contains("argument 'epsilon_weight'"),
                         scorelift::invalid_argument);
  }
  CHECK_THROWS_WITH_AS((void)x0_weight_from_epsilon_weight(1.0, noise_level{1.0, 0.0}), doctest::Contains("sigma = 0"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)x0_weight_from_epsilon_weight(1.0, noise_level{1.0, 1e-200}), doctest::Contains("overflows"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_epsilon_weight(-800.0), doctest::Contains("argument 'log_snr' is -800"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)edm_epsilon_weight(1.0, 0.0), doctest::Contains("argument 'sigma_data' is 0"),
                       scorelift::invalid_argument);
  CHECK(x0_weight_from_epsilon_weight(1.0, noise_level{1e200, 1e200}) == doctest::Approx(1.0));
}

TEST_CASE("gaussian_mixture: huge weights normalise, far points and singular channels are refused naming the cause") {
  using gm = gaussian_mixture;
  gm::matrix means(2, 2);
  means << -1.0, 0.0, 1.0, 0.0;
  const gm huge = gm::isotropic(gm::vector::Constant(2, 1e308), means, gm::vector::Constant(2, 0.5));
  CHECK(huge.weights()(0) == doctest::Approx(0.5));
  CHECK(huge.weights()(1) == doctest::Approx(0.5));
  CHECK_THROWS_WITH_AS((void)gm::isotropic(gm::vector::Constant(2, 0.0), means, gm::vector::Constant(2, 0.5)),
                       doctest::Contains("argument 'weights'"), scorelift::invalid_argument);

  gm::matrix far = gm::matrix::Zero(2, 2);
  far(1, 0) = 1e160;  // (1e160)² / σ² overflows the Mahalanobis term of every component
  CHECK_THROWS_WITH_AS((void)huge.score(far, noise_level::variance_preserving(0.0)),
                       doctest::Contains("row 1 of argument 'x'"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)huge.responsibilities(gm::matrix::Zero(1, 2), noise_level{1e-170, 0.0}),
                       doctest::Contains("singular"), scorelift::invalid_argument);
}

TEST_CASE("sample metrics: points ~1e160 apart or ~1e-170 apart and tiny bandwidths give finite results") {
  const sample_matrix x = normal_samples(40, 2, 11), y = normal_samples(40, 2, 12, 1.0, 0.5);
  const double h = median_bandwidth(x, y);
  const double mmd = mmd_squared(x, y, h);
  std::mt19937_64 gen(3);
  const double sw = sliced_wasserstein(x, y, 16, gen);
  // Scaling every point (and h) by a power of two changes nothing but the scale.
  for (const double c : {0x1p530, 0x1p-560}) {  // ~4e159, ~2.6e-169
    CAPTURE(c);
    const sample_matrix xc = x * c, yc = y * c;
    CHECK(median_bandwidth(xc, yc) == doctest::Approx(h * c).epsilon(1e-12));
    CHECK(mmd_squared(xc, yc, h * c) == doctest::Approx(mmd).epsilon(1e-10));
    std::mt19937_64 same(3);
    CHECK(sliced_wasserstein(xc, yc, 16, same) == doctest::Approx(sw * c).epsilon(1e-10));
  }
  // h far below the sample spacing: every off-diagonal kernel value is exp(−∞), which Eigen's vectorised
  // exp returns as exp(−709.4) ≈ 1.1e-308 (it clamps its argument), not 0: MMD² is 0 to that size,
  // where Approx(0.0) would have accepted anything below 1e-5.
  const double tiny = mmd_squared(x, y, 1e-300);
  CHECK(std::abs(tiny) <= 1e-306);
  sample_matrix edge(1, 1), opposite(1, 1);
  edge << 1.5e308;
  opposite << -1.5e308;
  CHECK_THROWS_WITH_AS((void)median_bandwidth(edge, opposite), doctest::Contains("overflows"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)mmd_squared(x * 0x1p1000, y, 1e-300), doctest::Contains("argument 'h'"),
                       scorelift::invalid_argument);
}

TEST_CASE("cosine_schedule: an infinite offset s is refused naming it, not turned into NaN betas") {
  CHECK_THROWS_WITH_AS((void)cosine_schedule(10, inf), doctest::Contains("cosine_schedule: argument 's' is inf"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS((void)cosine_schedule(10, not_a_number), doctest::Contains("argument 's' is nan"),
                       scorelift::invalid_argument);
}

TEST_CASE("ddpm_sample: a variance kind outside the enumeration is refused") {
  auto eps = [](const Eigen::MatrixXd& x, index_t) { return Eigen::MatrixXd(Eigen::MatrixXd::Zero(x.rows(), x.cols())); };
  auto noise = [](const Eigen::MatrixXd& x) { return Eigen::MatrixXd(Eigen::MatrixXd::Zero(x.rows(), x.cols())); };
  CHECK_THROWS_WITH_AS((void)ddpm_sample(linear_schedule(4), eps, Eigen::MatrixXd::Ones(2, 2).eval(), noise,
                                   static_cast<ddpm_variance>(7)),
                       doctest::Contains("argument 'variance' is 7"), scorelift::invalid_argument);
}

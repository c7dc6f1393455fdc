// Hutchinson and exact divergences by double backward, the residual stack module (signs as saved
// state), and the known-score targets (closed-form scores vs autograd of independently written log
// densities; samples vs scores through Stein's identity E[s(x) xᵀ] = −I).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "scorelift/analysis/known_score_targets.hpp"
#include "scorelift/backends/torch.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "scorelift/torch/targets/banana.hpp"
#include "scorelift/torch/targets/correlated_gaussian.hpp"
#include "scorelift/torch/targets/funnel.hpp"
#include "scorelift/torch/targets/gaussian_mixture.hpp"
#include "torch_test_support.hpp"

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

namespace {

namespace te = scorelift::torch_ext;
using tb = scorelift::torch_backend<double>;
using scorelift::test::f64;

/// f(x) = x Aᵀ + sin(x): Jacobian A + diag(cos x), so tr ∇f = tr A + Σ_d cos x_d.
struct known_jacobian_model {
  torch::Tensor a;
  torch::Tensor operator()(const torch::Tensor& x) const { return torch::matmul(x, a.t()) + torch::sin(x); }
  torch::Tensor trace(const torch::Tensor& x) const { return a.trace() + torch::cos(x).sum(-1); }
};

}  // namespace

TEST_CASE("exact divergence by double backward equals the known Jacobian trace") {
  auto gen = tb::make_generator(21);
  const known_jacobian_model model{torch::randn({4, 4}, gen, f64)};
  const auto x = torch::randn({6, 4}, gen, f64);
  const auto result = te::exact_divergence(model, x);
  CHECK((result.divergence - model.trace(x)).abs().max().item<double>() < 1e-12);
  CHECK((result.outputs - model(x)).abs().max().item<double>() < 1e-14);
}

TEST_CASE("Hutchinson divergence is unbiased for every probe kind (within 5 standard errors)") {
  // Per sample the M = 4000 probe terms are i.i.d. with mean tr ∇f; the check |mean − trace| < 5·SE
  // (SE estimated from the same terms) fails with probability < 1e-6 per sample if unbiased.
  auto gen = tb::make_generator(22);
  const known_jacobian_model model{torch::randn({5, 5}, gen, f64)};
  const auto x = torch::randn({3, 5}, gen, f64);
  const auto exact = model.trace(x);
  for (auto kind :
       {scorelift::probe_kind::rademacher, scorelift::probe_kind::gaussian, scorelift::probe_kind::sphere}) {
    CAPTURE(scorelift::probe_name(kind));
    const auto result = te::hutchinson_divergence(model, x, {.kind = kind, .probes = 4000, .create_graph = false}, gen);
    REQUIRE(result.hutchinson.sizes() == torch::IntArrayRef({4000, 3}));
    const auto standard_error = result.hutchinson.std(0) / std::sqrt(4000.0);
    CHECK(((result.divergence - exact).abs() < 5 * standard_error).all().item<bool>());
    CHECK((standard_error < 0.2).all().item<bool>());  // the test has power: SE is small next to |trace| ~ 1-5
    // vᵀf per probe is what plain SSM squares: check it is ⟨v, f⟩ by E[(vᵀf)²] = ‖f‖² loosely.
    CHECK(result.projections.pow(2).mean(0).sub(result.outputs.pow(2).sum(1)).abs().max().item<double>() <
          0.2 * result.outputs.pow(2).sum(1).max().item<double>());
  }
  // A diagonal Jacobian makes every Rademacher term exact: vᵀ diag(c) v = Σ c_d v_d² = Σ c_d.
  const auto diagonal = [](const torch::Tensor& x) { return torch::sin(x); };
  const auto one_probe = te::hutchinson_divergence(diagonal, x, {.probes = 3}, gen);
  CHECK((one_probe.hutchinson - torch::cos(x).sum(1)).abs().max().item<double>() < 1e-12);
}

TEST_CASE("divergences of a residual stack: one backward pass gives each level's own trace") {
  torch::manual_seed(3);
  te::ResidualStack stack(
      te::residual_stack_options{.network = {.input_dim = 3, .output_dim = 3, .hidden = 8, .depth = 2}, .levels = 2});
  stack->to(torch::kFloat64);
  auto gen = tb::make_generator(23);
  const auto x = torch::randn({5, 3}, gen, f64);
  const auto together = te::exact_divergence(stack, x, /*create_graph=*/true, /*levels=*/2);
  REQUIRE(together.divergence.sizes() == torch::IntArrayRef({2, 5}));
  for (int64_t l = 0; l < 2; ++l) {
    const auto alone = te::exact_divergence(stack->network(l), x, false);
    CHECK((together.divergence[l] - alone.divergence).abs().max().item<double>() < 1e-12);
  }
  // create_graph keeps the trace differentiable in the parameters: check one gradient against a
  // central difference of the trace in one weight.
  auto weight = stack->network(1)->parameters()[0];
  const auto grad = torch::autograd::grad({together.divergence[1].sum()}, {weight})[0];
  auto raw = weight.data();  // the same storage, outside autograd: perturb it in place
  const double h = 1e-6, before = raw[0][0].item<double>();
  const auto trace_sum = [&] {
    return te::exact_divergence(stack->network(1), x, false).divergence.sum().item<double>();
  };
  raw[0][0] = before + h;
  const double up = trace_sum();
  raw[0][0] = before - h;
  const double down = trace_sum();
  raw[0][0] = before;
  CHECK(grad[0][0].item<double>() == doctest::Approx((up - down) / (2 * h)).epsilon(1e-6));
}

TEST_CASE("residual stack: sign EMA, score estimate, and torch::save/load bit-exact with the signs") {
  torch::manual_seed(4);
  const te::residual_stack_options options{
      .network = {.input_dim = 2, .output_dim = 2, .hidden = 8, .depth = 2}, .levels = 3, .noise_levels = 4};
  te::ResidualStack stack(options);
  stack->to(torch::kFloat64);
  auto gen = tb::make_generator(24);
  const auto x = torch::randn({6, 2}, gen, f64);
  const auto levels = torch::tensor({0, 1, 1, 3, 3, 3}, torch::kInt64);
  // Alignments per level and sample: level 0 negative everywhere, level 1 positive, level 2 mixed.
  std::vector<torch::Tensor> per_sample{-torch::ones({6}, f64), torch::ones({6}, f64),
                                        torch::tensor({1.0, -2.0, -2.0, 3.0, -1.0, -1.0}, f64)};
  stack->update_signs(levels, per_sample);
  // EMA from 0 with β = 0.5: A = 0.5 · (mean alignment of the level's samples); level 2 unseen → 0.
  const auto tracker = stack->tracker();
  CHECK(tracker.soft_sign(0, 1) == doctest::Approx(-0.5));
  CHECK(tracker.soft_sign(2, 1) == doctest::Approx(-1.0));     // mean(−2, −2) · 0.5
  CHECK(tracker.soft_sign(2, 3) == doctest::Approx(1.0 / 6));  // mean(3, −1, −1) · 0.5
  CHECK(tracker.soft_sign(1, 2) == 0.0);
  const auto kappa = stack->signs_for(levels, x);
  CHECK(kappa[0].eq(-1.0).all().item<bool>());
  CHECK(kappa[2][1].item<double>() == -1.0);
  CHECK(kappa[2][3].item<double>() == 1.0);
  // ŝ = Σ κ f.
  const auto modes = stack->forward(x);
  const auto expected = (kappa.unsqueeze(2) * modes).sum(0);
  CHECK((stack->score(x, {}, levels) - expected).abs().max().item<double>() < 1e-14);

  const std::string path = "/tmp/scorelift_residual_stack_test_" + std::to_string(::getpid()) + ".pt";
  torch::save(stack, path);
  torch::manual_seed(99);  // a differently initialised module to load into
  te::ResidualStack loaded(options);
  loaded->to(torch::kFloat64);
  torch::load(loaded, path);
  std::remove(path.c_str());
  const auto saved_parameters = stack->named_parameters(), loaded_parameters = loaded->named_parameters();
  REQUIRE(saved_parameters.size() == loaded_parameters.size());
  for (const auto& item : saved_parameters) CHECK(item.value().equal(loaded_parameters[item.key()]));
  CHECK(stack->named_buffers()["soft_signs"].equal(loaded->named_buffers()["soft_signs"]));
  CHECK(loaded->tracker().state() == tracker.state());
  CHECK(loaded->score(x, {}, levels).equal(stack->score(x, {}, levels)));
}

TEST_CASE("global signs follow the sign of the residual alignment EMA") {
  te::ResidualStack stack(
      te::residual_stack_options{.network = {.input_dim = 2, .output_dim = 2, .hidden = 4, .depth = 1}, .levels = 2});
  const auto like = torch::zeros({1}, f64);
  CHECK(stack->signs(like).equal(torch::tensor({1.0, 1.0}, f64)));  // sgn(0) = +1
  const std::vector<double> first{-1.0, 2.0}, second{0.5, -3.0};
  stack->update_signs(first);
  stack->update_signs(second);  // A = 0.5(0.5·(−1)) + 0.5·0.5 = 0,  0.5(0.5·2) + 0.5·(−3) = −1
  CHECK(stack->tracker().soft_sign(0) == doctest::Approx(0.0));
  CHECK(stack->signs(like).equal(torch::tensor({1.0, -1.0}, f64)));
}

TEST_CASE("bad input to divergences and stacks throws invalid_argument naming it") {
  const auto x = torch::randn({4, 3}, f64);
  const auto wrong_shape = [](const torch::Tensor& v) { return v.narrow(1, 0, 2); };
  CHECK_THROWS_WITH_AS(te::exact_divergence(wrong_shape, x), doctest::Contains("exact_divergence: the model maps"),
                       scorelift::invalid_argument);
  auto gen = tb::make_generator(1);
  CHECK_THROWS_WITH_AS(te::hutchinson_divergence([](const torch::Tensor& v) { return v; }, x, {.probes = 0}, gen),
                       doctest::Contains("draw_probes: argument 'probes' is 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(te::exact_divergence([](const torch::Tensor& v) { return v; }, torch::randn({4}, f64)),
                       "exact_divergence: argument 'x' has shape [4] but [B, D] with B, D >= 1 was expected",
                       scorelift::invalid_argument);
  te::ResidualStack stack(
      te::residual_stack_options{.network = {.input_dim = 3, .output_dim = 3, .hidden = 4, .depth = 1}, .levels = 2});
  CHECK_THROWS_WITH_AS(stack->forward(torch::randn({3, 4, 3})),  // L = 3 ≠ 2
                       doctest::Contains("argument 'x' has shape [3, 4, 3] but [B, D] or [L, B, D] with L = 2"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(stack->forward(torch::randn({4, 5})),  // D = 5 ≠ 3
                       doctest::Contains("argument 'x' has shape [4, 5] but [B, 3] was expected"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(
      stack->signs_for(torch::tensor({0.5}), x),
      doctest::Contains("argument 'noise_levels' ([1] float32 cpu) must be an integer tensor of shape [B]"),
      scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(te::ResidualStack(te::residual_stack_options{.levels = 0}),
                       doctest::Contains("ResidualStack: argument 'options.levels' is 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(te::funnel(11), doctest::Contains("funnel: argument 'dim' is 11"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(te::correlated_gaussian(100, 1.0), doctest::Contains("correlated_gaussian: argument 'rho' is 1"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(te::banana().score(torch::randn({4, 3}, f64)),
                       doctest::Contains("banana::score: argument 'x' has shape [4, 3] but points of shape [B, 2]"),
                       scorelift::invalid_argument);
  // A sample request refused for its dtype or count draws nothing from the generator.
  auto drawn_from = tb::make_generator(5), reference = tb::make_generator(5);
  CHECK_THROWS_WITH_AS(te::eight_gaussians().sample(8, drawn_from, torch::TensorOptions().dtype(torch::kInt64)),
                       doctest::Contains("argument 'options' has dtype long"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(te::banana().sample(0, drawn_from, f64), doctest::Contains("argument 'n' is 0"),
                       scorelift::invalid_argument);
  CHECK(torch::equal(torch::randn({4}, drawn_from), torch::randn({4}, reference)));
}

// ---- Known-score targets. ----

namespace {

/// log p up to a constant, written independently of the targets' score code.
torch::Tensor log_mixture(const torch::Tensor& x, const torch::Tensor& centres, double sigma) {
  const auto squared = (x.unsqueeze(1) - centres.unsqueeze(0)).pow(2).sum(2);  // [B, K]
  return torch::logsumexp(-squared / (2 * sigma * sigma), 1);
}

/// ∇ₓ Σ_b log p(x_b) by autograd.
template <class LogDensity>
torch::Tensor autograd_score(const torch::Tensor& x, LogDensity&& log_density) {
  const auto leaf = x.detach().clone().requires_grad_(true);
  return torch::autograd::grad({log_density(leaf).sum()}, {leaf})[0];
}

/// Stein's identity E[s(x) xᵀ] = −I and E[s] = 0, each entry within 6 standard errors.
template <class Target>
void check_stein_identity(const Target& target, int64_t n, std::uint64_t seed) {
  auto gen = tb::make_generator(seed);
  const torch::Tensor x = target.sample(n, gen, f64);
  const torch::Tensor s = target.score(x);
  const torch::Tensor products = s.unsqueeze(2) * x.unsqueeze(1);  // [n, D, D]
  const torch::Tensor mean = products.mean(0), error = products.std(0) / std::sqrt(static_cast<double>(n));
  const torch::Tensor identity = torch::eye(target.dim(), f64);
  CHECK(((mean + identity).abs() <= 6 * error + 1e-12).all().item<bool>());
  CHECK(((s.mean(0)).abs() <= 6 * s.std(0) / std::sqrt(static_cast<double>(n)) + 1e-12).all().item<bool>());
}

}  // namespace

TEST_CASE("eight Gaussians and the hypercube mixture: closed-form score = autograd of log p, Stein") {
  auto gen = tb::make_generator(31);
  const auto eight = te::eight_gaussians();
  CHECK(eight.dim() == 2);
  CHECK(eight.centres().norm(2, 1).sub(4.0 / std::sqrt(2.0)).abs().max().item<double>() < 1e-12);
  CHECK(eight.sigma() == doctest::Approx(0.5 / std::sqrt(2.0)));
  const auto x = eight.sample(64, gen, f64) * 1.5;  // also off the modes, where responsibilities are extreme
  const auto expected =
      autograd_score(x, [&](const torch::Tensor& v) { return log_mixture(v, eight.centres(), eight.sigma()); });
  CHECK((eight.score(x) - expected).abs().max().item<double>() < 1e-9);
  check_stein_identity(eight, 20000, 32);

  const auto cube = te::hypercube_mixture(32, 16, 0.5, 7);
  CHECK(cube.dim() == 32);
  CHECK(cube.centres().abs().eq(1.0).all().item<bool>());
  const auto y = cube.sample(32, gen, f64);
  const auto expected_cube =
      autograd_score(y, [&](const torch::Tensor& v) { return log_mixture(v, cube.centres(), 0.5); });
  CHECK((cube.score(y) - expected_cube).abs().max().item<double>() < 1e-9);
  check_stein_identity(cube, 8000, 33);
}

TEST_CASE("banana, funnel and correlated Gaussian: closed-form score = autograd of log p, Stein, moments") {
  auto gen = tb::make_generator(41);
  const te::banana banana(2.0, 0.25);
  const auto xb = banana.sample(64, gen, f64);
  const auto log_banana = [](const torch::Tensor& v) {
    const auto x1 = v.select(1, 0), u = v.select(1, 1) - 0.25 * (x1.pow(2) - 4.0);
    return -x1.pow(2) / 8.0 - u.pow(2) / 2.0;
  };
  CHECK((banana.score(xb) - autograd_score(xb, log_banana)).abs().max().item<double>() < 1e-10);
  check_stein_identity(banana, 20000, 42);

  for (int64_t dim : {2, 5, 10}) {
    const te::funnel funnel(dim);
    const auto xf = funnel.sample(64, gen, f64);
    const auto log_funnel = [dim](const torch::Tensor& v) {
      const auto nu = v.select(1, 0), rest = v.narrow(1, 1, dim - 1);
      return -nu.pow(2) / 18.0 - 0.5 * static_cast<double>(dim - 1) * nu - 0.5 * (-nu).exp() * rest.pow(2).sum(1);
    };
    CHECK((funnel.score(xf) - autograd_score(xf, log_funnel)).abs().max().item<double>() <
          1e-10 * (1.0 + funnel.score(xf).abs().max().item<double>()));
    const auto many = funnel.sample(20000, gen, f64);
    CHECK(many.select(1, 0).std().item<double>() == doctest::Approx(3.0).epsilon(0.03));  // v ~ N(0, 9)
  }

  const te::correlated_gaussian gauss(100, 0.9);
  const auto xg = gauss.sample(2000, gen, f64);
  const auto log_gauss = [&](const torch::Tensor& v) {
    return -0.5 * (torch::matmul(v, gauss.precision()) * v).sum(1);
  };
  CHECK((gauss.score(xg) - autograd_score(xg, log_gauss)).abs().max().item<double>() < 1e-10);
  // Σ_ij = ρ^|i−j|: the sample covariance of 2000 draws matches within ~4/√2000 on the first off-diagonals.
  const auto covariance = torch::matmul(xg.t(), xg) / 2000.0;
  CHECK(covariance.diagonal().mean().item<double>() == doctest::Approx(1.0).epsilon(0.05));
  CHECK(covariance.diagonal(1).mean().item<double>() == doctest::Approx(0.9).epsilon(0.05));
  CHECK(covariance.diagonal(2).mean().item<double>() == doctest::Approx(0.81).epsilon(0.05));
  // Σ⁻¹ Σ = I for the closed-form precision.
  const auto index = torch::arange(100, f64);
  const auto sigma = torch::pow(0.9, (index.unsqueeze(0) - index.unsqueeze(1)).abs());
  CHECK((torch::matmul(gauss.precision(), sigma) - torch::eye(100, f64)).abs().max().item<double>() < 1e-10);
}

TEST_CASE("the Eigen banana and funnel of the analysis module have the LibTorch targets' score and distribution") {
  // Same parameters, same points: the closed-form scores agree to rounding. The samplers draw from
  // different generators, so their distributions are compared by moments (tolerances: 5 standard errors).
  namespace sa = scorelift::analysis;
  auto gen = tb::make_generator(61);
  std::mt19937_64 eigen_gen(62);
  const auto to_eigen = [](const torch::Tensor& x) {
    const auto c = x.contiguous();
    using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    return Eigen::MatrixXd(Eigen::Map<const row_major>(c.data_ptr<double>(), c.size(0), c.size(1)));
  };
  const auto max_difference = [&](const torch::Tensor& torch_score, const Eigen::MatrixXd& eigen_score) {
    return (to_eigen(torch_score) - eigen_score).cwiseAbs().maxCoeff() / (1.0 + eigen_score.cwiseAbs().maxCoeff());
  };
  const te::banana banana(1.5, 0.4);
  const sa::banana_target banana_eigen(1.5, 0.4);
  const auto xb = banana.sample(256, gen, f64);
  CHECK(max_difference(banana.score(xb), banana_eigen.score(to_eigen(xb))) < 1e-14);
  for (const int64_t dim : {2, 6}) {
    const te::funnel funnel(dim, 1.2);
    const sa::funnel_target funnel_eigen(dim, 1.2);
    const auto xf = funnel.sample(256, gen, f64);
    CHECK(max_difference(funnel.score(xf), funnel_eigen.score(to_eigen(xf))) < 1e-14);
  }
  // E[x₂] = b E[x₁² − a²] = 0 and Var x₁ = a² for both samplers (banana); E[v] = 0, Var v = τ² (funnel).
  const Eigen::MatrixXd eb = banana_eigen.sample(40000, eigen_gen);
  const Eigen::MatrixXd tb_samples = to_eigen(banana.sample(40000, gen, f64));
  for (const Eigen::MatrixXd* x : {&eb, &tb_samples}) {
    CHECK(std::abs(x->col(1).mean()) < 5 * std::sqrt((1.0 + 2 * 0.16 * std::pow(1.5, 4)) / 40000));
    CHECK((x->col(0).array() - x->col(0).mean()).square().mean() == doctest::Approx(2.25).epsilon(0.04));
  }
  const te::funnel funnel(3, 1.2);
  const Eigen::MatrixXd ef = sa::funnel_target(3, 1.2).sample(40000, eigen_gen);
  const Eigen::MatrixXd tf = to_eigen(funnel.sample(40000, gen, f64));
  for (const Eigen::MatrixXd* x : {&ef, &tf}) {
    CHECK(std::abs(x->col(0).mean()) < 5 * 1.2 / std::sqrt(40000.0));
    CHECK((x->col(0).array() - x->col(0).mean()).square().mean() == doctest::Approx(1.44).epsilon(0.04));
  }
}

TEST_CASE("Fisher divergence of the zero estimate is E‖s‖² = tr Σ⁻¹ for a Gaussian") {
  // E[xᵀ P P x] = tr(P² Σ) = tr P; the metric's standard error sets the tolerance.
  const te::correlated_gaussian gauss(20, 0.5);
  auto gen = tb::make_generator(51);
  const auto x = gauss.sample(20000, gen, f64);
  const auto fd = te::fisher_divergence(torch::zeros_like(x), gauss.score(x));
  const double trace = gauss.precision().trace().item<double>();
  CHECK(std::abs(fd.mean - trace) < 5 * fd.standard_error);
  CHECK(fd.standard_error < 0.02 * trace);
  CHECK_THROWS_WITH_AS(te::fisher_divergence(torch::zeros({3, 2}), torch::zeros({3, 3})),
                       doctest::Contains("argument 'estimate' has shape [3, 2] but argument 'truth' has shape [3, 3]"),
                       scorelift::invalid_argument);
}

// The LibTorch backend and the autograd Functions of torch/objective_functions.hpp, in double on the
// CPU: the Function's value and closed-form backward against plain autograd of the same formula
// written with torch ops (earlier levels detached), against central finite differences, and through
// a network into its parameters; every kind of bad input is rejected with scorelift::invalid_argument.
#include <cmath>
#include <limits>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/torch/mlp.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "torch_test_support.hpp"

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

namespace {

using scorelift::torch_ext::objective_inputs;
using tb = scorelift::torch_backend<double>;
using scorelift::test::f64;

/// The lifted residual loss written directly with torch ops, from the equations (DESIGN.md):
///   c_h[l] = mean_{b∈h} w_b (⟨t_b, f̃_{b,l}⟩ − Σ_{i<l} ⟨f̃_{b,i}, f̃_{b,l}⟩)     (target)
///          = mean_{b∈h} w_b (−κ_{b,l} div_{b,l} − Σ_{i<l} ⟨f̃_{b,i}, f̃_{b,l}⟩) (divergence)
///   G_h[l] = mean_{b∈h} w_b ‖f̃_{b,l}‖²,  L_l = −c_A c_B + ½ G_A G_B,  loss = mean_l L_l,
/// with f̃_i (i < l) detached inside L_l and halves A = [0, ⌊B/2⌋), B = the rest.
torch::Tensor reference_lifted(const torch::Tensor& modes, const torch::Tensor& target, const torch::Tensor& divergence,
                               const torch::Tensor& weights, const torch::Tensor& signs) {
  const int64_t levels = modes.size(0), batch = modes.size(1), n_a = batch / 2;
  const auto half_means = [&](const torch::Tensor& v) {
    return std::pair{v.narrow(0, 0, n_a).mean(), v.narrow(0, n_a, batch - n_a).mean()};
  };
  auto total = torch::zeros({}, f64);
  for (int64_t l = 0; l < levels; ++l) {
    const auto signed_mode = signs[l].unsqueeze(1) * modes[l];
    auto inner = target.defined() ? (target * signed_mode).sum(1) : -signs[l] * divergence[l];
    for (int64_t i = 0; i < l; ++i) inner = inner - ((signs[i].unsqueeze(1) * modes[i]).detach() * signed_mode).sum(1);
    const auto [c_a, c_b] = half_means(weights * inner);
    const auto [g_a, g_b] = half_means(weights * signed_mode.pow(2).sum(1));
    total = total + (-c_a * c_b + 0.5 * g_a * g_b);
  }
  return total / static_cast<double>(levels);
}

torch::Tensor random_signs(int64_t levels, int64_t batch, at::Generator& gen) {
  return 2.0 * torch::randint(0, 2, {levels, batch}, gen, f64) - 1.0;
}

double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("torch_backend computes row dots, half sums and row scalings like the formulas") {
  const auto x = torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, f64).view({3, 2});
  const auto y = torch::tensor({-1.0, 0.5, 2.0, 0.0, 1.0, -1.0}, f64).view({3, 2});
  const auto d = tb::row_dot(x, y);  // [-1 + 1, 6 + 0, 5 - 6]
  CHECK(d[0].item<double>() == doctest::Approx(0.0));
  CHECK(d[1].item<double>() == doctest::Approx(6.0));
  CHECK(tb::sum(d, 1, 3) == doctest::Approx(5.0));
  const auto v = torch::tensor({2.0, -1.0, 0.5}, f64);
  auto out = tb::scaled_rows(v, x);
  tb::add_scaled_rows(out, v, y);
  CHECK(out[2][0].item<double>() == doctest::Approx(0.5 * 5 + 0.5 * 1));
  CHECK(x[0][0].item<double>() == 1.0);  // add_scaled_rows wrote into `out`, not into its operands
  CHECK(tb::shape_string(tb::slice_rows(x, 1, 3)) == "[2, 2]");
  CHECK_THROWS_WITH_AS(tb::slice_rows(x, 2, 5),
                       doctest::Contains("torch_backend::slice_rows: rows [2, 5) are outside [0, 3)"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tb::slice_rows(x, 2, 1), doctest::Contains("rows [2, 1) are outside [0, 3)"),
                       scorelift::invalid_argument);
  const auto split = tb::split_filled(5, 2, 1.5, -2.0, x);
  CHECK(split.equal(torch::tensor({1.5, 1.5, -2.0, -2.0, -2.0}, f64)));
  CHECK_FALSE(tb::all_finite(torch::tensor({1.0, std::nan("")}, f64).view({1, 2})));

  auto gen = tb::make_generator(7);
  const auto r = tb::rademacher(4000, 3, gen, x);
  CHECK(r.abs().eq(1.0).all().item<bool>());
  CHECK(std::abs(r.mean().item<double>()) < 0.05);  // 12000 ±1 draws: standard error 0.009
  const auto g = tb::gaussian(4000, 3, gen, x);
  CHECK(std::abs(g.pow(2).mean().item<double>() - 1.0) < 0.05);  // Var(g²) = 2: standard error 0.013
}

TEST_CASE("torch_backend rejects another dtype, rank or shape, naming function and shapes") {
  const auto x = torch::zeros({3, 2}, f64);
  CHECK_THROWS_WITH_AS(tb::row_dot(x, torch::zeros({3, 2}, torch::kFloat32)),
                       doctest::Contains("torch_backend::row_dot: argument 'y' ([3, 2] float32 cpu) has dtype float32 "
                                         "but this backend computes in float64"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tb::row_dot(x, torch::zeros({3, 4}, f64)),
                       "torch_backend::row_dot: argument 'x' has shape [3, 2] but argument 'y' has shape [3, 4]",
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tb::scaled_rows(torch::zeros({2}, f64), x),
                       "torch_backend::scaled_rows: argument 'v' has shape [2] but argument 'x' has shape [3, 2] (one "
                       "scale per row expected)",
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(tb::multiply(torch::zeros({2}, f64), torch::zeros({2, 1}, f64)),
                       "torch_backend::multiply: argument 'v' has shape [2, 1] but a tensor of rank 1 was expected",
                       scorelift::invalid_argument);
  // A tensor on another device (the meta device stands in for CUDA on a CPU-only machine).
  CHECK_THROWS_WITH_AS(tb::row_dot(x, torch::zeros({3, 2}, f64.device(torch::kMeta))),
                       doctest::Contains("are on different devices"), scorelift::invalid_argument);
}

TEST_CASE("lifted Function with a target matches autograd of the formula (L = 3, odd B, weights, per-sample signs)") {
  auto gen = tb::make_generator(11);
  const int64_t levels = 3, batch = 7, dim = 4;
  const auto modes = torch::randn({levels, batch, dim}, gen, f64).requires_grad_(true);
  const auto target = torch::randn({batch, dim}, gen, f64).requires_grad_(true);
  const auto weights = torch::rand({batch}, gen, f64) + 0.5;
  const auto signs = random_signs(levels, batch, gen);

  const auto out =
      scorelift::torch_ext::lifted_residual_loss(modes, {.target = target, .weights = weights, .signs = signs});
  const auto grads = torch::autograd::grad({out.loss}, {modes, target});
  const auto reference = reference_lifted(modes, target, {}, weights, signs);
  const auto reference_grads = torch::autograd::grad({reference}, {modes, target});

  CHECK(std::abs(out.loss.item<double>() - reference.item<double>()) < 1e-12);
  CHECK(max_abs_difference(grads[0], reference_grads[0]) < 1e-10);
  CHECK(max_abs_difference(grads[1], reference_grads[1]) < 1e-10);
  REQUIRE(out.level_values.size() == 3);
  CHECK((out.level_values[0] + out.level_values[1] + out.level_values[2]) / 3 ==
        doctest::Approx(out.loss.item<double>()));
  // The gradient is not trivially zero in any block (a test that could not fail otherwise).
  for (int64_t l = 0; l < levels; ++l) CHECK(grads[0][l].abs().sum().item<double>() > 1e-3);
}

TEST_CASE("lifted Function with a divergence matches autograd (list of modes, global signs, divergence grads)") {
  auto gen = tb::make_generator(12);
  const int64_t levels = 2, batch = 10, dim = 3;
  std::vector<torch::Tensor> modes;
  for (int64_t l = 0; l < levels; ++l) modes.push_back(torch::randn({batch, dim}, gen, f64).requires_grad_(true));
  const auto divergence = torch::randn({levels, batch}, gen, f64).requires_grad_(true);
  const auto global_signs = torch::tensor({-1.0, 1.0}, f64);

  const auto out = scorelift::torch_ext::lifted_residual_loss(modes, {.divergence = divergence, .signs = global_signs});
  const auto grads = torch::autograd::grad({out.loss}, {modes[0], modes[1], divergence});
  const auto reference = reference_lifted(torch::stack(modes), {}, divergence, torch::ones({batch}, f64),
                                          global_signs.unsqueeze(1).expand({levels, batch}));
  const auto reference_grads = torch::autograd::grad({reference}, {modes[0], modes[1], divergence});
  CHECK(std::abs(out.loss.item<double>() - reference.item<double>()) < 1e-12);
  for (int k = 0; k < 3; ++k)
    CHECK(max_abs_difference(grads[static_cast<std::size_t>(k)], reference_grads[static_cast<std::size_t>(k)]) < 1e-10);
}

TEST_CASE("lifted Function backward agrees with central finite differences of its forward") {
  // Central differences: truncation O(h^2) ~ 1e-12, rounding ~ 1e-16/h ~ 1e-10, hence 1e-7 relative.
  // Semi-gradient: the value's full derivative in f_l (l < L) also moves L_{l+1..L} through the
  // residual, which the closed form deliberately ignores; the last level's block and the target
  // (never detached) are where the value's derivative and the semi-gradient coincide.
  auto gen = tb::make_generator(13);
  const int64_t levels = 2, batch = 5, dim = 3;
  const auto modes = torch::randn({levels, batch, dim}, gen, f64);
  const auto target = torch::randn({batch, dim}, gen, f64);
  const auto signs = random_signs(levels, batch, gen);
  const auto loss = [&](const torch::Tensor& m, const torch::Tensor& t) {
    return scorelift::torch_ext::lifted_residual_loss(m, {.target = t, .signs = signs}).loss;
  };
  const auto m = modes.clone().requires_grad_(true);
  const auto t = target.clone().requires_grad_(true);
  const auto grads = torch::autograd::grad({loss(m, t)}, {m, t});
  const double h = 1e-6;
  const auto central = [&](const torch::Tensor& base, int64_t k, bool perturb_modes) {
    auto plus = base.clone(), minus = base.clone();
    plus.view(-1)[k] += h;
    minus.view(-1)[k] -= h;
    const double up = perturb_modes ? loss(plus, target).item<double>() : loss(modes, plus).item<double>();
    const double down = perturb_modes ? loss(minus, target).item<double>() : loss(modes, minus).item<double>();
    return (up - down) / (2 * h);
  };
  for (int64_t k = (levels - 1) * batch * dim; k < modes.numel(); ++k)
    CHECK(grads[0].view(-1)[k].item<double>() == doctest::Approx(central(modes, k, true)).epsilon(1e-7));
  for (int64_t k = 0; k < target.numel(); ++k)
    CHECK(grads[1].view(-1)[k].item<double>() == doctest::Approx(central(target, k, false)).epsilon(1e-7));
}

TEST_CASE("single-level lifted Function (LSE with a divergence) agrees with finite differences everywhere") {
  auto gen = tb::make_generator(15);
  const auto modes = torch::randn({1, 6, 2}, gen, f64);
  const auto divergence = torch::randn({6}, gen, f64);  // L = 1 may pass [B]
  const auto loss = [&](const torch::Tensor& m, const torch::Tensor& d) {
    return scorelift::torch_ext::lifted_residual_loss(m, {.divergence = d}).loss.item<double>();
  };
  const auto m = modes.clone().requires_grad_(true);
  const auto d = divergence.clone().requires_grad_(true);
  const auto grads =
      torch::autograd::grad({scorelift::torch_ext::lifted_residual_loss(m, {.divergence = d}).loss}, {m, d});
  const double h = 1e-6;
  for (int64_t k = 0; k < modes.numel(); ++k) {
    auto plus = modes.clone(), minus = modes.clone();
    plus.view(-1)[k] += h;
    minus.view(-1)[k] -= h;
    const double numeric = (loss(plus, divergence) - loss(minus, divergence)) / (2 * h);
    CHECK(grads[0].view(-1)[k].item<double>() == doctest::Approx(numeric).epsilon(1e-7));
  }
  for (int64_t k = 0; k < divergence.numel(); ++k) {
    auto plus = divergence.clone(), minus = divergence.clone();
    plus[k] += h;
    minus[k] -= h;
    const double numeric = (loss(modes, plus) - loss(modes, minus)) / (2 * h);
    CHECK(grads[1][k].item<double>() == doctest::Approx(numeric).epsilon(1e-7));
  }
}

TEST_CASE("gradients flow through the Function into network parameters exactly as plain autograd") {
  torch::manual_seed(5);
  scorelift::torch_ext::MLP net(
      scorelift::torch_ext::mlp_options{.input_dim = 3, .output_dim = 3, .hidden = 16, .depth = 2});
  net->to(torch::kFloat64);
  auto gen = tb::make_generator(14);
  const auto x = torch::randn({8, 3}, gen, f64);
  const auto target = torch::randn({8, 3}, gen, f64);
  const auto modes = net(x).unsqueeze(0);

  net->zero_grad();
  scorelift::torch_ext::lifted_residual_loss(modes, {.target = target}).loss.backward({}, /*retain_graph=*/true);
  std::vector<torch::Tensor> ours;
  for (const auto& p : net->parameters()) ours.push_back(p.grad().clone());
  net->zero_grad();
  reference_lifted(modes, target, {}, torch::ones({8}, f64), torch::ones({1, 8}, f64)).backward();
  const auto params = net->parameters();
  for (std::size_t k = 0; k < params.size(); ++k) {
    CHECK(max_abs_difference(ours[k], params[k].grad()) < 1e-10);
    CHECK(ours[k].abs().sum().item<double>() > 0.0);
  }
}

TEST_CASE("lifted Function rejects bad input with invalid_argument naming the argument") {
  const auto modes = torch::randn({2, 6, 3}, f64);
  const auto target = torch::randn({6, 3}, f64);
  using scorelift::torch_ext::lifted_residual_loss;
  CHECK_THROWS_WITH_AS(
      lifted_residual_loss(modes, {.target = target.to(torch::kFloat32)}),
      doctest::Contains("lifted_residual_loss: argument 'target' ([6, 3] float32 cpu) must have the dtype"),
      scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(lifted_residual_loss(modes, {.target = torch::randn({6, 3}, f64.device(torch::kMeta))}),
                       doctest::Contains("argument 'target' ([6, 3] float64 meta) must have the dtype and device"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(lifted_residual_loss(modes, {.target = torch::randn({6, 4}, f64)}),
                       "lifted_residual_loss: argument 'target' has shape [6, 4] but modes has shape [2, 6, 3] so "
                       "[6, 3] was expected",
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(
      lifted_residual_loss(modes, {}),
      doctest::Contains("exactly one of the arguments 'target' and 'divergence' must be given (got neither)"),
      scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(
      lifted_residual_loss(modes, {.target = target, .divergence = torch::zeros({2, 6}, f64)}),
      doctest::Contains("exactly one of the arguments 'target' and 'divergence' must be given (got both)"),
      scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(
      lifted_residual_loss(modes, {.target = target, .signs = torch::ones({3}, f64)}),
      doctest::Contains("argument 'signs' has shape [3] but modes has shape [2, 6, 3] so [2] was expected"),
      scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(
      lifted_residual_loss(modes, {.target = target, .weights = torch::ones({5}, f64)}),
      doctest::Contains("argument 'weights' has shape [5] but modes has shape [2, 6, 3] so [6] was expected"),
      scorelift::invalid_argument);
  // Refused on the fused CPU path as in the core: a zero weight would drop a sample, a negative one flip it.
  auto signed_weights = torch::ones({6}, f64);
  signed_weights[4] = -0.5;
  CHECK_THROWS_WITH_AS(lifted_residual_loss(modes, {.target = target, .weights = signed_weights}),
                       doctest::Contains("argument 'weights' has minimum -0.5 but weights must be positive"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(lifted_residual_loss(std::vector<torch::Tensor>{}, {.target = target}),
                       doctest::Contains("argument 'modes' is empty (L = 0)"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(lifted_residual_loss(modes.to(torch::kInt64), {.target = target}),
                       doctest::Contains("argument 'modes' ([2, 6, 3] int64 cpu) must be float32 or float64"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(
      lifted_residual_loss(torch::randn({1, 1, 3}, f64), {.target = torch::randn({1, 3}, f64)}),
      doctest::Contains("argument 'modes[0]' has shape [1, 3] but this objective needs a batch of at least B = 2"),
      scorelift::invalid_argument);  // B = 1: no two halves
  auto poisoned = modes.clone();
  poisoned[1][2][0] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(lifted_residual_loss(poisoned, {.target = target}), doctest::Contains("modes[1]' contains NaN"),
                       scorelift::invalid_argument);
}

TEST_CASE("residual score matching Function (DSM target / ISM divergence) matches autograd of the formula") {
  // L_l = ½ mean_b w_b ‖f_l − (t − Σ_{i<l} f_i)‖²                    (target)
  //     = mean_b w_b (½‖f_l‖² + div_l + Σ_{i<l} ⟨f_i, f_l⟩)           (divergence)
  // with f_i (i < l) detached; loss = mean_l L_l.
  auto gen = tb::make_generator(16);
  const int64_t levels = 3, batch = 6, dim = 2;
  const auto modes = torch::randn({levels, batch, dim}, gen, f64).requires_grad_(true);
  const auto target = torch::randn({batch, dim}, gen, f64).requires_grad_(true);
  const auto divergence = torch::randn({levels, batch}, gen, f64).requires_grad_(true);
  const auto weights = torch::rand({batch}, gen, f64) + 0.5;

  auto with_target = torch::zeros({}, f64), with_divergence = torch::zeros({}, f64);
  auto earlier = torch::zeros({batch, dim}, f64);
  for (int64_t l = 0; l < levels; ++l) {
    with_target = with_target + 0.5 * (weights * (modes[l] - (target - earlier)).pow(2).sum(1)).mean();
    with_divergence = with_divergence +
                      (weights * (0.5 * modes[l].pow(2).sum(1) + divergence[l] + (earlier * modes[l]).sum(1))).mean();
    earlier = earlier + modes[l].detach();
  }
  with_target = with_target / static_cast<double>(levels);
  with_divergence = with_divergence / static_cast<double>(levels);

  const auto dsm = scorelift::torch_ext::residual_score_matching_loss(modes, {.target = target, .weights = weights});
  const auto ism =
      scorelift::torch_ext::residual_score_matching_loss(modes, {.divergence = divergence, .weights = weights});
  CHECK(std::abs(dsm.loss.item<double>() - with_target.item<double>()) < 1e-12);
  CHECK(std::abs(ism.loss.item<double>() - with_divergence.item<double>()) < 1e-12);
  const auto ours = torch::autograd::grad({dsm.loss + ism.loss}, {modes, target, divergence});
  const auto theirs = torch::autograd::grad({with_target + with_divergence}, {modes, target, divergence});
  for (std::size_t k = 0; k < 3; ++k) CHECK(max_abs_difference(ours[k], theirs[k]) < 1e-10);
}

TEST_CASE("plain sliced score matching Function matches autograd of mean(h + p²/2)") {
  auto gen = tb::make_generator(17);
  const auto h = torch::randn({3, 5}, gen, f64).requires_grad_(true);
  const auto p = torch::randn({3, 5}, gen, f64).requires_grad_(true);
  const auto loss = scorelift::torch_ext::sliced_score_matching_loss(h, p);
  const auto reference = (h + 0.5 * p.pow(2)).mean();
  CHECK(std::abs(loss.item<double>() - reference.item<double>()) < 1e-14);
  const auto ours = torch::autograd::grad({loss}, {h, p});
  const auto theirs = torch::autograd::grad({reference}, {h, p});
  CHECK(max_abs_difference(ours[0], theirs[0]) < 1e-14);
  CHECK(max_abs_difference(ours[1], theirs[1]) < 1e-14);
  CHECK_THROWS_WITH_AS(
      scorelift::torch_ext::sliced_score_matching_loss(h, p.narrow(1, 0, 4)),
      doctest::Contains("argument 'projections' ([3, 4] float64 cpu) must match 'hutchinson' ([3, 5] float64 cpu)"),
      scorelift::invalid_argument);
}

TEST_CASE("per-sample residual alignments: w_b <t - sum_{i<l} kappa_i f_i, f_l>, their mean is the Function's") {
  auto gen = tb::make_generator(18);
  const int64_t levels = 2, batch = 5, dim = 3;
  const auto modes = torch::randn({levels, batch, dim}, gen, f64);
  const auto target = torch::randn({batch, dim}, gen, f64);
  const auto weights = torch::rand({batch}, gen, f64) + 0.5;
  const auto signs = random_signs(levels, batch, gen);
  const objective_inputs inputs{.target = target, .weights = weights, .signs = signs};
  const auto alignment = scorelift::torch_ext::per_sample_residual_alignment(modes, inputs);
  REQUIRE(alignment.sizes() == torch::IntArrayRef({levels, batch}));
  CHECK(max_abs_difference(alignment[0], weights * (target * modes[0]).sum(1)) < 1e-14);
  CHECK(max_abs_difference(alignment[1], weights * ((target - signs[0].unsqueeze(1) * modes[0]) * modes[1]).sum(1)) <
        1e-14);
  const auto out = scorelift::torch_ext::lifted_residual_loss(modes, inputs);
  for (int64_t l = 0; l < levels; ++l)
    CHECK(alignment[l].mean().item<double>() == doctest::Approx(out.residual_alignment[static_cast<std::size_t>(l)]));
}

TEST_CASE("float32 modes run the core in float and agree with float64 to single precision") {
  auto gen = tb::make_generator(19);
  const auto modes = torch::randn({2, 16, 4}, gen, f64);
  const auto divergence = torch::randn({2, 16}, gen, f64);
  const auto m32 = modes.to(torch::kFloat32).requires_grad_(true);
  const auto m64 = modes.clone().requires_grad_(true);
  const auto l32 = scorelift::torch_ext::lifted_residual_loss(m32, {.divergence = divergence.to(torch::kFloat32)}).loss;
  const auto l64 = scorelift::torch_ext::lifted_residual_loss(m64, {.divergence = divergence}).loss;
  CHECK((l32.scalar_type() == torch::kFloat32));
  CHECK(l32.item<double>() == doctest::Approx(l64.item<double>()).epsilon(1e-5));
  const auto g32 = torch::autograd::grad({l32}, {m32})[0], g64 = torch::autograd::grad({l64}, {m64})[0];
  CHECK((g32.scalar_type() == torch::kFloat32));
  CHECK(max_abs_difference(g32.to(torch::kFloat64), g64) < 1e-5 * (1.0 + g64.abs().max().item<double>()));
}

TEST_CASE("lifted Function gradients from pooled buffers: kept ones survive later calls, accumulation is exact") {
  // The CPU path writes gradients into reused buffers (torch/buffer_pool.hpp): a gradient the caller still
  // holds must never be handed out again, and autograd must not accumulate into a saved one in place.
  auto gen = tb::make_generator(23);
  const auto target = torch::randn({9, 40}, gen, f64);
  const auto first_modes = torch::randn({2, 9, 40}, gen, f64).requires_grad_(true);
  const auto first = scorelift::torch_ext::lifted_residual_loss(first_modes, {.target = target}).loss;
  const auto kept = torch::autograd::grad({first}, {first_modes})[0];
  const auto kept_copy = kept.clone();
  for (int call = 0; call < 3; ++call) {  // same shapes: the pool would hand out the same buffers if free
    const auto modes = torch::randn({2, 9, 40}, gen, f64).requires_grad_(true);
    torch::autograd::grad({scorelift::torch_ext::lifted_residual_loss(modes, {.target = target}).loss}, {modes});
  }
  CHECK(max_abs_difference(kept, kept_copy) == 0.0);

  // Two backward passes through one graph (retain_graph) accumulate exactly twice the gradient in .grad.
  const auto modes = torch::randn({3, 9, 40}, gen, f64).requires_grad_(true);
  const auto loss = scorelift::torch_ext::lifted_residual_loss(modes, {.target = target}).loss;
  const auto once = torch::autograd::grad({loss}, {modes}, {}, /*retain_graph=*/true)[0].clone();
  loss.backward({}, /*retain_graph=*/true);
  loss.backward();
  CHECK(max_abs_difference(modes.grad(), 2.0 * once) <= 1e-14 * (1.0 + once.abs().max().item<double>()));
  const auto expected = torch::autograd::grad({reference_lifted(modes, target, {}, torch::ones({9}, f64),
                                                                torch::ones({3, 9}, f64))},
                                              {modes})[0];
  CHECK(max_abs_difference(once, expected) <= 1e-12 * (1.0 + expected.abs().max().item<double>()));
}

TEST_CASE("stack_slices: a view for consecutive slices of one buffer, a copy otherwise, equal to torch::stack") {
  namespace detail = scorelift::torch_ext::detail;
  const auto buffer = torch::arange(24, f64).reshape({3, 2, 4});
  const std::vector<torch::Tensor> slices{buffer[0], buffer[1], buffer[2]};
  const auto viewed = detail::stack_slices(slices);
  CHECK(viewed.is_alias_of(buffer));
  CHECK(torch::equal(viewed, torch::stack(slices)));
  const std::vector<torch::Tensor> reordered{buffer[1], buffer[0]};
  const auto copied = detail::stack_slices(reordered);
  CHECK_FALSE(copied.is_alias_of(buffer));
  CHECK(torch::equal(copied, torch::stack(reordered)));
}

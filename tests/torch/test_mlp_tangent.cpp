// Forward-mode JVPs through the MLP (torch/mlp_tangent.hpp), the stack's forward-mode Hutchinson
// divergence (torch/tangent_divergence.hpp) and the flat Adam (torch/flat_adam.hpp), in double on the
// CPU, against LibTorch's own autograd:
//   f and J v vs the Jacobian from autograd (one backward per output dimension);
//   every parameter gradient (and ∂/∂x, ∂/∂c) of SSM, LSE and DSM losses through the hand-written
//   reverse pass vs the create_graph double-backward path, for depth 1..3, M = 1..3, with and
//   without conditioning, SiLU and softplus;
//   the graph-free DSM gradient (torch/denoising_step.hpp) vs autograd;
//   flat_adam vs torch::optim::Adam after 5 steps; bad input → scorelift::invalid_argument.
#include <algorithm>
#include <string>
#include <vector>

#include "scorelift/torch/denoising_step.hpp"
#include "scorelift/torch/flat_adam.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/mlp.hpp"
#include "scorelift/torch/mlp_tangent.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "scorelift/torch/tangent_divergence.hpp"
#include "scorelift/torch/tangent_objectives.hpp"

#include "torch_test_support.hpp"  // (doctest, after LibTorch)

namespace {

namespace sl = scorelift::torch_ext;
using scorelift::test::f64;
using scorelift::test::relative_error;

sl::MLP make_network(int64_t depth, int64_t condition_dim, sl::activation act, int64_t dim = 3) {
  sl::mlp_options options;
  options.input_dim = options.output_dim = dim;
  options.hidden = 7;
  options.depth = depth;
  options.condition_dim = condition_dim;
  options.act = act;
  sl::MLP network(options);
  network->to(torch::kFloat64);
  return network;
}

/// The case grid of the comparisons: depth 1..3 × M 1..3 × (no conditioning, 2 conditioning inputs) × activation.
struct grid_case {
  int64_t depth, probes, condition_dim;
  sl::activation act;
};
std::vector<grid_case> grid() {
  std::vector<grid_case> out;
  for (int64_t depth = 1; depth <= 3; ++depth)
    for (int64_t probes = 1; probes <= 3; ++probes)
      for (int64_t condition_dim : {0, 2})
        for (auto act : {sl::activation::silu, sl::activation::softplus})
          out.push_back({depth, probes, condition_dim, act});
  return out;
}
std::string describe(const grid_case& c) {
  return "depth " + std::to_string(c.depth) + ", M = " + std::to_string(c.probes) +
         ", condition_dim = " + std::to_string(c.condition_dim) +
         (c.act == sl::activation::silu ? ", SiLU" : ", softplus");
}

/// The reference by double backward: f, the Hutchinson terms vᵀ∇f v and projections vᵀf [M, B],
/// with x a leaf so the loss can be differentiated into the parameters, x and c (create_graph).
struct reference_terms {
  torch::Tensor outputs, terms, projections;
};
reference_terms reference(sl::MLP& network, const torch::Tensor& x, const torch::Tensor& probes,
                          const torch::Tensor& c) {
  reference_terms out;
  out.outputs = network(x, c);
  std::vector<torch::Tensor> terms, projections;
  for (int64_t m = 0; m < probes.size(0); ++m) {
    const auto v = probes[m];
    const auto jtv = torch::autograd::grad({out.outputs}, {x}, {v}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    terms.push_back((jtv * v).sum(1));
    projections.push_back((out.outputs * v).sum(1));
  }
  out.terms = torch::stack(terms);
  out.projections = torch::stack(projections);
  return out;
}

}  // namespace

TEST_CASE(
    "mlp_jvp: f and J v agree with autograd's Jacobian to 1e-10 (depth 1..3, M 1..3, conditioning, SiLU/softplus)") {
  torch::manual_seed(1);
  for (const auto& c : grid()) {
    CAPTURE(describe(c));
    auto network = make_network(c.depth, c.condition_dim, c.act);
    const int64_t batch = 5, dim = 3;
    const auto x = torch::randn({batch, dim}, f64).requires_grad_(true);
    const auto cond = c.condition_dim ? torch::randn({batch, c.condition_dim}, f64) : torch::Tensor();
    const auto probes = torch::randn({c.probes, batch, dim}, f64);
    const auto jvp = sl::mlp_jvp(network, x, probes, cond);
    const auto f = network(x, cond);
    CHECK(relative_error(jvp.outputs, f) <= 1e-12);
    // Jacobian rows ∂f_d/∂x from one backward per output dimension (samples are independent).
    std::vector<torch::Tensor> rows;
    for (int64_t d = 0; d < dim; ++d)
      rows.push_back(torch::autograd::grad({f.select(1, d).sum()}, {x}, {}, /*retain_graph=*/true)[0]);
    const auto jacobian = torch::stack(rows, 1);  // [B, D_out, D]
    const auto expected = torch::einsum("bdj,mbj->mbd", {jacobian, probes});
    CHECK(relative_error(jvp.tangents, expected) <= 1e-10);
  }
}

TEST_CASE("mlp_jvp: SSM and LSE gradients (parameters, x, c) match the double-backward path to 1e-10") {
  torch::manual_seed(2);
  for (const auto& c : grid())
    for (auto how : {sl::tangent_kernels::automatic, sl::tangent_kernels::portable}) {
      CAPTURE(describe(c));
      CAPTURE(how == sl::tangent_kernels::automatic ? "automatic (fused CPU loops)" : "portable (ATen ops)");
      auto network = make_network(c.depth, c.condition_dim, c.act);
      const int64_t batch = 6, dim = 3;
      const auto x = torch::randn({batch, dim}, f64).requires_grad_(true);
      const auto cond =
          c.condition_dim ? torch::randn({batch, c.condition_dim}, f64).requires_grad_(true) : torch::Tensor();
      const auto probes = torch::randint(0, 2, {c.probes, batch, dim}, f64) * 2 - 1;
      auto differentiable = network->parameters();
      differentiable.push_back(x);
      if (cond.defined()) differentiable.push_back(cond);

      const auto jvp = sl::mlp_jvp(network, x, probes, cond, how);
      const auto terms = (jvp.tangents * probes).sum(-1);
      const auto projections = (jvp.outputs.unsqueeze(0) * probes).sum(-1);
      const auto ref = reference(network, x, probes, cond);
      CHECK(relative_error(terms, ref.terms) <= 1e-10);

      // SSM: mean_{m,b}[vᵀ∇f v + ½ (vᵀf)²].
      const auto ssm = sl::sliced_score_matching_loss(terms, projections);
      const auto ssm_ref = sl::sliced_score_matching_loss(ref.terms, ref.projections);
      CHECK(ssm.item<double>() == doctest::Approx(ssm_ref.item<double>()).epsilon(1e-12));
      const auto grads = torch::autograd::grad({ssm}, differentiable);
      const auto grads_ref = torch::autograd::grad({ssm_ref}, differentiable, {}, /*retain_graph=*/true);
      for (std::size_t k = 0; k < grads.size(); ++k) {
        CAPTURE(k);
        CHECK(relative_error(grads[k], grads_ref[k]) <= 1e-10);
      }

      // LSE (L = 1, sign −1 so that κ enters): the lifted loss on f and the Hutchinson divergence.
      const auto jvp2 = sl::mlp_jvp(network, x, probes, cond, how);
      const auto divergence = (jvp2.tangents * probes).sum(-1).mean(0).unsqueeze(0);
      const auto signs = torch::full({1}, -1.0, f64);
      const auto lse = sl::lifted_residual_loss(jvp2.outputs.unsqueeze(0), {.divergence = divergence, .signs = signs});
      const auto lse_ref = sl::lifted_residual_loss(ref.outputs.unsqueeze(0),
                                                    {.divergence = ref.terms.mean(0).unsqueeze(0), .signs = signs});
      const auto lse_grads = torch::autograd::grad({lse.loss}, differentiable);
      const auto lse_grads_ref = torch::autograd::grad({lse_ref.loss}, differentiable);
      for (std::size_t k = 0; k < lse_grads.size(); ++k) {
        CAPTURE(k);
        CHECK(relative_error(lse_grads[k], lse_grads_ref[k]) <= 1e-10);
      }
    }
}

TEST_CASE("denoising_score_matching_backward: J and every parameter gradient match autograd to 1e-10") {
  // J = ½ mean_b w_b ‖f(x̃_b) − t_b‖² through LibTorch's autograd on MLP::forward is the reference; the
  // gradient lands in .grad and accumulates (a second call doubles it), like backward().
  torch::manual_seed(4);
  for (auto act : {sl::activation::silu, sl::activation::softplus}) {
    for (int64_t condition_dim : {0, 2}) {
      for (bool weighted : {false, true}) {
        auto network = make_network(3, condition_dim, act);
        const auto noisy = torch::randn({9, 3}, f64), target = torch::randn({9, 3}, f64);
        const auto cond = condition_dim ? torch::randn({9, 2}, f64) : torch::Tensor();
        const auto weights = weighted ? torch::rand({9}, f64) + 0.5 : torch::Tensor();
        const auto w = weighted ? weights : torch::ones({9}, f64);
        const auto loss_ref = 0.5 * (w * (network(noisy, cond) - target).square().sum(1)).mean();
        const auto grads_ref = torch::autograd::grad({loss_ref}, network->parameters());
        const auto loss = sl::denoising_score_matching_backward(network, noisy, target, weights, cond);
        CHECK(!loss.requires_grad());
        CHECK(std::abs(loss.item<double>() - loss_ref.item<double>()) <= 1e-12 * loss_ref.item<double>());
        const auto params = network->parameters();
        for (std::size_t k = 0; k < params.size(); ++k) CHECK(relative_error(params[k].grad(), grads_ref[k]) <= 1e-10);
        sl::denoising_score_matching_backward(network, noisy, target, weights, cond);
        for (std::size_t k = 0; k < params.size(); ++k)
          CHECK(relative_error(params[k].grad(), 2 * grads_ref[k]) <= 1e-10);
      }
    }
  }
  auto network = make_network(2, 0, sl::activation::silu);
  const auto noisy = torch::randn({4, 3}, f64);
  CHECK_THROWS_WITH_AS(sl::denoising_score_matching_backward(network, noisy, torch::randn({4, 2}, f64)),
                       doctest::Contains("argument 'target' ([4, 2] float64"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::denoising_score_matching_backward(network, torch::randn({4, 2}, f64), noisy),
                       doctest::Contains("argument 'noisy' has shape [4, 2]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::denoising_score_matching_backward(network, noisy, noisy, torch::ones({3}, f64)),
                       doctest::Contains("argument 'weights' ([3] float64"), scorelift::invalid_argument);
}

TEST_CASE("mlp_jvp without probes is the plain MLP: DSM gradients match autograd to 1e-10") {
  torch::manual_seed(3);
  for (auto act : {sl::activation::silu, sl::activation::softplus}) {
    for (int64_t condition_dim : {0, 1}) {
      auto network = make_network(2, condition_dim, act);
      const auto x = torch::randn({8, 3}, f64).requires_grad_(true);
      const auto cond = condition_dim ? torch::randn({8}, f64) : torch::Tensor();  // [B] for condition_dim = 1
      const auto target = torch::randn({8, 3}, f64);
      const auto out = sl::mlp_jvp(network, x, {}, cond);
      CHECK(out.tangents.sizes() == c10::IntArrayRef({0, 8, 3}));
      auto differentiable = network->parameters();
      differentiable.push_back(x);
      const auto loss = sl::residual_score_matching_loss(out.outputs.unsqueeze(0), {.target = target}).loss;
      const auto loss_ref = sl::residual_score_matching_loss(network(x, cond).unsqueeze(0), {.target = target}).loss;
      const auto grads = torch::autograd::grad({loss}, differentiable);
      const auto grads_ref = torch::autograd::grad({loss_ref}, differentiable);
      for (std::size_t k = 0; k < grads.size(); ++k) CHECK(relative_error(grads[k], grads_ref[k]) <= 1e-10);
    }
  }
}

TEST_CASE(
    "mlp_jvp in float32: the automatic kernels (fused CPU loops) agree with the portable ones") {
  torch::manual_seed(6);
  sl::mlp_options options;
  options.input_dim = options.output_dim = 2;
  options.hidden = 64;  // products of at least 16 in every dimension take the oneDNN path
  options.depth = 3;
  sl::MLP network(options);
  const auto x = torch::randn({48, 2});
  const auto probes = torch::randint(0, 2, {2, 48, 2}, torch::kFloat32) * 2 - 1;
  const auto loss_and_grads = [&](sl::tangent_kernels how) {
    const auto out = sl::mlp_jvp(network, x, probes, {}, how);
    const auto loss =
        sl::sliced_score_matching_loss((out.tangents * probes).sum(-1), (out.outputs.unsqueeze(0) * probes).sum(-1));
    auto grads = torch::autograd::grad({loss}, network->parameters());
    grads.push_back(out.tangents);
    return grads;
  };
  const auto automatic = loss_and_grads(sl::tangent_kernels::automatic);
  const auto blas = loss_and_grads(sl::tangent_kernels::portable);
  for (std::size_t k = 0; k < automatic.size(); ++k) {
    CAPTURE(k);
    CHECK(relative_error(automatic[k], blas[k]) <= 1e-5);
  }
}

TEST_CASE("product_nt: both CPU engines (at::mm, oneDNN) compute A Bᵀ to float32 rounding, views included") {
  namespace detail = scorelift::torch_ext::detail;
  torch::manual_seed(7);
  const auto a = torch::randn({64, 48});
  const auto b = torch::randn({40, 64});  // used through the non-contiguous view b[:, :48]
  const auto b_view = b.narrow(1, 0, 48);
  const auto exact = at::mm(a.to(torch::kFloat64), b_view.to(torch::kFloat64).t());
  for (const auto engine : {detail::product_engine::aten_mm, detail::product_engine::onednn}) {
    if (engine == detail::product_engine::onednn && !at::hasMKLDNN()) continue;
    CAPTURE(static_cast<int>(engine));
    const auto product = detail::product_nt_with(a, b_view, engine);
    REQUIRE(product.sizes() == exact.sizes());
    CHECK(relative_error(product.to(torch::kFloat64), exact) <= 1e-5);
  }
  // What product_nt chooses (at::mm unless SCORELIFT_CPU_PRODUCTS=onednn) computes the same product.
  CHECK(relative_error(detail::product_nt(a, b_view, true).to(torch::kFloat64), exact) <= 1e-5);
}

TEST_CASE("buffer_pool hands a buffer out again only when nothing else references it or its storage") {
  scorelift::torch_ext::detail::buffer_pool pool;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32);
  auto a = pool.get({4, 8}, options);
  const auto a_data = a.data_ptr();
  CHECK(pool.get({4, 8}, options).data_ptr() != a_data);  // `a` is held: a different buffer
  auto view = a.narrow(0, 0, 2);
  a.reset();
  CHECK(pool.get({4, 8}, options).data_ptr() != a_data);  // a view still holds its storage
  view.reset();
  CHECK(pool.get({4, 8}, options).data_ptr() == a_data);  // free now: reused
  CHECK(pool.get({8, 4}, options).data_ptr() != a_data);  // other sizes: not reused
  CHECK(pool.get({4, 8}, torch::TensorOptions().dtype(torch::kFloat64)).data_ptr() != a_data);  // other dtype
}

TEST_CASE("tangent_hutchinson_divergence draws hutchinson_divergence's probes and agrees with it (L = 2)") {
  torch::manual_seed(4);
  sl::residual_stack_options options;
  options.network.input_dim = options.network.output_dim = 2;
  options.network.hidden = 6;
  options.network.depth = 2;
  options.levels = 2;
  sl::ResidualStack stack(options);
  stack->to(torch::kFloat64);
  const auto x = torch::randn({7, 2}, f64);
  sl::hutchinson_options probes;
  probes.probes = 2;
  auto gen = at::detail::createCPUGenerator(11), copy = gen.clone();
  const auto tangent = sl::tangent_hutchinson_divergence(stack, x, probes, gen);
  const auto reverse = sl::hutchinson_divergence(stack, x, probes, copy, stack->levels());
  CHECK(relative_error(tangent.outputs, reverse.outputs) <= 1e-12);
  CHECK(relative_error(tangent.hutchinson, reverse.hutchinson) <= 1e-10);
  CHECK(relative_error(tangent.projections, reverse.projections) <= 1e-12);
  const auto signs = torch::tensor({1.0, -1.0}, f64);
  const auto loss = sl::lifted_residual_loss(tangent.outputs, {.divergence = tangent.divergence, .signs = signs}).loss;
  const auto loss_ref =
      sl::lifted_residual_loss(reverse.outputs, {.divergence = reverse.divergence, .signs = signs}).loss;
  const auto grads = torch::autograd::grad({loss}, stack->parameters());
  const auto grads_ref = torch::autograd::grad({loss_ref}, stack->parameters());
  for (std::size_t k = 0; k < grads.size(); ++k) CHECK(relative_error(grads[k], grads_ref[k]) <= 1e-10);

  // A call refused for its input draws nothing: both forward-mode routes leave the generator where it
  // was (x of width 3 for networks of width 2; x of the wrong dtype).
  auto untouched = at::detail::createCPUGenerator(12), reference = untouched.clone();
  const std::pair<torch::Tensor, const char*> refusals[] = {
      {torch::randn({7, 3}, f64), "argument 'x' has shape [7, 3] but [B, 2] was expected"},
      {x.to(torch::kFloat32), "argument 'x' ([7, 2] float32 cpu) must have the dtype and device of the network's"}};
  for (const auto& [bad, message] : refusals) {
    CHECK_THROWS_WITH_AS(sl::tangent_hutchinson_divergence(stack, bad, probes, untouched), doctest::Contains(message),
                         scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(sl::lifted_residual_backward(stack, bad, probes, untouched), doctest::Contains(message),
                         scorelift::invalid_argument);
  }
  CHECK(torch::equal(torch::randn({4}, untouched), torch::randn({4}, reference)));
}

TEST_CASE("flat_adam matches torch::optim::Adam to 1e-12 after 5 steps, gradients accumulating in its flat buffer") {
  for (double weight_decay : {0.0, 0.01}) {
    CAPTURE(weight_decay);
    torch::manual_seed(5);
    auto ours = make_network(2, 1, sl::activation::silu);
    auto theirs = make_network(2, 1, sl::activation::silu);
    {
      torch::NoGradGuard no_grad;
      for (std::size_t k = 0; k < ours->parameters().size(); ++k) theirs->parameters()[k].copy_(ours->parameters()[k]);
    }
    sl::flat_adam adam(ours->parameters(), {.lr = 0.05, .weight_decay = weight_decay});
    torch::optim::Adam reference(theirs->parameters(), torch::optim::AdamOptions(0.05).weight_decay(weight_decay));
    for (int step = 0; step < 5; ++step) {
      const auto x = torch::randn({9, 3}, f64), cond = torch::randn({9, 1}, f64);
      adam.zero_grad();
      ours(x, cond).pow(2).sum().backward();
      reference.zero_grad();
      theirs(x, cond).pow(2).sum().backward();
      adam.step();
      reference.step();
    }
    const auto mine = ours->parameters(), expected = theirs->parameters();
    for (std::size_t k = 0; k < mine.size(); ++k) {
      CAPTURE(k);
      CHECK(relative_error(mine[k], expected[k]) <= 1e-12);
      // The module's parameters are views of the flat buffer, and so are the accumulated gradients.
      CHECK(relative_error(mine[k].grad(), expected[k].grad()) <= 1e-12);
    }
    CHECK(relative_error(adam.flat_parameters(),
                         torch::cat({expected[0].reshape(-1), expected[1].reshape(-1), expected[2].reshape(-1),
                                     expected[3].reshape(-1), expected[4].reshape(-1), expected[5].reshape(-1)})) <=
          1e-12);
    CHECK(adam.steps() == 5);
  }
}

TEST_CASE("flat_adam copies back a gradient that was reset, and rejects moved parameters") {
  auto network = make_network(1, 0, sl::activation::silu);
  sl::flat_adam adam(network->parameters());
  const auto before = adam.flat_parameters().clone();
  network(torch::randn({4, 3}, f64)).sum().backward();
  auto p = network->parameters()[0];
  const auto saved = p.grad().clone();
  p.mutable_grad() = saved.clone();  // no longer the view into the flat buffer
  adam.step();
  CHECK(relative_error(p.grad(), saved) == 0.0);
  CHECK(adam.flat_gradients().narrow(0, 0, p.numel()).equal(saved.reshape(-1)));
  CHECK((adam.flat_parameters() - before).abs().max().item<double>() > 0);
  network->to(torch::kFloat32);  // converts the parameters out of the flat buffer
  CHECK_THROWS_WITH_AS(adam.step(), doctest::Contains("no longer lives in the flat buffer"),
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::flat_adam({}), "flat_adam: argument 'parameters' is empty", scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::flat_adam({torch::zeros({2}, f64).requires_grad_(), torch::zeros({2}).requires_grad_()}),
                       doctest::Contains("argument 'parameters[1]' ([2] float32 cpu)"), scorelift::invalid_argument);
}

TEST_CASE("mlp_jvp rejects bad shapes, dtypes and differentiable probes, naming argument and shape") {
  auto network = make_network(2, 0, sl::activation::silu);
  const auto x = torch::randn({4, 3}, f64);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(network, torch::randn({4, 2}, f64), {}),
                       "mlp_jvp: argument 'x' has shape [4, 2] but [B, 3] was expected", scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(network, x, torch::randn({2, 4, 2}, f64)),
                       "mlp_jvp: argument 'probes' has shape [2, 4, 2] but x has shape [4, 3] so [M, 4, 3] or [4, 3] "
                       "was expected",
                       scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(network, x, torch::randn({5, 3}, f64)),
                       doctest::Contains("argument 'probes' has shape [5, 3]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(network, x, torch::randn({4, 3})),
                       doctest::Contains("argument 'probes' ([4, 3] float32"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(network, x.to(torch::kFloat32), {}),
                       doctest::Contains("argument 'x' ([4, 3] float32"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(network, x, torch::randn({4, 3}, f64).requires_grad_()),
                       doctest::Contains("argument 'probes' requires grad"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(network, x, {}, torch::randn({4, 1}, f64)),
                       doctest::Contains("argument 'c' has shape [4, 1] but this network has no conditioning input"),
                       scorelift::invalid_argument);
  auto conditioned = make_network(1, 2, sl::activation::softplus);
  CHECK_THROWS_WITH_AS(sl::mlp_jvp(conditioned, x, {}, torch::randn({3, 2}, f64)),
                       "mlp_jvp: argument 'c' has shape [3, 2] but x has shape [4, 3] and condition_dim = 2",
                       scorelift::invalid_argument);
  // Non-contiguous x and probes are accepted (copied where needed) and give the contiguous answer.
  const auto wide = torch::randn({3, 4}, f64).t();  // [4, 3], transposed
  const auto v = torch::randn({3, 4}, f64).t();
  const auto a = sl::mlp_jvp(network, wide, v), b = sl::mlp_jvp(network, wide.contiguous(), v.contiguous());
  CHECK(relative_error(a.tangents, b.tangents) == 0.0);
}

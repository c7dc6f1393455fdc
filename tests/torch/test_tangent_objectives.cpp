// The graph-free SSM and lifted residual (LSE) gradients of a ResidualStack (torch/tangent_objectives.hpp),
// in double on the CPU, against an independent route on the same probes: the create_graph double-backward
// Hutchinson divergence (torch/hutchinson.hpp), the loss as an autograd Function, and autograd's gradients.
// Loss, divergences, residual alignments and every parameter gradient must agree to 1e-10; .grad must
// accumulate like backward(); bad input must name the argument.
#include <algorithm>
#include <vector>

#include "scorelift/torch/mlp.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "scorelift/torch/tangent_objectives.hpp"

#include "torch_test_support.hpp"  // (doctest, after LibTorch)

namespace {

namespace sl = scorelift::torch_ext;
using scorelift::test::f64;
using scorelift::test::relative_error;

sl::ResidualStack make_stack(int64_t levels, int64_t condition_dim, sl::activation act) {
  sl::residual_stack_options options;
  options.network.input_dim = options.network.output_dim = 3;
  options.network.condition_dim = condition_dim;
  options.network.hidden = 8;
  options.network.depth = 2;
  options.network.act = act;
  options.levels = levels;
  sl::ResidualStack stack(options);
  stack->to(torch::kFloat64);
  return stack;
}

std::vector<torch::Tensor> gradients_of(sl::ResidualStack& stack) {
  std::vector<torch::Tensor> out;
  for (const auto& p : stack->parameters()) out.push_back(p.grad().clone());
  return out;
}

void zero_gradients(sl::ResidualStack& stack) {
  for (auto& p : stack->parameters()) p.mutable_grad() = torch::Tensor();
}

}  // namespace

TEST_CASE("sliced_score_matching_backward: loss and gradients equal the double-backward route to 1e-10") {
  torch::manual_seed(21);
  for (auto act : {sl::activation::silu, sl::activation::softplus}) {
    for (auto kind : {scorelift::probe_kind::rademacher, scorelift::probe_kind::gaussian}) {
      for (int64_t probes : {1, 3}) {
        CAPTURE(probes);
        auto stack = make_stack(1, 0, act);
        const auto x = torch::randn({9, 3}, f64);
        sl::hutchinson_options options;
        options.kind = kind;
        options.probes = probes;
        auto gen = at::detail::createCPUGenerator(5), same_draws = gen.clone();

        const auto reference = sl::hutchinson_divergence(stack, x, options, same_draws, 1);
        const auto loss_ref =
            sl::sliced_score_matching_loss(reference.hutchinson.select(1, 0), reference.projections.select(1, 0));
        const auto grads_ref = torch::autograd::grad({loss_ref}, stack->parameters());

        zero_gradients(stack);
        const auto out = sl::sliced_score_matching_backward(stack, x, options, gen);
        CHECK(!out.loss.requires_grad());
        CHECK(std::abs(out.loss.item<double>() - loss_ref.item<double>()) <=
              1e-10 * std::max(1.0, std::abs(loss_ref.item<double>())));
        CHECK(relative_error(out.terms.divergence, reference.divergence) <= 1e-10);
        const auto grads = gradients_of(stack);
        for (std::size_t k = 0; k < grads.size(); ++k) CHECK(relative_error(grads[k], grads_ref[k]) <= 1e-10);

        auto again = gen.clone();  // a second call with other probes accumulates its own gradient
        const auto second_ref_terms = sl::hutchinson_divergence(stack, x, options, again, 1);
        const auto second_grads_ref = torch::autograd::grad(
            {sl::sliced_score_matching_loss(second_ref_terms.hutchinson.select(1, 0),
                                            second_ref_terms.projections.select(1, 0))},
            stack->parameters());
        sl::sliced_score_matching_backward(stack, x, options, gen);
        const auto accumulated = gradients_of(stack);
        for (std::size_t k = 0; k < grads.size(); ++k)
          CHECK(relative_error(accumulated[k], grads_ref[k] + second_grads_ref[k]) <= 1e-10);
      }
    }
  }
}

TEST_CASE("lifted_residual_backward: loss, alignments and gradients equal the double-backward route to 1e-10") {
  torch::manual_seed(22);
  for (int64_t levels : {1, 2, 3}) {
    for (int64_t condition_dim : {0, 2}) {
      CAPTURE(levels);
      CAPTURE(condition_dim);
      auto stack = make_stack(levels, condition_dim, sl::activation::silu);
      // Mixed signs: level 0 negative, the others positive.
      std::vector<double> alignment(static_cast<std::size_t>(levels), 1.0);
      alignment[0] = -1.0;
      stack->update_signs(alignment);
      const auto x = torch::randn({11, 3}, f64);
      const auto c = condition_dim ? torch::randn({11, condition_dim}, f64) : torch::Tensor();
      sl::hutchinson_options options;
      options.probes = 2;
      auto gen = at::detail::createCPUGenerator(8), same_draws = gen.clone();

      const auto model = [&](const torch::Tensor& input) { return stack->forward(input, c); };
      const auto reference = sl::hutchinson_divergence(model, x, options, same_draws, levels);
      const auto lifted_ref = sl::lifted_residual_loss(
          reference.outputs, {.divergence = reference.divergence, .signs = stack->signs(x)});
      const auto grads_ref = torch::autograd::grad({lifted_ref.loss}, stack->parameters());

      zero_gradients(stack);
      const auto out = sl::lifted_residual_backward(stack, x, options, gen, {}, c);
      CHECK(std::abs(out.loss.item<double>() - lifted_ref.loss.item<double>()) <=
            1e-10 * std::max(1.0, std::abs(lifted_ref.loss.item<double>())));
      CHECK(relative_error(out.terms.outputs, reference.outputs) <= 1e-12);
      CHECK(relative_error(out.terms.divergence, reference.divergence) <= 1e-10);
      REQUIRE(out.residual_alignment.size() == lifted_ref.residual_alignment.size());
      for (std::size_t l = 0; l < out.residual_alignment.size(); ++l)
        CHECK(out.residual_alignment[l] == doctest::Approx(lifted_ref.residual_alignment[l]).epsilon(1e-10));
      const auto grads = gradients_of(stack);
      for (std::size_t k = 0; k < grads.size(); ++k) CHECK(relative_error(grads[k], grads_ref[k]) <= 1e-10);
    }
  }
}

TEST_CASE("graph-free objectives: bad input names the argument") {
  auto two_levels = make_stack(2, 0, sl::activation::silu);
  auto one_level = make_stack(1, 0, sl::activation::silu);
  auto gen = at::detail::createCPUGenerator(1);
  const auto x = torch::randn({5, 3}, f64);
  CHECK_THROWS_WITH_AS(sl::sliced_score_matching_backward(two_levels, x, {}, gen),
                       doctest::Contains("L = 2 levels"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::sliced_score_matching_backward(one_level, torch::randn({5, 2}, f64), {}, gen),
                       doctest::Contains("argument 'x' has shape [5, 2]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::lifted_residual_backward(two_levels, torch::randn({5}, f64), {}, gen),
                       doctest::Contains("argument 'x' has shape [5]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::lifted_residual_backward(two_levels, torch::randn({5, 3}), {}, gen),
                       doctest::Contains("argument 'x' ([5, 3] float32"), scorelift::invalid_argument);
  sl::hutchinson_options no_probes;
  no_probes.probes = 0;
  CHECK_THROWS_WITH_AS(sl::lifted_residual_backward(two_levels, x, no_probes, gen),
                       doctest::Contains("'probes' is 0"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(sl::lifted_residual_backward(one_level, x, {}, gen, {}, torch::randn({5, 1}, f64)),
                       doctest::Contains("argument 'c' has shape [5, 1]"), scorelift::invalid_argument);
}

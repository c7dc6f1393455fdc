// scorelift/torch/tangent_objectives.hpp — sliced score matching and the lifted residual loss (LSE) of a
// ResidualStack of MLPs, with their parameter gradients and no autograd graph.
//
// Level l's tangent pass (torch/mlp_tangent_pass.hpp) gives f_l(x_b) and J_l v_m for the probes v_m that
// tangent_hutchinson_divergence draws (same draws from the same generator state), and from them
//     h_{m,l,b} = v_mᵀ J_l v_m,      p_{m,l,b} = v_mᵀ f_l(x_b),      d_{l,b} = (1/M) Σ_m h_{m,l,b}.
// The objective's value and closed-form gradients come from the code its autograd Function runs
// (torch/objective_functions.hpp: evaluate_sliced, evaluate_objective). The chain rule through h, p and d
// turns them into the seeds of each level's hand-written reverse pass:
//     ∂J/∂f_l       = ∂J/∂f_l (direct) + Σ_m (∂J/∂p_{m,l}) v_m,
//     ∂J/∂(J_l v_m) = (∂J/∂h_{m,l}) v_m,           ∂J/∂h_{m,l,b} = (1/M) ∂J/∂d_{l,b}  (objectives of d).
// The gradients equal, to rounding, those of tangent_hutchinson_divergence + the loss Function +
// loss.backward() (tests/torch/test_tangent_objectives.cpp). What is left out is the graph: recording
// it and walking it back was a sizeable share of a training step at batch 128 (benchmarks/RESULTS.md).
//
// Global signs only (stack->signs(x)); a per-noise-level sign table (diffusion) goes through the Functions.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <vector>

// mlp.hpp first: it names scorelift::detail as `detail::`, which scorelift::torch_ext::detail would shadow.
#include "scorelift/torch/mlp.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/mlp_tangent_pass.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "scorelift/torch/tangent_divergence.hpp"

namespace scorelift::torch_ext {

/// What a graph-free objective evaluation returns; its gradient is already in the parameters' .grad.
struct tangent_objective_output {
  torch::Tensor loss;                      // 0-dim, no graph
  divergence_result terms;                 // f_l [L, B, D], d [L, B], h and p [M, L, B]: no graph
  std::vector<double> residual_alignment;  // lifted: mean_b ⟨r_l, f_l⟩, the sign tracker's input
};

namespace detail {

/// Every level's tangent pass on one batch, kept for the reverse passes.
class stack_tangent_passes {
 public:
  stack_tangent_passes(ResidualStack& stack, const torch::Tensor& x, const hutchinson_options& options,
                       at::Generator& gen, const torch::Tensor& c, const char* where) {
    const std::vector<torch::Tensor> inputs = level_inputs(stack, x, c, where);  // before the draw
    probes_ = draw_level_probes(options, stack->levels(), x, gen, where);
    const int64_t probe_count = probes_.size(0), batch = x.size(0), dim = x.size(1);
    std::vector<torch::Tensor> outputs, tangents;
    for (int64_t l = 0; l < stack->levels(); ++l) {
      auto network = stack->network(l);
      const auto flat_probes = probes_.select(1, l).reshape({probe_count * batch, dim}).contiguous();
      passes_.emplace_back(network, inputs[static_cast<std::size_t>(l)], flat_probes, probe_count);
      outputs.push_back(passes_.back().result().outputs);
      tangents.push_back(passes_.back().result().tangents);
    }
    torch::NoGradGuard no_graph;
    terms_ = hutchinson_terms(outputs, tangents, probes_);
  }

  const divergence_result& terms() const { return terms_; }

  /// The reverse passes for ∂J/∂f [L, B, D], ∂J/∂h and ∂J/∂p [M, L, B] (any undefined: zero).
  void backward(const torch::Tensor& grad_outputs, const torch::Tensor& grad_hutchinson,
                const torch::Tensor& grad_projections) const {
    torch::NoGradGuard no_graph;
    for (std::size_t l = 0; l < passes_.size(); ++l) {
      const auto level = static_cast<int64_t>(l);
      const auto v = probes_.select(1, level);  // [M, B, D]
      torch::Tensor seed_outputs = grad_outputs.defined() ? grad_outputs.select(0, level) : torch::Tensor();
      if (grad_projections.defined()) {
        const auto through_projections = (grad_projections.select(1, level).unsqueeze(2) * v).sum(0);
        seed_outputs = seed_outputs.defined() ? seed_outputs + through_projections : through_projections;
      }
      const auto seed_tangents =
          grad_hutchinson.defined() ? grad_hutchinson.select(1, level).unsqueeze(2) * v : torch::Tensor();
      passes_[l].backward(seed_outputs, seed_tangents);
    }
  }

 private:
  torch::Tensor probes_;  // [M, L, B, D]
  std::vector<mlp_tangent_pass> passes_;
  divergence_result terms_;
};

}  // namespace detail

/// Plain sliced score matching J = mean_{m,b}[h_{m,b} + ½ p_{m,b}²] of a one-level stack, with ∂J/∂θ
/// accumulated into the parameters' .grad (like backward(): zero them first). Probes as
/// tangent_hutchinson_divergence(stack, x, options, gen, c) draws them.
inline tangent_objective_output sliced_score_matching_backward(ResidualStack& stack, const torch::Tensor& x,
                                                               const hutchinson_options& options, at::Generator& gen,
                                                               const torch::Tensor& c = {}) {
  constexpr const char* where = "sliced_score_matching_backward";
  scorelift::detail::require(stack->levels() == 1, where, "the stack has L = ", stack->levels(),
                             " levels but sliced score matching trains one network (L = 1)");
  const detail::stack_tangent_passes passes(stack, x, options, gen, c, where);
  const auto& terms = passes.terms();
  const auto evaluated = detail::evaluate_sliced(terms.hutchinson.select(1, 0), terms.projections.select(1, 0));
  passes.backward({}, evaluated.grad_hutchinson.unsqueeze(1), evaluated.grad_projections.unsqueeze(1));
  return {torch::scalar_tensor(evaluated.value, x.options()), terms, {}};
}

/// The lifted residual loss (LSE: Hutchinson divergences, global signs stack->signs(x)) of every level,
/// with ∂J/∂θ accumulated into the parameters' .grad; residual_alignment feeds stack->update_signs.
/// `reduce`: the data-parallel global statistics (distributed/lifted_statistics.hpp).
inline tangent_objective_output lifted_residual_backward(ResidualStack& stack, const torch::Tensor& x,
                                                         const hutchinson_options& options, at::Generator& gen,
                                                         const lifted_options& lifted = {},
                                                         const torch::Tensor& c = {},
                                                         const lifted_sums_reducer& reduce = {}) {
  const detail::stack_tangent_passes passes(stack, x, options, gen, c, "lifted_residual_backward");
  const auto& terms = passes.terms();
  const detail::lifted_objective objective{lifted, reduce};
  const auto inputs = detail::prepare_inputs(
      terms.outputs, objective_inputs{.divergence = terms.divergence, .signs = stack->signs(x)}, objective.name);
  auto evaluated = detail::evaluate_objective(objective, terms.outputs, inputs);
  {
    torch::NoGradGuard no_graph;
    // ∂J/∂h_m = (1/M) ∂J/∂d for every probe.
    const auto grad_hutchinson = (evaluated.grad_source / static_cast<double>(terms.hutchinson.size(0)))
                                     .unsqueeze(0)
                                     .expand(terms.hutchinson.sizes());
    passes.backward(evaluated.grad_modes, grad_hutchinson, {});
  }
  return {torch::scalar_tensor(evaluated.value, x.options()), terms, std::move(evaluated.residual_alignment)};
}

}  // namespace scorelift::torch_ext

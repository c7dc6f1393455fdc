// scorelift/torch/hutchinson.hpp — the divergence tr ∇ₓf(x) of any LibTorch score model, by double
// backward: sliced with M probes (Hutchinson), or exactly, one backward pass per dimension.
//
//   Hutchinson:  tr ∇ₓf = E_v[vᵀ ∇ₓf v],  E[v vᵀ] = I (probes.hpp: Rademacher, Gaussian, √D sphere),
//                vᵀ ∇ₓf v = vᵀ ∇ₓ(vᵀ f): one vector-Jacobian product per probe; the estimate is the
//                mean over the M probes of each sample.
//   Exact:       tr ∇ₓf = Σ_d ∂f_d/∂x_d, D vector-Jacobian products (small D: ISM).
// With create_graph the result stays differentiable in the model's parameters, so a loss built on
// it (ISM, SSM, LSE) trains the model; without it the divergence is a constant (evaluation).
//
// Stacks of L networks: give `levels` = L and a model that maps [L, B, D] to [L, B, D] with level l
// reading only x[l] (torch/residual_stack.hpp does). Each level then gets its own copy of x, so one
// backward pass yields every level's own Jacobian-vector product: ∂/∂x[l] of Σ_l vᵀf_l = J_lᵀ v.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/probes.hpp"

namespace scorelift::torch_ext {

struct hutchinson_options {
  probe_kind kind = probe_kind::rademacher;
  index_t probes = 1;        // M
  bool create_graph = true;  // keep the divergence differentiable in the parameters (training)
};

struct divergence_result {
  torch::Tensor outputs;      // f(x): [B, D], or [L, B, D] with levels
  torch::Tensor divergence;   // tr ∇f per sample: [B], or [L, B]; Hutchinson: mean over the probes
  torch::Tensor hutchinson;   // per-probe terms vᵀ∇f v: [M, B] or [M, L, B] (undefined for the exact trace)
  torch::Tensor projections;  // per-probe vᵀf: same shape as `hutchinson` (plain SSM reads both)
};

namespace detail {

/// x as a fresh leaf that requires grad: [B, D], or [L, B, D] (one copy per level).
inline torch::Tensor input_leaf(const torch::Tensor& x, index_t levels, const char* where) {
  scorelift::detail::require(x.defined() && x.dim() == 2 && x.size(0) >= 1 && x.size(1) >= 1, where,
                             "argument 'x' has shape ", scorelift::detail::tensor_shape_string(x),
                             " but [B, D] with B, D >= 1 was expected");
  scorelift::detail::require(x.is_floating_point(), where, "argument 'x' (", scorelift::detail::tensor_description(x),
                             ") must be a floating-point tensor");
  scorelift::detail::require(levels >= 0, where, "argument 'levels' is ", levels, " but must be >= 0 (0: no stack)");
  const auto detached = x.detach();
  auto leaf = levels == 0 ? detached.clone() : detached.unsqueeze(0).expand({levels, x.size(0), x.size(1)}).clone();
  return leaf.requires_grad_(true);
}

template <class Model>
torch::Tensor evaluate(Model& model, const torch::Tensor& leaf, const char* where) {
  torch::Tensor f = model(leaf);
  scorelift::detail::require(f.sizes() == leaf.sizes(), where, "the model maps an input of shape ",
                             scorelift::detail::tensor_shape_string(leaf), " to shape ",
                             scorelift::detail::tensor_shape_string(f),
                             " but a score model's output must have its input's shape");
  return f;
}

/// ∂/∂leaf of Σ ⟨weights, f⟩ (a vector-Jacobian product), keeping the graph for further products.
inline torch::Tensor vjp(const torch::Tensor& f, const torch::Tensor& leaf, const torch::Tensor& weights,
                         bool create_graph) {
  return torch::autograd::grad({f}, {leaf}, {weights}, /*retain_graph=*/true, create_graph)[0];
}

}  // namespace detail

/// f(x) and its Hutchinson divergence with `options.probes` probes drawn from `gen`.
template <class Model>
divergence_result hutchinson_divergence(Model&& model, const torch::Tensor& x, const hutchinson_options& options,
                                        at::Generator& gen, index_t levels = 0) {
  constexpr const char* where = "hutchinson_divergence";
  const auto leaf = detail::input_leaf(x, levels, where);
  divergence_result out;
  out.outputs = detail::evaluate(model, leaf, where);
  const index_t rows = leaf.numel() / leaf.size(-1), dim = leaf.size(-1);
  const auto flat = leaf.detach().reshape({rows, dim});
  const auto draw = [&]<class Scalar>() {
    return draw_probes<torch_backend<Scalar>>(options.kind, options.probes, rows, dim, gen, flat);
  };
  const auto probes =
      leaf.scalar_type() == torch::kFloat64 ? draw.template operator()<double>() : draw.template operator()<float>();
  std::vector<torch::Tensor> terms, projections;
  for (const auto& flat_probe : probes) {
    const auto v = flat_probe.view(leaf.sizes());
    // vᵀ ∇ₓf v = vᵀ ∇ₓ(vᵀf): the VJP with weights v, contracted with v again.
    terms.push_back((detail::vjp(out.outputs, leaf, v, options.create_graph) * v).sum(-1));
    projections.push_back((out.outputs * v).sum(-1));
  }
  out.hutchinson = torch::stack(terms);
  out.projections = torch::stack(projections);
  out.divergence = out.hutchinson.mean(0);
  return out;
}

/// f(x) and its exact divergence Σ_d ∂f_d/∂x_d (D backward passes: meant for small D).
template <class Model>
divergence_result exact_divergence(Model&& model, const torch::Tensor& x, bool create_graph = true,
                                   index_t levels = 0) {
  constexpr const char* where = "exact_divergence";
  const auto leaf = detail::input_leaf(x, levels, where);
  divergence_result out;
  out.outputs = detail::evaluate(model, leaf, where);
  auto trace = torch::zeros(leaf.sizes().slice(0, leaf.dim() - 1), leaf.options());
  for (int64_t d = 0; d < leaf.size(-1); ++d) {
    // The VJP with weights e_d is row d of the Jacobian, ∂f_d/∂x; its d-th entry is the diagonal term.
    auto e_d = torch::zeros_like(out.outputs);
    e_d.select(-1, d).fill_(1.0);
    trace = trace + detail::vjp(out.outputs, leaf, e_d, create_graph).select(-1, d);
  }
  out.divergence = trace;
  return out;
}

}  // namespace scorelift::torch_ext

// scorelift/torch/tangent_divergence.hpp — Hutchinson divergences of a ResidualStack of MLPs by
// forward mode (torch/mlp_tangent.hpp) instead of double backward (torch/hutchinson.hpp).
//
//   vᵀ ∇ₓf v = ⟨v, J_f(x) v⟩: one Jacobian-vector product per probe, all M carried by one forward pass
//   of each level's network, whose hand-written reverse pass then trains it (no create_graph graph).
//
// Same draws and same result as hutchinson_divergence(stack, x, options, gen, L): the probes come from
// draw_probes over L·B rows in the same order, so the two paths agree to rounding on the same generator
// state (tests/torch/test_mlp_tangent.cpp checks it).
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/probes.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/mlp_tangent.hpp"
#include "scorelift/torch/residual_stack.hpp"

namespace scorelift::torch_ext {

/// f_l(x) [L, B, D] and the Hutchinson divergence of every level with `options.probes` probes from
/// `gen`; `hutchinson` and `projections` are [M, L, B] (torch/hutchinson.hpp's layout with levels).
/// options.create_graph = false evaluates without recording a graph.
inline divergence_result tangent_hutchinson_divergence(ResidualStack& stack, const torch::Tensor& x,
                                                       const hutchinson_options& options, at::Generator& gen,
                                                       const torch::Tensor& c = {}) {
  constexpr const char* where = "tangent_hutchinson_divergence";
  scorelift::detail::require(x.defined() && x.dim() == 2 && x.size(0) >= 1 && x.size(1) >= 1, where,
                             "argument 'x' has shape ", scorelift::detail::tensor_shape_string(x),
                             " but [B, D] with B, D >= 1 was expected");
  scorelift::detail::require(x.scalar_type() == torch::kFloat64 || x.scalar_type() == torch::kFloat32, where,
                             "argument 'x' (", scorelift::detail::tensor_description(x),
                             ") must be float32 or float64");
  const int64_t levels = stack->levels(), batch = x.size(0), dim = x.size(1);
  const auto data = x.detach();
  // The draws of hutchinson_divergence: M probes of [L·B, D], level l owning rows [l·B, (l + 1)·B).
  const auto draw = [&]<class Scalar>() {
    return draw_probes<torch_backend<Scalar>>(options.kind, options.probes, levels * batch, dim, gen,
                                              data);  // (`like` sets the device)
  };
  const auto drawn =
      x.scalar_type() == torch::kFloat64 ? draw.template operator()<double>() : draw.template operator()<float>();
  const auto probes = torch::stack(drawn).view({options.probes, levels, batch, dim});

  std::optional<torch::NoGradGuard> no_graph;
  if (!options.create_graph) no_graph.emplace();
  std::vector<torch::Tensor> outputs, terms, projections;
  for (int64_t l = 0; l < levels; ++l) {
    auto network = stack->network(l);
    const auto v = probes.select(1, l);  // [M, B, D]
    const auto jvp = mlp_jvp(network, data, v, c);
    outputs.push_back(jvp.outputs);
    terms.push_back((jvp.tangents * v).sum(-1));                    // vᵀ J v: [M, B]
    projections.push_back((jvp.outputs.unsqueeze(0) * v).sum(-1));  // vᵀ f:   [M, B]
  }
  divergence_result out;
  out.outputs = torch::stack(outputs);
  out.hutchinson = torch::stack(terms, 1);
  out.projections = torch::stack(projections, 1);
  out.divergence = out.hutchinson.mean(0);
  return out;
}

}  // namespace scorelift::torch_ext

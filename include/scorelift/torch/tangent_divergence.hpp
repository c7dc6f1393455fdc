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

namespace detail {

/// The probes of hutchinson_divergence(stack, x, options, gen, L) as [M, L, B, D]: M draws of [L·B, D] from
/// `gen`, level l owning rows [l·B, (l + 1)·B) — so every forward-mode path sees the same probes as the
/// double-backward one on the same generator state. Checks x [B, D] (float32/float64) for `where`.
inline torch::Tensor draw_level_probes(const hutchinson_options& options, int64_t levels, const torch::Tensor& x,
                                       at::Generator& gen, const char* where) {
  scorelift::detail::require(x.defined() && x.dim() == 2 && x.size(0) >= 1 && x.size(1) >= 1, where,
                             "argument 'x' has shape ", scorelift::detail::tensor_shape_string(x),
                             " but [B, D] with B, D >= 1 was expected");
  scorelift::detail::require(x.scalar_type() == torch::kFloat64 || x.scalar_type() == torch::kFloat32, where,
                             "argument 'x' (", scorelift::detail::tensor_description(x),
                             ") must be float32 or float64");
  const int64_t batch = x.size(0), dim = x.size(1);
  const auto like = x.detach();  // (sets the device)
  const auto draw = [&]<class Scalar>() {
    return draw_probes<torch_backend<Scalar>>(options.kind, options.probes, levels * batch, dim, gen, like);
  };
  const auto drawn =
      x.scalar_type() == torch::kFloat64 ? draw.template operator()<double>() : draw.template operator()<float>();
  return torch::stack(drawn).view({options.probes, levels, batch, dim});
}

/// Every level's network input for x (and c), checked before any probe is drawn: a call refused for its
/// shapes, dtype or device then leaves `gen` where it was, as the double-backward route (which runs the
/// networks before drawing) does — the two routes stay on the same stream after a refused call.
inline std::vector<torch::Tensor> level_inputs(ResidualStack& stack, const torch::Tensor& x, const torch::Tensor& c,
                                               const char* where) {
  std::vector<torch::Tensor> inputs;
  inputs.reserve(static_cast<std::size_t>(stack->levels()));
  for (int64_t l = 0; l < stack->levels(); ++l) {
    auto network = stack->network(l);
    inputs.push_back(network_input(network, x.detach(), c, where));
  }
  return inputs;
}

/// The divergence_result of every level's f_l(x) [B, D] and J_l v_m [M, B, D] for the probes [M, L, B, D]:
/// h_{m,l,b} = v_mᵀ J_l v_m and p_{m,l,b} = v_mᵀ f_l(x_b) as [M, L, B], d = mean_m h as [L, B].
inline divergence_result hutchinson_terms(const std::vector<torch::Tensor>& outputs,
                                          const std::vector<torch::Tensor>& tangents, const torch::Tensor& probes) {
  std::vector<torch::Tensor> terms, projections;
  for (std::size_t l = 0; l < outputs.size(); ++l) {
    const auto v = probes.select(1, static_cast<int64_t>(l));  // [M, B, D]
    terms.push_back((tangents[l] * v).sum(-1));
    projections.push_back((outputs[l].unsqueeze(0) * v).sum(-1));
  }
  divergence_result out;
  out.outputs = torch::stack(outputs);
  out.hutchinson = torch::stack(terms, 1);
  out.projections = torch::stack(projections, 1);
  out.divergence = out.hutchinson.mean(0);
  return out;
}

}  // namespace detail

/// f_l(x) [L, B, D] and the Hutchinson divergence of every level with `options.probes` probes from
/// `gen`; `hutchinson` and `projections` are [M, L, B] (torch/hutchinson.hpp's layout with levels).
/// options.create_graph = false evaluates without recording a graph.
inline divergence_result tangent_hutchinson_divergence(ResidualStack& stack, const torch::Tensor& x,
                                                       const hutchinson_options& options, at::Generator& gen,
                                                       const torch::Tensor& c = {}) {
  constexpr const char* where = "tangent_hutchinson_divergence";
  const int64_t levels = stack->levels();
  detail::level_inputs(stack, x, c, where);  // checked before the draw (mlp_jvp forms them again: a cat at most)
  const auto probes = detail::draw_level_probes(options, levels, x, gen, where);
  const auto data = x.detach();
  std::optional<torch::NoGradGuard> no_graph;
  if (!options.create_graph) no_graph.emplace();
  std::vector<torch::Tensor> outputs, tangents;
  for (int64_t l = 0; l < levels; ++l) {
    auto network = stack->network(l);
    const auto jvp = mlp_jvp(network, data, probes.select(1, l), c);
    outputs.push_back(jvp.outputs);
    tangents.push_back(jvp.tangents);
  }
  return detail::hutchinson_terms(outputs, tangents, probes);
}

}  // namespace scorelift::torch_ext

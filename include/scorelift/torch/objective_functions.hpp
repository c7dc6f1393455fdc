// scorelift/torch/objective_functions.hpp — the objectives as `torch::autograd::Function`s.
//
// The forward pass runs the generic core (scorelift::lifted_residual_loss, ...) on the detached
// tensors through `torch_backend`, which returns the value *and* the closed-form gradients with
// respect to its inputs in one pass; the backward pass only scales those by grad_output. Autograd
// carries them on: into the networks that produced the modes, and into the divergence terms, whose
// own graph (double backward, torch/hutchinson.hpp, built with create_graph) reaches the parameters.
//
//   modes       [L, B, D]  f_l(x_b), unsigned (or a list of L tensors [B, D], stacked here)
//   target      [B, D]     Tweedie target t_b = s(x̃_b | x_b) = −ε_b/σ_b          (DSM, LDSE), xor
//   divergence  [L, B]     tr ∇ₓ f_l(x_b), exact or Hutchinson                     (ISM, SSM-VR, LSE)
//   weights     [B]        optional per-sample weights w_b
//   signs       [L] or [L, B]  optional κ (one per level, or per sample for per-noise-level signs)
//
// The backward is first-order only (the saved gradients are constants): differentiating the loss's
// gradient again is not supported, and no objective here needs it.
//
// A residual LSE step (torch/residual_stack.hpp, torch/hutchinson.hpp):
//   const auto d = hutchinson_divergence(stack, x, {.probes = 1}, gen, stack->levels());  // f, tr ∇f
//   const auto out = lifted_residual_loss(d.outputs, {.divergence = d.divergence, .signs = stack->signs(x)});
//   out.loss.backward();  optimiser.step();  stack->update_signs(out.residual_alignment);
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"
#include "scorelift/objectives/score_batch.hpp"
#include "scorelift/objectives/sliced_score_matching.hpp"
#include "scorelift/torch/buffer_pool.hpp"
#include "scorelift/torch/fused_dispatch.hpp"

namespace scorelift::torch_ext {

/// What an objective reads besides the modes (see the table above).
struct objective_inputs {
  torch::Tensor target{};
  torch::Tensor divergence{};
  torch::Tensor weights{};
  torch::Tensor signs{};
};

struct objective_output {
  torch::Tensor loss;                      // 0-dim, differentiable in modes and target / divergence
  std::vector<double> level_values;        // L_l (loss = their mean)
  std::vector<double> residual_alignment;  // mean_b w_b ⟨r_l(x_b), f_l(x_b)⟩: the sign tracker's input
};

namespace detail {

/// The tensors of one call after validation: signs broadcast to [L, B], divergence as [L, B].
struct prepared_inputs {
  torch::Tensor source;  // target [B, D] or divergence [L, B]
  bool has_target = false;
  torch::Tensor weights;
  torch::Tensor signs;
};

/// Checks rank, dtype, device and shape of every input against `modes`, naming `where`.
inline prepared_inputs prepare_inputs(const torch::Tensor& modes, const objective_inputs& in, const char* where) {
  using scorelift::detail::require;
  using scorelift::detail::tensor_description;
  require(modes.defined() && modes.dim() == 3, where, "argument 'modes' has shape ",
          scorelift::detail::tensor_shape_string(modes), " but [L, B, D] was expected");
  require(modes.size(0) >= 1, where, "argument 'modes' has shape ", scorelift::detail::tensor_shape_string(modes),
          " (L = 0): at least one mode is needed");
  require(modes.scalar_type() == torch::kFloat64 || modes.scalar_type() == torch::kFloat32, where, "argument 'modes' (",
          tensor_description(modes), ") must be float32 or float64");
  const int64_t levels = modes.size(0), batch = modes.size(1), dim = modes.size(2);
  const auto check = [&](const torch::Tensor& t, const char* name, std::vector<int64_t> shape) {
    require(t.scalar_type() == modes.scalar_type() && t.device() == modes.device(), where, "argument '", name, "' (",
            tensor_description(t), ") must have the dtype and device of 'modes' (", tensor_description(modes), ")");
    require(t.sizes() == c10::IntArrayRef(shape), where, "argument '", name, "' has shape ",
            scorelift::detail::tensor_shape_string(t), " but modes has shape ",
            scorelift::detail::tensor_shape_string(modes), " so ", scorelift::detail::tensor_shape_string(shape),
            " was expected");
  };

  prepared_inputs out;
  require(in.target.defined() != in.divergence.defined(), where,
          "exactly one of the arguments 'target' and 'divergence' must be given (got ",
          in.target.defined() ? "both" : "neither", ")");
  out.has_target = in.target.defined();
  if (out.has_target) {
    check(in.target, "target", {batch, dim});
    out.source = in.target;
  } else {
    // A single level may pass its divergence as [B].
    out.source = (levels == 1 && in.divergence.dim() == 1) ? in.divergence.unsqueeze(0) : in.divergence;
    check(out.source, "divergence", {levels, batch});
  }
  if (in.weights.defined()) {
    check(in.weights, "weights", {batch});
    // Checked here, not only by the core: the fused path runs first and would take any weight.
    const double smallest = batch == 0 ? 1.0 : in.weights.min().item<double>();
    require(smallest > 0.0, where, "argument 'weights' has minimum ", smallest,
            " but weights must be positive (leave a sample out rather than weighting it by 0)");
    out.weights = in.weights;
  }
  if (in.signs.defined()) {
    if (in.signs.dim() == 1) {
      check(in.signs, "signs", {levels});
      out.signs = in.signs.unsqueeze(1).expand({levels, batch});
    } else {
      check(in.signs, "signs", {levels, batch});
      out.signs = in.signs;
    }
  }
  return out;
}

/// The same stacking for a list of modes: every entry [B, D] like the first.
inline torch::Tensor stack_modes(const std::vector<torch::Tensor>& modes, const char* where) {
  scorelift::detail::require(!modes.empty(), where, "argument 'modes' is empty (L = 0): at least one mode is needed");
  for (std::size_t l = 0; l < modes.size(); ++l)
    scorelift::detail::require(
        modes[l].defined() && modes[l].dim() == 2 && modes[l].sizes() == modes[0].sizes() &&
            modes[l].scalar_type() == modes[0].scalar_type() && modes[l].device() == modes[0].device(),
        where, "argument 'modes[", l, "]' (", scorelift::detail::tensor_description(modes[l]),
        ") must be a [B, D] tensor like modes[0] (", scorelift::detail::tensor_description(modes[0]), ")");
  return torch::stack(modes);
}

/// The score_batch the core reads: views of the detached tensors, no copies.
template <class Scalar>
score_batch<torch_backend<Scalar>> make_batch(const torch::Tensor& modes, const prepared_inputs& in) {
  score_batch<torch_backend<Scalar>> batch;
  for (int64_t l = 0; l < modes.size(0); ++l) {
    batch.modes.push_back(modes.select(0, l));
    if (!in.has_target) batch.divergence.push_back(in.source.select(0, l));
    if (in.signs.defined()) batch.signs.push_back(in.signs.select(0, l));
  }
  if (in.has_target) batch.target = in.source;
  if (in.weights.defined()) batch.weights = in.weights;
  return batch;
}

/// The core's lifted residual loss, with the fused CUDA path tried first (for a batch that is the
/// whole batch: the fused kernels form the products themselves, so a reduced loss takes the core).
struct lifted_objective {
  static constexpr const char* name = "lifted_residual_loss";
  lifted_options options;
  lifted_sums_reducer reduce{};  // data-parallel global statistics (distributed/lifted_statistics.hpp)

  template <class Scalar>
  objective_result<torch_backend<Scalar>> operator()(const torch::Tensor& modes,
                                                     const score_batch<torch_backend<Scalar>>& batch) const {
    if (!reduce)
      if (auto fused = try_fused_lifted<Scalar>(modes, batch, options)) return std::move(*fused);
    return scorelift::lifted_residual_loss(batch, options, reduce);
  }
};

/// The core's residual ISM / SSM-VR / DSM (sign-free: signs are validated and ignored).
struct residual_score_matching_objective {
  static constexpr const char* name = "residual_score_matching_loss";

  template <class Scalar>
  objective_result<torch_backend<Scalar>> operator()(const torch::Tensor& /*modes*/,
                                                     const score_batch<torch_backend<Scalar>>& batch) const {
    return scorelift::residual_score_matching_loss(batch);
  }
};

/// Non-tensor arguments of the Function: autograd passes them through untouched.
template <class Objective>
struct call_constants {
  Objective objective;
  prepared_inputs inputs;  // `source` is also passed as a tensor argument so autograd sees it
};

/// torch::stack of L tensors — without the copy when they already are the consecutive slices of one
/// contiguous [L, ...] buffer (the fused path's gradients): then a view of that buffer.
inline torch::Tensor stack_slices(const std::vector<torch::Tensor>& slices) {
  const auto& first = slices.front();
  bool consecutive = first.is_contiguous();
  for (std::size_t l = 1; consecutive && l < slices.size(); ++l)
    consecutive = slices[l].is_contiguous() && slices[l].sizes() == first.sizes() &&
                  slices[l].is_alias_of(first) &&
                  slices[l].storage_offset() == first.storage_offset() + static_cast<int64_t>(l) * first.numel();
  if (!consecutive) return torch::stack(slices);
  std::vector<int64_t> sizes{static_cast<int64_t>(slices.size())}, strides{first.numel()};
  sizes.insert(sizes.end(), first.sizes().begin(), first.sizes().end());
  strides.insert(strides.end(), first.strides().begin(), first.strides().end());
  return first.as_strided(sizes, strides);
}

/// grad_output · saved gradient, into a pooled buffer on the CPU (a fresh multi-MB result every backward
/// page-faults through all of it: torch/buffer_pool.hpp). Autograd never accumulates into it in place: the
/// pool's handle is a second reference. (out= ops record no graph: a create_graph backward multiplies.)
inline torch::Tensor scaled_gradient(const torch::Tensor& grad_output, const torch::Tensor& saved) {
  if (!saved.is_cpu() || torch::GradMode::is_enabled()) return grad_output * saved;
  auto out = workspace().get(saved.sizes(), saved.options());
  return at::mul_out(out, saved, grad_output);
}

/// One evaluation of an objective on detached tensors: its value, per-level statistics and the closed-form
/// gradients with respect to the modes [L, B, D] and the source (target [B, D] or divergence [L, B]).
/// The autograd Function below saves the gradients for its backward; the graph-free training steps
/// (torch/tangent_objectives.hpp) seed the networks' reverse passes with them.
struct evaluated_objective {
  double value = 0;
  torch::Tensor grad_modes, grad_source;
  std::vector<double> level_values, residual_alignment;
};

template <class Objective>
evaluated_objective evaluate_objective(const Objective& objective, const torch::Tensor& modes,
                                       const prepared_inputs& inputs) {
  const auto run = [&]<class Scalar>() {
    const auto batch = make_batch<Scalar>(modes, inputs);
    auto result = objective.template operator()<Scalar>(modes, batch);
    return evaluated_objective{result.value, stack_slices(result.grad_modes),
                               inputs.has_target ? *result.grad_target : stack_slices(result.grad_divergence),
                               std::move(result.level_values), std::move(result.residual_alignment)};
  };
  return modes.scalar_type() == torch::kFloat64 ? run.template operator()<double>() : run.template operator()<float>();
}

template <class Objective>
struct objective_function : torch::autograd::Function<objective_function<Objective>> {
  /// Returns {loss (0-dim), statistics [3, L] (value; level values; residual alignments), the latter
  /// non-differentiable}.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& modes,
                                                const torch::Tensor& source, const call_constants<Objective>& call) {
    prepared_inputs inputs = call.inputs;
    inputs.source = source;
    const auto evaluated = evaluate_objective(call.objective, modes, inputs);
    ctx->saved_data["grad_modes"] = evaluated.grad_modes;
    ctx->saved_data["grad_source"] = evaluated.grad_source;
    // The per-level statistics as a [3, L] double tensor (row 0 holds the value, repeated).
    const auto levels = static_cast<int64_t>(evaluated.level_values.size());
    auto statistics = torch::empty({3, levels}, torch::kFloat64);
    auto table = statistics.accessor<double, 2>();
    for (int64_t l = 0; l < levels; ++l) {
      table[0][l] = evaluated.value;
      table[1][l] = evaluated.level_values[static_cast<std::size_t>(l)];
      table[2][l] = evaluated.residual_alignment[static_cast<std::size_t>(l)];
    }
    const auto loss = torch::scalar_tensor(evaluated.value, modes.options());
    ctx->mark_non_differentiable({statistics});
    return {loss, statistics};
  }

  /// d loss / d input = grad_output · (closed-form gradient saved by forward).
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto& g = grad_outputs[0];
    return {scaled_gradient(g, ctx->saved_data["grad_modes"].toTensor()),
            scaled_gradient(g, ctx->saved_data["grad_source"].toTensor()), torch::Tensor()};
  }
};

/// Validates, runs the Function and unpacks its statistics.
template <class Objective>
objective_output apply_objective(const torch::Tensor& modes, const objective_inputs& in, const Objective& objective) {
  const prepared_inputs inputs = prepare_inputs(modes, in, Objective::name);
  const torch::autograd::variable_list outputs =
      objective_function<Objective>::apply(modes, inputs.source, call_constants<Objective>{objective, inputs});
  const torch::Tensor statistics = outputs[1];
  objective_output out{outputs[0], {}, {}};
  for (int64_t l = 0; l < statistics.size(1); ++l) {
    out.level_values.push_back(statistics[1][l].item<double>());
    out.residual_alignment.push_back(statistics[2][l].item<double>());
  }
  return out;
}

/// Plain SSM's value and closed-form gradients ∂J/∂h, ∂J/∂p (both [M, B]) for per-probe Hutchinson terms
/// h [M, B] and projections p = vᵀf [M, B], detached: the core's sliced_score_matching_loss.
struct evaluated_sliced {
  double value = 0;
  torch::Tensor grad_hutchinson, grad_projections;
};

inline evaluated_sliced evaluate_sliced(const torch::Tensor& hutchinson, const torch::Tensor& projections) {
  const auto run = [&]<class Scalar>() {
    using B = torch_backend<Scalar>;
    std::vector<torch::Tensor> h, p;
    for (int64_t m = 0; m < hutchinson.size(0); ++m) {
      h.push_back(hutchinson.select(0, m));
      p.push_back(projections.select(0, m));
    }
    const auto result = scorelift::sliced_score_matching_loss<B>(h, p);
    return evaluated_sliced{result.value, torch::full_like(hutchinson, result.grad_hutchinson),
                            torch::stack(result.grad_projections)};
  };
  return hutchinson.scalar_type() == torch::kFloat64 ? run.template operator()<double>()
                                                     : run.template operator()<float>();
}

/// Plain SSM from per-probe Hutchinson terms h [M, B] and projections p = vᵀf [M, B].
struct sliced_function : torch::autograd::Function<sliced_function> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hutchinson,
                               const torch::Tensor& projections) {
    const auto evaluated = evaluate_sliced(hutchinson, projections);
    ctx->saved_data["grad_hutchinson"] = evaluated.grad_hutchinson;
    ctx->saved_data["grad_projections"] = evaluated.grad_projections;
    return torch::scalar_tensor(evaluated.value, hutchinson.options());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto& g = grad_outputs[0];
    return {g * ctx->saved_data["grad_hutchinson"].toTensor(), g * ctx->saved_data["grad_projections"].toTensor()};
  }
};

}  // namespace detail

/// Lifted residual loss (LSE with `divergence`, LDSE with `target`) of modes [L, B, D]: mean over
/// levels of −c_A c_B + ½ G_A G_B (objectives/lifted.hpp), with the closed-form semi-gradient.
/// `reduce` (data-parallel training: distributed::global_lifted_sums) sums the half sums over the
/// processes first, so value, gradients and alignments are those of the global batch.
inline objective_output lifted_residual_loss(const torch::Tensor& modes, const objective_inputs& inputs,
                                             const lifted_options& options = {},
                                             const lifted_sums_reducer& reduce = {}) {
  return detail::apply_objective(modes, inputs, detail::lifted_objective{options, reduce});
}
/// The same with the L modes given as a list of [B, D] tensors.
inline objective_output lifted_residual_loss(const std::vector<torch::Tensor>& modes, const objective_inputs& inputs,
                                             const lifted_options& options = {},
                                             const lifted_sums_reducer& reduce = {}) {
  return lifted_residual_loss(detail::stack_modes(modes, "lifted_residual_loss"), inputs, options, reduce);
}

/// Residual ISM (exact `divergence`), SSM-VR (Hutchinson `divergence`) or DSM (`target`) of modes
/// [L, B, D] (L = 1 is the plain objective): mean over levels of ½ E w‖f_l − r_l‖² (+ const),
/// objectives/residual_score_matching.hpp.
inline objective_output residual_score_matching_loss(const torch::Tensor& modes, const objective_inputs& inputs) {
  return detail::apply_objective(modes, inputs, detail::residual_score_matching_objective{});
}

/// Per-sample residual alignments α_{l,b} = w_b ⟨r_l(x_b), f_l(x_b)⟩ (unsigned f_l; r_l built with
/// the given signs; ⟨s, f_l⟩ from the target or −divergence): [L, B], no graph. Their batch mean is
/// `objective_output::residual_alignment`; a per-noise-level sign table needs them per sample
/// (ResidualStack::update_signs(noise_levels, alignments)).
inline torch::Tensor per_sample_residual_alignment(const torch::Tensor& modes, const objective_inputs& inputs) {
  const auto prepared = detail::prepare_inputs(modes, inputs, "per_sample_residual_alignment");
  torch::NoGradGuard no_grad;
  const auto detached_modes = modes.detach();
  auto detached = prepared;
  detached.source = prepared.source.detach();
  const auto run = [&]<class Scalar>() {
    return torch::stack(scorelift::per_sample_residual_alignment(detail::make_batch<Scalar>(detached_modes, detached)));
  };
  return modes.scalar_type() == torch::kFloat64 ? run.template operator()<double>() : run.template operator()<float>();
}

/// Plain sliced score matching mean_{m,b}[h_{m,b} + ½ p_{m,b}²] from the per-probe Hutchinson terms
/// h = vᵀ∇f v and projections p = vᵀf, both [M, B] (torch/hutchinson.hpp returns them).
inline torch::Tensor sliced_score_matching_loss(const torch::Tensor& hutchinson, const torch::Tensor& projections) {
  constexpr const char* where = "sliced_score_matching_loss";
  scorelift::detail::require(
      hutchinson.defined() && hutchinson.dim() == 2 &&
          (hutchinson.scalar_type() == torch::kFloat64 || hutchinson.scalar_type() == torch::kFloat32),
      where, "argument 'hutchinson' (", scorelift::detail::tensor_description(hutchinson),
      ") must be a float32 or float64 tensor of shape [M, B]");
  scorelift::detail::require(projections.defined() && projections.sizes() == hutchinson.sizes() &&
                                 projections.scalar_type() == hutchinson.scalar_type() &&
                                 projections.device() == hutchinson.device(),
                             where, "argument 'projections' (", scorelift::detail::tensor_description(projections),
                             ") must match 'hutchinson' (", scorelift::detail::tensor_description(hutchinson), ")");
  return detail::sliced_function::apply(hutchinson, projections);
}

}  // namespace scorelift::torch_ext

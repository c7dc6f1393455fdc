// scorelift/torch/mlp_tangent.hpp — forward-mode Jacobian-vector products through torch_ext::MLP, with a
// hand-written reverse pass through both streams, as one autograd Function.
//
// For the MLP f = W_K σ(… σ(W_1 h_0 + b_1) …) + b_K with h_0 = [x, c], one forward pass carries the
// primal stream and M tangent streams (probes v_m ∈ R^D, the conditioning input c has zero tangent):
//     z_k = W_k h_{k−1} + b_k,     h_k = σ(z_k),
//     ż_k = W_k ḣ_{k−1},           ḣ_k = σ'(z_k) ż_k,        ḣ_0 = [v_m, 0],
// so f(x) = z_K and J_f(x) v_m = ż_K. The M tangents are stacked under the batch (rows [h; ḣ_1; …; ḣ_M],
// R = B(1 + M)), which makes every hidden layer one GEMM of R rows.
//
// The reverse pass takes seeds δz_K = ∂L/∂f and δż_K = ∂L/∂(Jv) and walks both streams back:
//     ∂L/∂W_k = δz_kᵀ h_{k−1} + Σ_m δż_{k,m}ᵀ ḣ_{k−1,m}     (one GEMM over the stacked rows)
//     ∂L/∂b_k = Σ_b δz_k
//     δh_{k−1} = W_kᵀ δz_k,  δḣ_{k−1} = W_kᵀ δż_k             (one GEMM)
//     δz_{k−1} = σ'(z) δh + σ''(z) Σ_m δḣ_m ż_m,   δż_{k−1,m} = σ'(z) δḣ_m.
// Wrapped as a torch::autograd::Function, a loss built on f and Jv (the Hutchinson term vᵀJv, SSM, LSE)
// trains the network with one forward and one backward of this pass: no create_graph double backward.
// With M = 0 it is the plain forward/backward of the MLP (DSM).
//
// Activations, with s = sigmoid(z):
//     SiLU      σ = z s,            σ' = s + σ (1 − s),   σ'' = s (1 − s) (2 + z (1 − 2s))
//     softplus  σ = log(1 + e^z),   σ' = s,               σ'' = s (1 − s)
// (softplus as torch::softplus: linear above z = 20, where s differs from 1 by < e^−20.)
//
// The probes are constants (drawn noise): no gradient flows to them.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/torch/cpu_products.hpp"
#include "scorelift/torch/mlp.hpp"

namespace scorelift::torch_ext {

/// The kernels of the pass (both compute the same numbers, to rounding).
enum class tangent_kernels {
  automatic,  // CPU: at::mm products (oneDNN on request: detail::product_nt) with
              // the activation's elementwise work fused into one loop per layer and direction; else portable
  portable    // at::mm and ATen elementwise ops only (what CUDA tensors always use)
};

struct mlp_tangents {
  torch::Tensor outputs;   // f(x): [B, D_out]
  torch::Tensor tangents;  // J_f(x) v_m: [M, B, D_out] (M = 0: an empty [0, B, D_out])
};

namespace detail {

/// What the reverse pass reads, per hidden layer k (stacked rows [primal; M tangents]).
struct tangent_tape {
  std::vector<torch::Tensor> pre;    // [z_k; ż_k]: [R, n_k]
  std::vector<torch::Tensor> post;   // [h_k; ḣ_k]: [R, n_k], the input of layer k + 1
  std::vector<torch::Tensor> sig;    // s_k = sigmoid(z_k): [B, n_k]
  std::vector<torch::Tensor> slope;  // σ'(z_k): [B, n_k]
};

/// The CPU loops of `tangent_kernels::automatic`: one pass per layer and direction instead of ~5 (forward)
/// and ~10 (reverse) ATen ops, each a dispatch, an allocation and a sweep over the layer. Plain arithmetic
/// on contiguous arrays, which the compiler vectorises (`__restrict__`: the arrays never overlap, and without
/// it GCC gives up on the alias checks of seven pointers); `count` = B·n, tangent block m at offset m·count.
/// Forward, SiLU: h = z s, σ' = s + h (1 − s). (softplus: h from ATen, σ' = s.)
template <class T>
void silu_forward_cpu(const T* __restrict__ z, const T* __restrict__ s, T* __restrict__ h, T* __restrict__ slope,
                      int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const T value = z[i] * s[i];
    h[i] = value;
    slope[i] = s[i] + value * (1 - s[i]);
  }
}
/// Forward, both activations: ḣ_m = σ' ż_m.
template <class T>
void tangent_forward_cpu(const T* __restrict__ slope, const T* __restrict__ zdot, T* __restrict__ hdot, int64_t count,
                         int64_t probes) {
  for (int64_t m = 0; m < probes; ++m)
    for (int64_t i = 0; i < count; ++i) hdot[m * count + i] = slope[i] * zdot[m * count + i];
}
/// Reverse: δz = σ' δh + σ'' Σ_m δḣ_m ż_m and δż_m = σ' δḣ_m, from back = [δh; δḣ_1; …] into next.
template <class T, bool silu>
void activation_backward_cpu(const T* __restrict__ z, const T* __restrict__ s, const T* __restrict__ slope,
                             const T* __restrict__ zdot, const T* __restrict__ back, T* __restrict__ next,
                             int64_t count, int64_t probes) {
  for (int64_t i = 0; i < count; ++i) next[i] = slope[i] * back[i];
  for (int64_t m = 0; m < probes; ++m) {
    const T* __restrict__ back_m = back + (m + 1) * count;
    const T* __restrict__ zdot_m = zdot + m * count;
    T* __restrict__ next_m = next + (m + 1) * count;
    for (int64_t i = 0; i < count; ++i) {
      const T curvature = silu ? s[i] * (1 - s[i]) * (2 + z[i] * (1 - 2 * s[i])) : s[i] * (1 - s[i]);
      next_m[i] = slope[i] * back_m[i];
      next[i] += curvature * back_m[i] * zdot_m[i];
    }
  }
}

/// σ''(z) from z and s = sigmoid(z) (see the table above).
inline torch::Tensor activation_curvature(activation act, const torch::Tensor& z, const torch::Tensor& s) {
  const auto one_minus_s = 1 - s;
  auto out = s * one_minus_s;  // s (1 − s)
  if (act == activation::softplus) return out;
  auto factor = z * (one_minus_s - s);  // z (1 − 2s)
  return out.mul_(factor.add_(2));      // s (1 − s) (2 + z (1 − 2s))
}

/// The forward pass: f and the M tangents J v_m, filling `tape`. `input` = [x, c] [B, D + C],
/// `probes` [M·B, D], `params` = W_1, b_1, …, W_K, b_K.
inline mlp_tangents tangent_forward(at::TensorList params, activation act, const torch::Tensor& input,
                                    const torch::Tensor& probes, int64_t probe_count, tangent_tape& tape,
                                    tangent_kernels how = tangent_kernels::automatic) {
  const int64_t batch = input.size(0), rows = batch * (1 + probe_count), dim = probes.size(1);
  const auto layers = params.size() / 2;
  torch::Tensor stacked;  // [h_{k−1}; ḣ_{k−1}] for k ≥ 2
  mlp_tangents out;
  for (std::size_t k = 0; k < layers; ++k) {
    const auto& weight = params[2 * k];
    const auto& bias = params[2 * k + 1];
    const bool last = k + 1 == layers;
    const int64_t width = weight.size(0);
    if (last) {
      // f = W h + b and Jv = W ḣ as two tensors (not views of one buffer: they are the Function's outputs).
      const auto h = k == 0 ? input : stacked.narrow(0, 0, batch);
      out.outputs = at::addmm(bias, h, weight.t());
      if (probe_count == 0) {
        out.tangents = torch::empty({0, batch, width}, input.options());
      } else {
        const auto tangent_in = k == 0 ? probes : stacked.narrow(0, batch, rows - batch);
        const auto w = k == 0 ? weight.narrow(1, 0, dim) : weight;
        out.tangents = at::mm(tangent_in, w.t()).view({probe_count, batch, width});
      }
      break;
    }
    torch::Tensor pre;
    if (k == 0) {
      // z_1 = W_1 [x, c] + b_1;  ż_1 = W_1[:, :D] v (c has no tangent). K = D + C is tiny: at::mm.
      pre = workspace().get({rows, width}, input.options());
      auto primal = pre.narrow(0, 0, batch);
      at::addmm_out(primal, bias, input, weight.t());
      if (probe_count > 0) {
        auto tangent = pre.narrow(0, batch, rows - batch);
        at::mm_out(tangent, probes, weight.narrow(1, 0, dim).t());
      }
    } else {
      pre = product_nt(stacked, weight, how == tangent_kernels::automatic);  // one GEMM for both streams,
      pre.narrow(0, 0, batch).add_(bias);                                    // the bias on the primal rows only
    }
    const auto z = pre.narrow(0, 0, batch);
    auto s = workspace().get(z.sizes(), z.options());
    at::sigmoid_out(s, z);
    auto post = workspace().get(pre.sizes(), pre.options());
    auto h = post.narrow(0, 0, batch);
    torch::Tensor slope;
    if (how == tangent_kernels::automatic && pre.device().is_cpu()) {
      // One pass for h and σ' (SiLU), one for the tangents; pre, s and post are fresh and contiguous.
      slope = act == activation::silu ? workspace().get(s.sizes(), s.options()) : s;
      if (act == activation::softplus) at::softplus_out(h, z, 1, 20);
      const int64_t count = batch * width;
      AT_DISPATCH_FLOATING_TYPES(pre.scalar_type(), "tangent_forward", [&] {
        if (act == activation::silu)
          silu_forward_cpu(z.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(),
                           slope.data_ptr<scalar_t>(), count);
        tangent_forward_cpu(slope.data_ptr<scalar_t>(), pre.data_ptr<scalar_t>() + count,
                            post.data_ptr<scalar_t>() + count, count, probe_count);
      });
    } else if (act == activation::silu) {
      at::mul_out(h, z, s);             // σ = z s
      slope = (1 - s).mul_(h).add_(s);  // σ' = s + σ (1 − s)
    } else {
      at::softplus_out(h, z, 1, 20);  // torch::softplus's defaults
      slope = s;
    }
    if (probe_count > 0 && !(how == tangent_kernels::automatic && pre.device().is_cpu())) {
      // ḣ = σ'(z) ż, σ' broadcast over the M tangent blocks.
      auto tangent = post.narrow(0, batch, rows - batch).view({probe_count, batch, width});
      at::mul_out(tangent, pre.narrow(0, batch, rows - batch).view({probe_count, batch, width}), slope);
    }
    tape.pre.push_back(pre);
    tape.post.push_back(post);
    tape.sig.push_back(s);
    tape.slope.push_back(slope);
    stacked = post;
  }
  return out;
}

/// The reverse pass: {∂L/∂input (undefined unless `input_grad`), ∂L/∂W_1, ∂L/∂b_1, …} for seeds
/// ∂L/∂f [B, D_out] and ∂L/∂(Jv) [M, B, D_out] (either may be undefined: zero).
inline std::vector<torch::Tensor> tangent_backward(at::TensorList params, activation act, const torch::Tensor& input,
                                                   const torch::Tensor& probes, int64_t probe_count,
                                                   const tangent_tape& tape, const torch::Tensor& grad_outputs,
                                                   const torch::Tensor& grad_tangents, bool input_grad,
                                                   tangent_kernels how = tangent_kernels::automatic) {
  const int64_t batch = input.size(0), rows = batch * (1 + probe_count), tangent_rows = rows - batch;
  const auto layers = params.size() / 2;
  std::vector<torch::Tensor> grads(1 + params.size());
  // δ = [δz_K; δż_K]: [R, D_out].
  const int64_t out_dim = params[2 * layers - 2].size(0);
  auto delta = workspace().get({rows, out_dim}, input.options());
  if (grad_outputs.defined()) {
    delta.narrow(0, 0, batch).copy_(grad_outputs);
  } else {
    delta.narrow(0, 0, batch).zero_();
  }
  if (probe_count > 0) {
    if (grad_tangents.defined()) {
      delta.narrow(0, batch, tangent_rows).view({probe_count, batch, out_dim}).copy_(grad_tangents);
    } else {
      delta.narrow(0, batch, tangent_rows).zero_();
    }
  }
  for (std::size_t k = layers; k-- > 0;) {
    const auto& weight = params[2 * k];
    const auto primal = delta.narrow(0, 0, batch);
    grads[2 * k + 2] = primal.sum(0);  // ∂L/∂b_k = Σ_b δz_k
    if (k == 0) {
      // ∂L/∂W_1 = δz_1ᵀ [x, c] + δż_1ᵀ [v, 0].
      auto grad_weight = at::mm(primal.t(), input);
      if (probe_count > 0)
        grad_weight.narrow(1, 0, probes.size(1)).addmm_(delta.narrow(0, batch, tangent_rows).t(), probes);
      grads[1] = grad_weight;
      if (input_grad) grads[0] = at::mm(primal, weight);  // ∂L/∂[x, c] = W_1ᵀ δz_1
      break;
    }
    // ∂L/∂W_k = [δz; δż]ᵀ [h; ḣ] and [δh; δḣ] = [δz; δż] W_k, one GEMM each.
    const auto& below = tape.post[k - 1];
    grads[2 * k + 1] = product_nt(delta.t(), below.t(), how == tangent_kernels::automatic);
    const auto back = product_nt(delta, weight.t(), how == tangent_kernels::automatic)
                          .contiguous();  // (a no-op: products are contiguous)
    const auto& slope = tape.slope[k - 1];
    const int64_t width = back.size(1);
    auto next = workspace().get(back.sizes(), back.options());
    if (how == tangent_kernels::automatic && back.device().is_cpu()) {
      const auto& pre = tape.pre[k - 1];
      const auto& s = tape.sig[k - 1];
      const int64_t count = batch * width;
      AT_DISPATCH_FLOATING_TYPES(back.scalar_type(), "tangent_backward", [&] {
        const auto run = act == activation::silu ? activation_backward_cpu<scalar_t, true>
                                                 : activation_backward_cpu<scalar_t, false>;
        run(pre.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(), slope.data_ptr<scalar_t>(),
            pre.data_ptr<scalar_t>() + count, back.data_ptr<scalar_t>(), next.data_ptr<scalar_t>(), count, probe_count);
      });
      delta = next;
      continue;
    }
    auto next_primal = next.narrow(0, 0, batch);
    at::mul_out(next_primal, back.narrow(0, 0, batch), slope);  // σ'(z) δh
    if (probe_count > 0) {
      const auto back_tangents = back.narrow(0, batch, tangent_rows).view({probe_count, batch, width});
      const auto pre_tangents = tape.pre[k - 1].narrow(0, batch, tangent_rows).view({probe_count, batch, width});
      auto next_tangents = next.narrow(0, batch, tangent_rows).view({probe_count, batch, width});
      at::mul_out(next_tangents, back_tangents, slope);  // δż_m = σ'(z) δḣ_m
      // + σ''(z) Σ_m δḣ_m ż_m
      const auto coupling =
          probe_count == 1 ? (back_tangents[0] * pre_tangents[0]) : (back_tangents * pre_tangents).sum(0);
      const auto z = tape.pre[k - 1].narrow(0, 0, batch);
      next_primal.addcmul_(coupling, activation_curvature(act, z, tape.sig[k - 1]));
    }
    delta = next;
  }
  return grads;
}

/// The autograd Function: inputs ([x, c] [B, D + C], probes [M·B, D], the parameters),
/// outputs (f [B, D_out], Jv [M, B, D_out]).
struct mlp_tangent_function : torch::autograd::Function<mlp_tangent_function> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                                                const torch::Tensor& probes, at::TensorList params, activation act,
                                                int64_t probe_count, tangent_kernels how) {
    tangent_tape tape;
    auto out = tangent_forward(params, act, input, probes, probe_count, tape, how);
    std::vector<torch::Tensor> saved{input, probes};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);  // inputs and parameters: autograd checks they are not modified in place
    std::vector<torch::Tensor> flat;
    for (std::size_t k = 0; k < tape.pre.size(); ++k)
      flat.insert(flat.end(), {tape.pre[k], tape.post[k], tape.sig[k], tape.slope[k]});
    ctx->saved_data["tape"] = flat;
    ctx->saved_data["act"] = static_cast<int64_t>(act);
    ctx->saved_data["probes"] = probe_count;
    ctx->saved_data["products"] = static_cast<int64_t>(how);
    return {out.outputs, out.tangents};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto flat = ctx->saved_data["tape"].toTensorVector();
    tangent_tape tape;
    for (std::size_t k = 0; k < flat.size(); k += 4) {
      tape.pre.push_back(flat[k]);
      tape.post.push_back(flat[k + 1]);
      tape.sig.push_back(flat[k + 2]);
      tape.slope.push_back(flat[k + 3]);
    }
    const at::TensorList params(saved.data() + 2, saved.size() - 2);
    auto grads =
        tangent_backward(params, static_cast<activation>(ctx->saved_data["act"].toInt()), saved[0], saved[1],
                         ctx->saved_data["probes"].toInt(), tape, grad_outputs[0], grad_outputs[1],
                         ctx->needs_input_grad(0), static_cast<tangent_kernels>(ctx->saved_data["products"].toInt()));
    // One gradient per input: [x, c], probes (constant), each parameter, act, probe_count and how.
    torch::autograd::variable_list out{grads[0], torch::Tensor()};
    out.insert(out.end(), grads.begin() + 1, grads.end());
    out.insert(out.end(), {torch::Tensor(), torch::Tensor(), torch::Tensor()});
    return out;
  }
};

/// The network's input [x, c] after the checks every entry point shares: x [B, D_in] on the parameters'
/// dtype and device (named `x_name` in messages), c [B, C] or [B] exactly when condition_dim = C > 0.
inline torch::Tensor network_input(MLP& network, const torch::Tensor& x, const torch::Tensor& c, const char* where,
                                   const char* x_name = "x") {
  using scorelift::detail::require;
  using scorelift::detail::tensor_shape_string;
  const auto& options = network->options();
  require(x.defined() && x.dim() == 2 && x.size(0) >= 1 && x.size(1) == options.input_dim, where, "argument '",
          x_name, "' has shape ", tensor_shape_string(x), " but [B, ", options.input_dim, "] was expected");
  const auto first = network->parameters().front();  // by value: parameters() returns a temporary vector
  require(x.scalar_type() == first.scalar_type() && x.device() == first.device(), where, "argument '", x_name,
          "' (", scorelift::detail::tensor_description(x), ") must have the dtype and device of the network's parameters (",
          scorelift::detail::tensor_description(first), ")");
  const int64_t batch = x.size(0);
  if (options.condition_dim == 0) {
    require(!c.defined(), where, "argument 'c' has shape ", tensor_shape_string(c),
            " but this network has no conditioning input (condition_dim = 0)");
    return x.contiguous();
  }
  require(c.defined(), where, "this network has condition_dim = ", options.condition_dim, ": pass c of shape [B, ",
          options.condition_dim, "]");
  const auto condition = c.dim() == 1 ? c.unsqueeze(1) : c;
  require(condition.dim() == 2 && condition.size(0) == batch && condition.size(1) == options.condition_dim, where,
          "argument 'c' has shape ", tensor_shape_string(c), " but ", x_name, " has shape ", tensor_shape_string(x),
          " and condition_dim = ", options.condition_dim);
  return torch::cat({x, condition.to(x.dtype())}, 1);
}

}  // namespace detail

/// f(x) and J_f(x) v_m for every probe, differentiable in the network's parameters (and in x and c)
/// through the hand-written reverse pass. `probes`: [M, B, D], [B, D] (M = 1) or undefined (M = 0:
/// the plain forward, e.g. for DSM). `c`: the conditioning input, as for MLP::forward. `how`: the
/// engine of the hidden-layer products (results agree to float rounding).
inline mlp_tangents mlp_jvp(MLP& network, const torch::Tensor& x, const torch::Tensor& probes,
                            const torch::Tensor& c = {}, tangent_kernels how = tangent_kernels::automatic) {
  constexpr const char* where = "mlp_jvp";
  using scorelift::detail::require;
  using scorelift::detail::tensor_shape_string;
  const auto input = detail::network_input(network, x, c, where);
  const int64_t batch = x.size(0), dim = x.size(1);
  auto flat_probes = torch::empty({0, dim}, x.options());  // M = 0 (an empty tensor: autograd needs a defined one)
  int64_t probe_count = 0;
  if (probes.defined()) {
    require((probes.dim() == 3 && probes.size(1) == batch && probes.size(2) == dim) ||
                (probes.dim() == 2 && probes.size(0) == batch && probes.size(1) == dim),
            where, "argument 'probes' has shape ", tensor_shape_string(probes), " but x has shape ",
            tensor_shape_string(x), " so [M, ", batch, ", ", dim, "] or [", batch, ", ", dim, "] was expected");
    require(probes.scalar_type() == x.scalar_type() && probes.device() == x.device(), where, "argument 'probes' (",
            scorelift::detail::tensor_description(probes), ") must have the dtype and device of 'x' (",
            scorelift::detail::tensor_description(x), ")");
    require(!probes.requires_grad(), where,
            "argument 'probes' requires grad, but the probes are treated as constants (no gradient flows to them)");
    probe_count = probes.dim() == 3 ? probes.size(0) : 1;
    flat_probes = probes.reshape({probe_count * batch, dim}).contiguous();
  }
  const auto params = network->parameters();
  const auto outputs = detail::mlp_tangent_function::apply(input, flat_probes, at::TensorList(params), network->options().act,
                                                           probe_count, how);
  return {outputs[0], outputs[1]};
}

}  // namespace scorelift::torch_ext

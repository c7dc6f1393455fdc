// benchmarks/training_step/training_step.hpp — one training step of an MLP score model on 2-D data,
// written the way a scorelift user writes it: a residual stack of MLPs with its sign state
// (torch/residual_stack.hpp), the objectives as autograd Functions (torch/objective_functions.hpp), and
// Adam. Two engines compute the same step:
//   tangent   (default) Hutchinson divergences by forward mode through the MLPs, trained by their
//             hand-written reverse pass seeded with the objective's closed-form gradients, no autograd
//             graph (torch/tangent_objectives.hpp; DSM: torch/denoising_step.hpp), and Adam over one
//             flat buffer (torch/flat_adam.hpp);
//   autograd  divergences by create_graph double backward (torch/hutchinson.hpp), LibTorch's
//             autograd for every gradient, torch::optim::Adam.
// It is the C++ twin of `TrainingStep` in benchmarks/python_reference/reference.py; both are timed by
// the side-by-side benchmark and compared value for value by python_agreement (both engines).
#pragma once

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// mlp.hpp first: it names scorelift::detail as `detail::`, which the other torch headers'
// scorelift::torch_ext::detail would shadow if included before it.
#include "scorelift/torch/mlp.hpp"
#include "scorelift/torch/denoising_step.hpp"
#include "scorelift/torch/flat_adam.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/mlp_tangent.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "scorelift/torch/tangent_divergence.hpp"
#include "scorelift/torch/tangent_objectives.hpp"

namespace scorelift::benchmarks {

enum class objective_kind { ssm, dsm, lifted };

/// How the step computes divergences and gradients (see the top of the file).
enum class step_engine { tangent, autograd };

inline std::string engine_name(step_engine engine) { return engine == step_engine::tangent ? "tangent" : "autograd"; }

inline std::string objective_name(objective_kind kind) {
  switch (kind) {
    case objective_kind::ssm: return "ssm";
    case objective_kind::dsm: return "dsm";
    case objective_kind::lifted: return "lse";
  }
  return "?";
}

/// The benchmarked cases, in the order of TRAINING_CASES in bench.py.
struct step_case {
  const char* name;
  objective_kind objective;
  int64_t levels;
};
inline const std::array<step_case, 4> step_cases = {{{"ssm", objective_kind::ssm, 1},
                                                     {"dsm", objective_kind::dsm, 1},
                                                     {"lse", objective_kind::lifted, 1},
                                                     {"residual_lse_L2", objective_kind::lifted, 2}}};

struct step_options {
  objective_kind objective = objective_kind::lifted;
  int64_t levels = 1;
  int64_t dim = 2;
  int64_t hidden = 128;
  int64_t depth = 3;
  int64_t probes = 1;     // M Rademacher probes per sample (SSM, LSE)
  double sigma = 0.1;     // DSM noise level
  double lr = 1e-3;
  double beta = 0.5;      // sign tracker decay
  uint64_t seed = 0;
  torch::Dtype dtype = torch::kFloat32;
  step_engine engine = step_engine::tangent;
};

/// What one evaluation of the objective produced.
struct step_evaluation {
  torch::Tensor loss;
  torch::Tensor divergence;                // [L, B] (SSM, LSE), undefined for DSM
  std::vector<double> residual_alignment;  // lifted only
};

/// The score model (a residual stack of L MLPs with its sign state; L = 1 for SSM and DSM), its
/// Adam optimiser and the generator of the probes and noise.
class training_step {
 public:
  explicit training_step(const step_options& options)
      : options_(options), stack_(stack_options(options)), generator_(at::detail::createCPUGenerator(options.seed + 1)) {
    // The networks only: the sign buffer stays float64 (the tracker's state).
    for (index_t l = 0; l < options.levels; ++l) stack_->network(l)->to(options.dtype);
    if (tangent()) {
      flat_optimizer_ = std::make_unique<torch_ext::flat_adam>(stack_->parameters(),
                                                               torch_ext::flat_adam_options{.lr = options.lr});
    } else {
      optimizer_ = std::make_unique<torch::optim::Adam>(stack_->parameters(), torch::optim::AdamOptions(options.lr));
    }
  }

  /// The DSM noise ε [B, D] (drawn here), or undefined: the probes are drawn inside
  /// hutchinson_divergence from the same generator.
  torch::Tensor draw(const torch::Tensor& x) {
    if (options_.objective != objective_kind::dsm) return {};
    return torch::randn(x.sizes(), generator_, torch::TensorOptions().dtype(x.scalar_type()));
  }

  /// The objective on batch x (with the DSM noise from draw), differentiable in the parameters.
  step_evaluation evaluate(const torch::Tensor& x, const torch::Tensor& noise) {
    step_evaluation out;
    torch_ext::objective_inputs in;
    if (options_.objective == objective_kind::dsm) {
      const auto [noisy, target] = denoising_pair(x, noise);
      in.target = target;
      auto network = stack_->network(0);  // DSM trains one level
      const auto modes = tangent() ? torch_ext::mlp_jvp(network, noisy, {}).outputs.unsqueeze(0) : stack_(noisy);
      out.loss = torch_ext::residual_score_matching_loss(modes, in).loss;
      return out;
    }
    // All L levels' modes and divergences: forward mode, or one forward and one double-backward pass.
    const auto probes = probe_options();
    const auto sliced = tangent() ? torch_ext::tangent_hutchinson_divergence(stack_, x, probes, generator_)
                                  : torch_ext::hutchinson_divergence(stack_, x, probes, generator_, options_.levels);
    out.divergence = sliced.divergence;
    if (options_.objective == objective_kind::ssm) {
      out.loss = torch_ext::sliced_score_matching_loss(sliced.hutchinson.select(1, 0), sliced.projections.select(1, 0));
      return out;
    }
    in.divergence = sliced.divergence;
    in.signs = stack_->signs(x);
    auto lifted = torch_ext::lifted_residual_loss(sliced.outputs, in);
    out.loss = lifted.loss;
    out.residual_alignment = std::move(lifted.residual_alignment);
    return out;
  }

  /// The objective on batch x with its gradient accumulated into the parameters' .grad (zero_grad
  /// first). The tangent engine records no autograd graph: closed-form seeds for the MLPs' hand-written
  /// reverse passes (torch/denoising_step.hpp, torch/tangent_objectives.hpp); the autograd engine is
  /// evaluate() + backward().
  step_evaluation backward(const torch::Tensor& x, const torch::Tensor& noise) {
    if (!tangent()) {
      auto evaluated = evaluate(x, noise);
      evaluated.loss.backward();
      return evaluated;
    }
    step_evaluation out;
    switch (options_.objective) {
      case objective_kind::dsm: {
        auto network = stack_->network(0);
        const auto [noisy, target] = denoising_pair(x, noise);
        out.loss = torch_ext::denoising_score_matching_backward(network, noisy, target);
        break;
      }
      case objective_kind::ssm: {
        auto sliced = torch_ext::sliced_score_matching_backward(stack_, x, probe_options(), generator_);
        out.loss = sliced.loss;
        out.divergence = sliced.terms.divergence;
        break;
      }
      case objective_kind::lifted: {
        auto lifted = torch_ext::lifted_residual_backward(stack_, x, probe_options(), generator_);
        out.loss = lifted.loss;
        out.divergence = lifted.terms.divergence;
        out.residual_alignment = std::move(lifted.residual_alignment);
        break;
      }
    }
    return out;
  }

  void zero_grad() {
    if (tangent()) {
      flat_optimizer_->zero_grad();
    } else {
      optimizer_->zero_grad();
    }
  }

  /// Forward, loss, backward, Adam step and the sign update (no host sync on the loss, like the
  /// Python twin).
  void operator()(const torch::Tensor& x) {
    zero_grad();
    const auto evaluated = backward(x, draw(x));
    if (tangent()) {
      flat_optimizer_->step();
    } else {
      optimizer_->step();
    }
    if (!evaluated.residual_alignment.empty()) stack_->update_signs(evaluated.residual_alignment);
  }

  torch_ext::ResidualStack& stack() { return stack_; }
  at::Generator& generator() { return generator_; }
  const step_options& options() const { return options_; }

 private:
  bool tangent() const { return options_.engine == step_engine::tangent; }

  torch_ext::hutchinson_options probe_options() const {
    torch_ext::hutchinson_options probes;
    probes.probes = options_.probes;
    return probes;
  }

  /// DSM's noisy input x̃ = x + σε and its Tweedie target t = s(x̃ | x) = −ε/σ.
  std::pair<torch::Tensor, torch::Tensor> denoising_pair(const torch::Tensor& x, const torch::Tensor& noise) const {
    return {x + options_.sigma * noise, noise / (-options_.sigma)};
  }

  static torch_ext::residual_stack_options stack_options(const step_options& options) {
    torch_ext::residual_stack_options out;
    out.network.input_dim = out.network.output_dim = options.dim;
    out.network.hidden = options.hidden;
    out.network.depth = options.depth;
    out.levels = options.levels;
    out.beta = options.beta;
    torch::manual_seed(options.seed);  // the initial weights
    return out;
  }

  step_options options_;
  torch_ext::ResidualStack stack_;
  at::Generator generator_;
  std::unique_ptr<torch::optim::Adam> optimizer_;             // autograd engine
  std::unique_ptr<torch_ext::flat_adam> flat_optimizer_;       // tangent engine
};

}  // namespace scorelift::benchmarks

// examples/known_score_suite/training.hpp — one training run of the suite: a method (ISM, SSM,
// SSM-VR, DSM at σ, LSE / residual LSE with L levels) trains a residual stack of the same MLP on
// samples of a target, and is judged by the Fisher divergence E‖ŝ − s‖² on held-out samples.
//
// Data-parallel when launched with N processes (scripts/launch.sh, torchrun): every rank draws the
// same global batch of indices and trains on its shard, with its own noise and probe stream; the
// gradients are all-reduced (distributed/data_parallel.hpp) and the lifted objectives use global or
// local statistics (distributed/lifted_statistics.hpp). Alone, it is the single-process run, draw
// for draw.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "report.hpp"
#include "scorelift/distributed/data_parallel.hpp"
#include "scorelift/distributed/lifted_statistics.hpp"
#include "scorelift/distributed/sign_synchronisation.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "scorelift/torch/targets/target.hpp"

namespace suite {

namespace te = scorelift::torch_ext;
namespace sd = scorelift::distributed;
using scorelift::index_t;

/// A target behind one interface (the suite holds targets of different types in one list).
struct any_target {
  std::string name;
  index_t dim = 0;
  std::function<torch::Tensor(index_t, at::Generator&, torch::TensorOptions)> sample;
  std::function<torch::Tensor(const torch::Tensor&)> score;
};

template <te::KnownScoreTarget T>
any_target erase(T target) {
  auto shared = std::make_shared<T>(std::move(target));
  return {
      shared->name(), shared->dim(),
      [shared](index_t n, at::Generator& gen, torch::TensorOptions options) { return shared->sample(n, gen, options); },
      [shared](const torch::Tensor& x) { return shared->score(x); }};
}

enum class objective { ism, ssm, ssm_vr, dsm, lifted };

struct method {
  std::string name;
  objective kind = objective::ism;
  double sigma = 0.0;  // DSM noise level
  index_t levels = 1;  // L (residual LSE)
};

struct run_config {
  index_t steps = 300;
  index_t batch = 128;
  index_t train_size = 20000;
  index_t test_size = 4000;
  index_t hidden = 64;
  index_t depth = 2;
  index_t probes = 1;
  index_t log_every = 10;
  double learning_rate = 5e-3;
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  sd::lifted_statistics statistics = sd::lifted_statistics::global;  // data-parallel lifted losses
};

struct run_result {
  double fisher = 0.0;               // E‖ŝ − s‖² on the held-out samples
  double fisher_error = 0.0;         // its standard error
  double relative = 0.0;             // E‖ŝ − s‖² / E‖s‖²
  double ms_per_step = 0.0;          // wall time of the training steps only
  double allreduce_ms_per_step = 0.0;  // of which the gradient all-reduce (data-parallel runs)
  std::vector<double> losses;        // the objective every log_every steps
  std::vector<double> fisher_curve;  // held-out Fisher divergence (first 1000 test points) at the same steps
  torch::Tensor model_score;         // ŝ on the evaluation points passed in (for the plots), on the CPU
};

/// The objective of `m` on a minibatch x (this rank's shard of one optimiser step's batch); updates
/// the signs of lifted stacks (kept equal on every rank).
inline torch::Tensor training_loss(const method& m, te::ResidualStack& stack, const torch::Tensor& x, index_t probes,
                                   at::Generator& gen, const sd::process_group& group, sd::lifted_statistics statistics) {
  const te::hutchinson_options sliced{
      .kind = scorelift::probe_kind::rademacher, .probes = probes, .create_graph = true};
  switch (m.kind) {
    case objective::ism: {  // E[tr ∇f + ½‖f‖²], exact trace by D backward passes
      const auto d = te::exact_divergence(stack, x, true, 1);
      return te::residual_score_matching_loss(d.outputs, {.divergence = d.divergence}).loss;
    }
    case objective::ssm_vr: {  // the trace sliced, ½‖f‖² exact
      const auto d = te::hutchinson_divergence(stack, x, sliced, gen, 1);
      return te::residual_score_matching_loss(d.outputs, {.divergence = d.divergence}).loss;
    }
    case objective::ssm: {  // both terms sliced: mean[vᵀ∇f v + ½(vᵀf)²]
      const auto d = te::hutchinson_divergence(stack, x, sliced, gen, 1);
      return te::sliced_score_matching_loss(d.hutchinson.select(1, 0), d.projections.select(1, 0));
    }
    case objective::dsm: {  // ½ E‖f(x + σε) + ε/σ‖²: learns the score of the noisy data
      const auto epsilon = torch::randn(x.sizes(), gen, torch::TensorOptions().dtype(x.dtype())).to(x.device());
      const auto modes = stack->forward(x + m.sigma * epsilon);
      return te::residual_score_matching_loss(modes, {.target = -epsilon / m.sigma}).loss;
    }
    case objective::lifted: {  // −c_A c_B + ½ G_A G_B per level, ⟨s, f_l⟩ = −tr ∇f_l sliced
      const auto d = te::hutchinson_divergence(stack, x, sliced, gen, m.levels);
      const auto out = te::lifted_residual_loss(d.outputs, {.divergence = d.divergence, .signs = stack->signs(x)}, {},
                                                sd::lifted_sums_for(statistics, group));
      if (statistics == sd::lifted_statistics::global) {
        stack->update_signs(out.residual_alignment);  // already the global batch's alignments
      } else {
        sd::update_signs(group, stack, out.residual_alignment, x.size(0));
      }
      return out.loss;
    }
  }
  throw std::logic_error("training_loss: unknown objective");
}

/// ŝ = Σ κ_l f_l on x, without a graph.
inline torch::Tensor estimate(te::ResidualStack& stack, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return stack->score(x);
}

/// Trains a fresh stack with `m` on `train`, evaluates on `test` (score `truth`), and returns ŝ on `plot_points`.
inline run_result train_and_evaluate(const method& m, const any_target& target, const run_config& config,
                                     const torch::Tensor& train, const torch::Tensor& test, const torch::Tensor& truth,
                                     const torch::Tensor& plot_points, std::uint64_t seed, const std::string& label,
                                     const sd::process_group& group) {
  torch::manual_seed(seed);
  te::ResidualStack stack(te::residual_stack_options{
      .network = {.input_dim = target.dim, .output_dim = target.dim, .hidden = config.hidden, .depth = config.depth},
      .levels = m.levels});
  stack->to(config.device, config.dtype);
  const auto reduction = m.kind == objective::lifted ? sd::gradient_reduction_for(config.statistics)
                                                     : sd::gradient_reduction::mean;
  auto replicas = sd::data_parallel::of(group, *stack, {.reduction = reduction});
  replicas.broadcast_from_main();
  torch::optim::Adam optimiser(stack->parameters(), torch::optim::AdamOptions(config.learning_rate));
  // The batch indices come from one stream shared by every rank; noise and probes from the rank's own
  // (alone: the same stream, as a single-process run always drew them).
  auto gen = scorelift::torch_backend<double>::make_generator(seed * 7919 + 17);
  auto noise_gen = group.is_distributed()
                       ? scorelift::torch_backend<double>::make_generator(sd::rank_seed(seed * 7919 + 17, group.rank()))
                       : gen;
  const auto shard = sd::shard_of(config.batch, group.rank(), group.world_size());
  const index_t n_curve = std::min<index_t>(1000, test.size(0));

  run_result result;
  scorelift::examples::progress progress(label, config.steps, group.is_main());
  double training_seconds = 0.0;
  for (index_t step = 1; step <= config.steps; ++step) {
    const auto index = torch::randint(0, train.size(0), {config.batch}, gen, torch::TensorOptions().dtype(torch::kLong))
                           .narrow(0, shard.begin, shard.size());
    const auto x = train.index_select(0, index.to(train.device()));
    const auto start = std::chrono::steady_clock::now();
    optimiser.zero_grad();
    const auto loss = training_loss(m, stack, x, config.probes, noise_gen, group, config.statistics);
    loss.backward();
    replicas.synchronise_gradients();
    optimiser.step();
    const double value = loss.item<double>();  // also synchronises a CUDA stream before timing stops
    training_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step % config.log_every == 0 || step == config.steps) {
      result.losses.push_back(value);
      result.fisher_curve.push_back(
          te::fisher_divergence(estimate(stack, test.narrow(0, 0, n_curve)), truth.narrow(0, 0, n_curve)).mean);
      progress.update(static_cast<long>(step), "loss " + scorelift::examples::format_number(value, 4) + "  fisher " +
                                                   scorelift::examples::format_number(result.fisher_curve.back(), 3));
    }
  }
  const auto fisher = te::fisher_divergence(estimate(stack, test), truth);
  result.fisher = fisher.mean;
  result.fisher_error = fisher.standard_error;
  result.relative = fisher.mean / truth.to(torch::kFloat64).pow(2).sum(1).mean().item<double>();
  result.ms_per_step = 1e3 * training_seconds / static_cast<double>(config.steps);
  result.allreduce_ms_per_step = 1e3 * replicas.seconds_per_synchronisation();
  if (plot_points.defined()) result.model_score = estimate(stack, plot_points).to(torch::kCPU, torch::kFloat64);
  return result;
}

}  // namespace suite

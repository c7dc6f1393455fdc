// lifted_gradient_variance — how noisy the two data-parallel lifted estimators are. At fixed
// parameters of a residual stack (L levels) on a known target, the LDSE gradient of a global batch of
// B samples split over R shards is drawn --draws times, once with global statistics (the half sums of
// all shards summed first: the one-process estimator; gradients summed) and once with local ones
// (each shard's own product of halves; gradients averaged). Both are unbiased for the same population
// gradient; the figure is E‖g − E g‖² (the trace of the covariance) of each, and their ratio.
//
// No processes are needed to measure an estimator: the R shards are evaluated in one process, and the
// global statistics are summed by the same lifted_sums_reducer hook c10d's all-reduce fills in a real
// run (tests/distributed checks the two agree to 1e-12).
//   lifted_gradient_variance --shards 2,4,8 --batch 64 --draws 400 --out variance.json
#include <CLI/CLI.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <vector>

#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "scorelift/torch/targets/gaussian_mixture.hpp"

namespace te = scorelift::torch_ext;

namespace {

torch::Tensor flat_gradient(te::ResidualStack& stack) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : stack->parameters()) parts.push_back(p.grad().reshape(-1).clone());
  return torch::cat(parts);
}

/// The LDSE loss of shard `rows` of one draw (x̃ = x + σε, target −ε/σ), backward taken.
void shard_backward(te::ResidualStack& stack, const torch::Tensor& x, const torch::Tensor& eps, double sigma,
                    const scorelift::lifted_sums_reducer& reduce) {
  const auto out = te::lifted_residual_loss(stack->forward(x + sigma * eps), {.target = -eps / sigma, .signs = stack->signs(x)},
                                            {}, reduce);
  out.loss.backward();
}

/// E‖g − ḡ‖² over the draws (rows of `g`).
double total_variance(const torch::Tensor& g) { return (g - g.mean(0, true)).pow(2).sum(1).mean().item<double>(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Gradient variance of global vs local lifted statistics over R shards"};
  long batch = 64, draws = 400, levels = 2, hidden = 32, warm_steps = 300;
  double sigma = 0.1;
  std::string shards_flag = "2,4,8", out;
  app.add_option("--batch", batch, "global batch B")->check(CLI::Range(4, 1 << 16));
  app.add_option("--draws", draws, "gradient draws per estimator")->check(CLI::Range(10, 1000000));
  app.add_option("--levels", levels, "residual levels L")->check(CLI::Range(1, 8));
  app.add_option("--sigma", sigma, "DSM noise level")->check(CLI::Range(1e-4, 10.0));
  app.add_option("--warm-steps", warm_steps, "LDSE steps (one process) before the parameters are frozen");
  app.add_option("--shards", shards_flag, "comma-separated shard counts R");
  app.add_option("--out", out, "write the figures as JSON");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);

  // The eight-Gaussians target; parameters trained a little first so the gradient is not the
  // initialisation's (at a random start both estimators are dominated by the same large mean).
  const auto target = te::eight_gaussians();
  torch::manual_seed(3);
  te::ResidualStack stack(te::residual_stack_options{
      .network = {.input_dim = 2, .output_dim = 2, .hidden = hidden, .depth = 2}, .levels = levels});
  stack->to(torch::kFloat64);
  auto gen = scorelift::torch_backend<double>::make_generator(17);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  torch::optim::Adam optimiser(stack->parameters(), 3e-3);
  for (long s = 0; s < warm_steps; ++s) {
    optimiser.zero_grad();
    const auto x = target.sample(batch, gen, f64), eps = torch::randn({batch, 2}, gen, f64);
    const auto out_loss = te::lifted_residual_loss(stack->forward(x + sigma * eps), {.target = -eps / sigma, .signs = stack->signs(x)});
    out_loss.loss.backward();
    optimiser.step();
    stack->update_signs(out_loss.residual_alignment);
  }

  nlohmann::json report = {{"batch", batch}, {"draws", draws}, {"levels", levels}, {"sigma", sigma},
                           {"target", "eight_gaussians"}, {"results", nlohmann::json::array()}};
  std::cout << "LDSE gradient variance, global batch " << batch << ", L = " << levels << ", sigma = " << sigma << ", "
            << draws << " draws per estimator\n";
  std::stringstream shards_stream(shards_flag);
  for (std::string item; std::getline(shards_stream, item, ',');) {
    const long shards = std::stol(item);
    if (shards < 1 || batch / shards < 2) {
      std::cerr << "--shards " << shards << ": each shard needs at least 2 samples of the batch of " << batch << '\n';
      return 2;
    }
    std::vector<torch::Tensor> global_draws, local_draws;
    for (long d = 0; d < draws; ++d) {
      const auto x = target.sample(batch, gen, f64), eps = torch::randn({batch, 2}, gen, f64);
      std::vector<std::pair<long, long>> bounds;
      for (long r = 0; r < shards; ++r) bounds.emplace_back(r * batch / shards, (r + 1) * batch / shards);

      // Global: round 1 collects every shard's sums, round 2 hands each shard their total.
      std::vector<double> total;
      const scorelift::lifted_sums_reducer collect = [&](std::span<double> sums) {
        if (total.empty()) total.assign(sums.size(), 0.0);
        for (std::size_t i = 0; i < sums.size(); ++i) total[i] += sums[i];
      };
      const scorelift::lifted_sums_reducer hand_over = [&](std::span<double> sums) {
        std::copy(total.begin(), total.end(), sums.begin());
      };
      for (const auto& [begin, end] : bounds) {
        stack->zero_grad();
        shard_backward(stack, x.slice(0, begin, end), eps.slice(0, begin, end), sigma, collect);
      }
      stack->zero_grad();  // the shards' gradients accumulate: their sum is the global gradient
      for (const auto& [begin, end] : bounds)
        shard_backward(stack, x.slice(0, begin, end), eps.slice(0, begin, end), sigma, hand_over);
      global_draws.push_back(flat_gradient(stack));

      // Local: each shard's own lifted loss, gradients averaged.
      stack->zero_grad();
      for (const auto& [begin, end] : bounds)
        shard_backward(stack, x.slice(0, begin, end), eps.slice(0, begin, end), sigma, {});
      local_draws.push_back(flat_gradient(stack) / static_cast<double>(shards));
    }
    const auto g = torch::stack(global_draws), l = torch::stack(local_draws);
    const double global_variance = total_variance(g), local_variance = total_variance(l);
    // Both estimators are unbiased for the same gradient: their mean difference over the (paired) draws
    // should be within its own standard error, sqrt(E|d - Ed|^2 / draws) for d = g - l.
    const double mean_gap = (g.mean(0) - l.mean(0)).norm().item<double>();
    const double gap_error = std::sqrt(total_variance(g - l) / static_cast<double>(draws));
    std::cout << "  R = " << shards << " (" << batch / shards << " per shard): E|g - Eg|^2 global " << global_variance
              << ", local " << local_variance << ", local / global " << local_variance / global_variance
              << ", |mean difference| " << mean_gap << " (standard error " << gap_error << ")\n";
    report["results"].push_back({{"shards", shards},
                                 {"global_variance", global_variance},
                                 {"local_variance", local_variance},
                                 {"ratio", local_variance / global_variance},
                                 {"mean_difference", mean_gap},
                                 {"mean_difference_standard_error", gap_error}});
  }
  if (!out.empty()) std::ofstream(out) << report.dump(1) << '\n';
  return 0;
}

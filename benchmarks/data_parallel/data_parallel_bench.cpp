// data_parallel_bench — what data-parallel training costs and gains: steps/s of a residual LDSE
// training step (ResidualStack of MLPs, Adam) on a fixed global batch split over the processes, and
// the time of its two reductions per step: the gradient all-reduce (flat buckets) and, with global
// lifted statistics, the all-reduce of the 4 + 5L lifted half sums. Launch it like any data-parallel
// program (benchmarks/data_parallel/run.sh runs 1 and 2 processes):
//   scripts/launch.sh -n 2 build/benchmarks/data_parallel_bench --steps 300 --out dp2.json
// Rank 0 prints one line of figures and writes them as JSON. Times are per step, medians of
// --rounds rounds (each round a fresh timer over all steps after --warmup steps).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "scorelift/distributed/data_parallel.hpp"
#include "scorelift/distributed/lifted_statistics.hpp"
#include "scorelift/distributed/process_group.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"

namespace sd = scorelift::distributed;
namespace te = scorelift::torch_ext;
using clock_type = std::chrono::steady_clock;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Data-parallel LDSE training step: steps/s and all-reduce cost per step"};
  long steps = 200, warmup = 20, rounds = 3, batch = 256, hidden = 128, depth = 3, levels = 2, dim = 8, threads = 1;
  std::string statistics_flag = "global", out;
  app.add_option("--steps", steps, "timed steps per round")->check(CLI::Range(1, 1000000));
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::Range(0, 1000000));
  app.add_option("--rounds", rounds, "rounds (the medians are reported)")->check(CLI::Range(1, 100));
  app.add_option("--batch", batch, "global batch, split over the processes")->check(CLI::Range(4, 1 << 20));
  app.add_option("--hidden", hidden, "MLP width")->check(CLI::Range(1, 1 << 16));
  app.add_option("--depth", depth, "MLP hidden layers")->check(CLI::Range(1, 64));
  app.add_option("--levels", levels, "residual levels L")->check(CLI::Range(1, 16));
  app.add_option("--dim", dim, "data dimension D")->check(CLI::Range(1, 4096));
  app.add_option("--threads", threads, "LibTorch intra-op threads per process")->check(CLI::Range(1, 256));
  app.add_option("--lifted-statistics", statistics_flag, "global or local")->check(CLI::IsMember({"global", "local"}));
  app.add_option("--out", out, "write the figures as JSON here (rank 0)");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(static_cast<int>(threads));

  const auto group = sd::process_group::from_environment({.timeout = std::chrono::seconds(120)});
  const auto statistics = statistics_flag == "global" ? sd::lifted_statistics::global : sd::lifted_statistics::local;
  torch::manual_seed(1);
  te::ResidualStack stack(te::residual_stack_options{
      .network = {.input_dim = dim, .output_dim = dim, .hidden = hidden, .depth = depth}, .levels = levels});
  auto replicas = sd::data_parallel::of(group, *stack, {.reduction = sd::gradient_reduction_for(statistics)});
  replicas.broadcast_from_main();
  torch::optim::Adam optimiser(stack->parameters(), 1e-3);
  const auto shard = sd::shard_of(batch, group.rank(), group.world_size());

  // The half sums' all-reduce, timed inside the objective.
  double sums_seconds = 0.0;
  const auto global_sums = sd::lifted_sums_for(statistics, group);
  const scorelift::lifted_sums_reducer timed_sums =
      global_sums ? scorelift::lifted_sums_reducer([&](std::span<double> sums) {
        const auto start = clock_type::now();
        global_sums(sums);
        sums_seconds += seconds_since(start);
      })
                  : scorelift::lifted_sums_reducer{};

  auto gen = scorelift::torch_backend<double>::make_generator(sd::rank_seed(7, group.rank()));
  const auto step = [&] {
    const auto x = torch::randn({shard.size(), dim}, gen);
    const auto eps = torch::randn({shard.size(), dim}, gen);
    const double sigma = 0.5;
    optimiser.zero_grad();
    const auto out_loss = te::lifted_residual_loss(stack->forward(x + sigma * eps),
                                                   {.target = -eps / sigma, .signs = stack->signs(x)}, {}, timed_sums);
    out_loss.loss.backward();
    replicas.synchronise_gradients();
    optimiser.step();
    stack->update_signs(out_loss.residual_alignment);  // global statistics: the same on every rank
  };
  for (long s = 0; s < warmup; ++s) step();

  std::vector<double> step_ms, gradient_ms, sums_ms;
  for (long r = 0; r < rounds; ++r) {
    group.barrier("the round start");
    sums_seconds = 0.0;
    const double gradient_before = replicas.seconds_synchronising();
    const auto start = clock_type::now();
    for (long s = 0; s < steps; ++s) step();
    const double gradient_seconds = replicas.seconds_synchronising() - gradient_before;
    step_ms.push_back(1e3 * seconds_since(start) / static_cast<double>(steps));
    gradient_ms.push_back(1e3 * gradient_seconds / static_cast<double>(steps));
    sums_ms.push_back(1e3 * sums_seconds / static_cast<double>(steps));
  }
  if (!group.is_main()) return 0;

  std::int64_t parameters = 0;
  for (const auto& p : stack->parameters()) parameters += p.numel();
  const double ms = median(step_ms);
  std::cout << "world " << group.world_size() << " (" << group.backend_name() << "), global batch " << batch
            << ", per rank " << shard.size() << ", L = " << levels << ", " << parameters << " parameters in "
            << replicas.bucket_count() << " bucket(s): " << ms << " ms/step (" << 1e3 / ms
            << " steps/s), gradient all-reduce " << median(gradient_ms) << " ms/step, lifted sums all-reduce "
            << median(sums_ms) << " ms/step\n";
  if (!out.empty()) {
    std::ofstream(out) << nlohmann::json{{"world_size", group.world_size()},
                                         {"backend", group.backend_name()},
                                         {"global_batch", batch},
                                         {"levels", levels},
                                         {"parameters", parameters},
                                         {"threads", threads},
                                         {"lifted_statistics", statistics_flag},
                                         {"ms_per_step", ms},
                                         {"steps_per_second", 1e3 / ms},
                                         {"gradient_allreduce_ms", median(gradient_ms)},
                                         {"lifted_sums_allreduce_ms", median(sums_ms)},
                                         {"ms_per_step_rounds", step_ms}}
                                .dump(1)
                         << '\n';
  }
  return 0;
}

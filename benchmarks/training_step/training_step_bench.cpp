// benchmarks/training_step/training_step_bench.cpp — the scorelift (C++) side of the side-by-side
// comparisons with benchmarks/python_reference/bench.py (same cases, shapes, seeds, thread count
// and timing protocol; see timing.hpp):
//   training-step  (a) one training step per objective (SSM, DSM, LSE, residual LSE L = 2), with both
//                  engines of training_step.hpp: rows "<case>" (tangent: forward mode + flat Adam) and
//                  "<case>/autograd" (double backward + torch::optim::Adam)
//   lifted-loss    (b) the lifted loss forward + backward through scorelift's autograd Function
//   breakdown      cumulative prefixes of an LSE step (forward, +divergence, +loss, +backward, +Adam)
//                  with the engine of --engine
//   count-ops      ATen operators dispatched per training step (RecordFunction), per objective and engine
//   profile        a short LSE training run with the engine of --engine, for perf / callgrind
// Each writes a JSON report (--out) that benchmarks/python_reference/write_results.py turns into
// benchmarks/RESULTS.md.
#include <ATen/record_function.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "training_step.hpp"  // first: it includes torch/mlp.hpp before the other torch headers
#include "report.hpp"
#include "timing.hpp"

namespace {

using nlohmann::json;
namespace sl = scorelift::torch_ext;
namespace bench = scorelift::benchmarks;

struct settings {
  int threads = 1;
  int64_t batch = 128;
  int64_t hidden = 128;
  int64_t depth = 3;
  int64_t probes = 1;
  double sigma = 0.1;
  uint64_t seed = 0;
  std::vector<int64_t> dims = {2, 3072};
  int profile_steps = 1000;
  bench::step_engine engine = bench::step_engine::tangent;  // breakdown, profile
  std::string profile_case = "lse";                         // profile: one of bench::step_cases
  bench::timing_protocol protocol;
  std::string out;
};

/// The 2-D eight-Gaussians target: centres on the circle of radius 4/√2, std 0.5/√2, equal weights.
torch::Tensor eight_gaussians(int64_t count, at::Generator& gen) {
  const double pi = 3.14159265358979323846;
  const auto angles = torch::randint(0, 8, {count}, gen, torch::kFloat32) * (pi / 4);
  const auto centres = (4 / std::sqrt(2.0)) * torch::stack({torch::cos(angles), torch::sin(angles)}, 1);
  return centres + (0.5 / std::sqrt(2.0)) * torch::randn({count, 2}, gen, torch::kFloat32);
}

bench::step_options step_options_for(const settings& s, const bench::step_case& c, bench::step_engine engine) {
  bench::step_options options;
  options.engine = engine;
  options.objective = c.objective;
  options.levels = c.levels;
  options.hidden = s.hidden;
  options.depth = s.depth;
  options.probes = s.probes;
  options.sigma = s.sigma;
  options.seed = s.seed;
  return options;
}

/// The engines of the (a) and count-ops tables; the tangent rows keep the case's name (the Python
/// rows' names), the autograd rows get "/autograd".
const std::array<bench::step_engine, 2> engines = {bench::step_engine::tangent, bench::step_engine::autograd};
std::string row_name(const bench::step_case& c, bench::step_engine engine) {
  return engine == bench::step_engine::tangent ? c.name : std::string(c.name) + "/autograd";
}

json training_step(const settings& s) {
  json results = json::array();
  auto data_generator = at::detail::createCPUGenerator(s.seed);
  // A pool of batches drawn once, so that sampling the data is not part of the timed step.
  const auto pool = eight_gaussians(s.batch * 16, data_generator).split(s.batch);
  for (const auto engine : engines) {
    for (const auto& c : bench::step_cases) {
      bench::training_step step(step_options_for(s, c, engine));
      std::size_t counter = 0;
      const auto t = bench::time_runs([&] { step(pool[counter++ % pool.size()]); }, s.protocol);
      auto row = bench::timing_row(row_name(c, engine), t);
      row["case"] = c.name;
      row["engine"] = bench::engine_name(engine);
      row["objective"] = bench::objective_name(c.objective);
      row["levels"] = c.levels;
      results.push_back(row);
      std::cerr << "  scorelift " << row_name(c, engine) << ": " << t.median_s * 1e3 << " ms/step\n";
    }
  }
  return results;
}

json lifted_loss(const settings& s) {
  json results = json::array();
  torch::manual_seed(s.seed);
  for (const std::string form : {"divergence", "target"}) {
    for (const int64_t dim : s.dims) {
      for (int64_t levels = 1; levels <= 3; ++levels) {
        std::vector<torch::Tensor> modes;
        for (int64_t l = 0; l < levels; ++l) modes.push_back(torch::randn({s.batch, dim}).requires_grad_());
        std::vector<torch::Tensor> differentiable = modes;
        sl::objective_inputs in;
        in.signs = 1 - 2 * torch::remainder(torch::arange(levels, torch::kFloat32), 2);  // +1, −1, +1
        if (form == "target") {
          in.target = torch::randn({s.batch, dim});
        } else {
          in.divergence = torch::randn({levels, s.batch}).requires_grad_();
          differentiable.push_back(in.divergence);
        }
        const auto t = bench::time_runs(
            [&] { torch::autograd::grad({sl::lifted_residual_loss(modes, in).loss}, differentiable); }, s.protocol);
        const std::string name = form + "/D" + std::to_string(dim) + "/L" + std::to_string(levels);
        auto row = bench::timing_row(name, t);
        row["form"] = form;
        row["dim"] = dim;
        row["levels"] = levels;
        results.push_back(row);
        std::cerr << "  scorelift lifted " << name << ": " << t.median_s * 1e6 << " us\n";
      }
    }
  }
  return results;
}

/// Cumulative prefixes of one LSE (L = 1) step — the same phases as bench.py's breakdown.
json breakdown(const settings& s) {
  json results = json::array();
  auto data_generator = at::detail::createCPUGenerator(s.seed);
  const auto x0 = eight_gaussians(s.batch, data_generator);
  bench::training_step step(step_options_for(s, bench::step_cases[2], s.engine));
  auto& stack = step.stack();
  const bool tangent = s.engine == bench::step_engine::tangent;
  sl::hutchinson_options probes;
  probes.probes = s.probes;
  const std::vector<std::string> phases = {"forward", "+divergence", "+loss", "+backward", "+adam (full step)"};
  const auto prefix = [&](std::size_t count) {
    if (count == 1) {
      if (tangent) {
        auto network = stack->network(0);
        sl::mlp_jvp(network, x0, {});
      } else {
        stack(x0.unsqueeze(0).clone().requires_grad_(true));
      }
      return;
    }
    const auto sliced = tangent ? sl::tangent_hutchinson_divergence(stack, x0, probes, step.generator())
                                : sl::hutchinson_divergence(stack, x0, probes, step.generator(), 1);
    if (count == 2) return;
    sl::objective_inputs in;
    in.divergence = sliced.divergence;
    in.signs = stack->signs(x0);
    const auto loss = sl::lifted_residual_loss(sliced.outputs, in).loss;
    if (count == 3) return;
    for (auto& p : stack->parameters()) p.mutable_grad() = torch::Tensor();
    loss.backward();
  };
  for (std::size_t count = 1; count <= phases.size(); ++count) {
    const auto t = count == phases.size() ? bench::time_runs([&] { step(x0); }, s.protocol)
                                          : bench::time_runs([&] { prefix(count); }, s.protocol);
    results.push_back(bench::timing_row(phases[count - 1], t));
    std::cerr << "  scorelift breakdown " << phases[count - 1] << ": " << t.median_s * 1e3 << " ms\n";
  }
  return results;
}

/// ATen operators ("aten::…" RecordFunction events, nested calls included) per training step: the
/// work both implementations dispatch, whatever language drives it. bench.py counts the same events
/// with torch.autograd.profiler.
std::atomic<long> aten_calls{0};

json count_ops(const settings& s) {
  json results = json::array();
  auto data_generator = at::detail::createCPUGenerator(s.seed);
  const auto x = eight_gaussians(s.batch, data_generator);
  const int steps = 10;
  for (const auto engine : engines) {
  for (const auto& c : bench::step_cases) {
    bench::training_step step(step_options_for(s, c, engine));
    for (int i = 0; i < 3; ++i) step(x);  // warm-up: first-call allocations and lazy initialisation
    aten_calls = 0;
    const auto handle = at::addGlobalCallback(
        at::RecordFunctionCallback([](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
          if (std::strncmp(fn.name(), "aten::", 6) == 0) ++aten_calls;
          return nullptr;
        }).needsInputs(false));
    for (int i = 0; i < steps; ++i) step(x);
    at::removeCallback(handle);
    results.push_back({{"name", row_name(c, engine)}, {"aten_ops_per_step", static_cast<double>(aten_calls) / steps}});
    std::cerr << "  scorelift " << row_name(c, engine) << ": " << static_cast<double>(aten_calls) / steps
              << " aten ops/step\n";
  }
  }
  return results;
}

/// A short LSE run and nothing else, for the callgrind profile.
json profile(const settings& s) {
  auto data_generator = at::detail::createCPUGenerator(s.seed);
  const auto x = eight_gaussians(s.batch, data_generator);
  const auto chosen = std::ranges::find_if(bench::step_cases, [&](const auto& c) { return s.profile_case == c.name; });
  bench::training_step step(step_options_for(s, *chosen, s.engine));
  for (int i = 0; i < s.profile_steps; ++i) step(x);
  return json::array();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"scorelift side of the side-by-side comparisons with the Python reference"};
  settings s;
  std::string what;
  app.add_option("what", what, "training-step | lifted-loss | breakdown | count-ops | profile")
      ->required()
      ->check(CLI::IsMember({"training-step", "lifted-loss", "breakdown", "count-ops", "profile"}));
  app.add_option("--threads", s.threads, "intra-op threads (torch::set_num_threads)")->check(CLI::PositiveNumber);
  app.add_option("--batch", s.batch)->check(CLI::Range(2, 1 << 20));
  app.add_option("--hidden", s.hidden)->check(CLI::PositiveNumber);
  app.add_option("--depth", s.depth)->check(CLI::PositiveNumber);
  app.add_option("--probes", s.probes)->check(CLI::PositiveNumber);
  app.add_option("--sigma", s.sigma)->check(CLI::PositiveNumber);
  app.add_option("--seed", s.seed);
  app.add_option("--dims", s.dims, "D of the lifted-loss cases");
  app.add_option("--steps", s.profile_steps, "steps of the profile run")->check(CLI::PositiveNumber);
  app.add_option("--case", s.profile_case, "the case of the profile run")
      ->check(CLI::IsMember({"ssm", "dsm", "lse", "residual_lse_L2"}));
  std::string engine = "tangent";
  app.add_option("--engine", engine, "engine of breakdown and profile")
      ->check(CLI::IsMember({"tangent", "autograd"}));
  app.add_option("--warmup", s.protocol.warmup)->check(CLI::NonNegativeNumber);
  app.add_option("--repeats", s.protocol.repeats)->check(CLI::PositiveNumber);
  app.add_option("--iterations", s.protocol.iterations)->check(CLI::PositiveNumber);
  app.add_option("--out", s.out, "JSON report");
  CLI11_PARSE(app, argc, argv);

  s.engine = engine == "tangent" ? bench::step_engine::tangent : bench::step_engine::autograd;
  torch::set_num_threads(s.threads);
  json results;
  if (what == "training-step") results = training_step(s);
  if (what == "lifted-loss") results = lifted_loss(s);
  if (what == "breakdown") results = breakdown(s);
  if (what == "count-ops") results = count_ops(s);
  if (what == "profile") results = profile(s);

  const json report = {{"implementation", "scorelift"},
                       {"libtorch", TORCH_VERSION},
                       {"blas", scorelift::examples::blas_library_in_use()},
                       {"threads", torch::get_num_threads()},
                       {"batch", s.batch},
                       {"hidden", s.hidden},
                       {"depth", s.depth},
                       {"probes", s.probes},
                       {"warmup", s.protocol.warmup},
                       {"repeats", s.protocol.repeats},
                       {"iterations", s.protocol.iterations},
                       {"engine", engine},
                       {"results", results}};
  if (!s.out.empty()) std::ofstream(s.out) << report.dump(1) << '\n';
  return 0;
}

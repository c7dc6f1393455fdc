// known_score_suite — the headline demo: targets whose score is known in closed form, one MLP
// architecture, and every objective of the library trained on the same samples. The metric is the
// Fisher divergence E‖ŝ − s‖² to the *clean* score on held-out samples (so DSM with σ > 0, which
// learns the score of the noisy data, carries a bias that grows with σ: that is reported, not hidden).
//
//   known_scores                      # small default: a few minutes on 2 CPU cores
//   known_scores --full               # longer training, wider nets, funnel in D = 2, 5, 10
//   known_scores --device cuda --steps 2000 --targets eight_gaussians,banana
//   scripts/launch.sh -n 2 known_scores    # data-parallel: 2 processes share each batch (or torchrun)
//
// Prints a table per target (Fisher divergence mean ± std over seeds, relative divergence, wall time
// per step), writes <out>/results.json and PNG plots (score fields vs truth, loss and Fisher curves).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data_parallel_run.hpp"
#include "report.hpp"
#include "scorelift/torch/targets/banana.hpp"
#include "scorelift/torch/targets/correlated_gaussian.hpp"
#include "scorelift/torch/targets/funnel.hpp"
#include "scorelift/torch/targets/gaussian_mixture.hpp"
#include "training.hpp"

namespace {

using namespace suite;
namespace ex = scorelift::examples;

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<any_target> make_targets(const std::vector<std::string>& names, const std::vector<index_t>& funnel_dims) {
  std::vector<any_target> out;
  for (const auto& name : names) {
    if (name == "eight_gaussians")
      out.push_back(erase(te::eight_gaussians()));
    else if (name == "banana")
      out.push_back(erase(te::banana()));
    else if (name == "funnel")
      for (index_t d : funnel_dims) out.push_back(erase(te::funnel(d)));
    else if (name == "hypercube")
      out.push_back(erase(te::hypercube_mixture(32, 16)));
    else if (name == "correlated")
      out.push_back(erase(te::correlated_gaussian(100, 0.9)));
    else
      throw CLI::ValidationError("--targets", "unknown target '" + name + "'");
  }
  return out;
}

/// The methods of `families` (ism, ssm, ssm-vr, dsm, lse) that apply in dimension `dim`.
std::vector<method> make_methods(index_t dim, index_t max_ism_dim, const std::vector<double>& sigmas,
                                 const std::vector<std::string>& families) {
  for (const auto& family : families)
    if (family != "ism" && family != "ssm" && family != "ssm-vr" && family != "dsm" && family != "lse")
      throw CLI::ValidationError("--methods", "unknown method family '" + family + "' (ism, ssm, ssm-vr, dsm, lse)");
  const auto wanted = [&](const std::string& family) {
    return std::find(families.begin(), families.end(), family) != families.end();
  };
  std::vector<method> out;
  if (wanted("ism") && dim <= max_ism_dim) out.push_back({"ISM", objective::ism});
  if (wanted("ssm")) out.push_back({"SSM", objective::ssm});
  if (wanted("ssm-vr")) out.push_back({"SSM-VR", objective::ssm_vr});
  if (wanted("dsm"))
    for (double sigma : sigmas) out.push_back({"DSM s=" + ex::format_number(sigma, 2), objective::dsm, sigma});
  if (wanted("lse"))
    for (index_t levels : {1, 2, 3})
      out.push_back(
          {levels == 1 ? "LSE (L=1)" : "res. LSE (L=" + std::to_string(levels) + ")", objective::lifted, 0.0, levels});
  return out;
}

/// A grid over the region holding most of a 2-D target's mass (for the score-field plots).
torch::Tensor plot_grid(const torch::Tensor& samples, index_t points_per_axis) {
  const auto low = std::get<0>(samples.to(torch::kFloat64).kthvalue(std::max<int64_t>(1, samples.size(0) / 200), 0));
  const auto high = std::get<0>(samples.to(torch::kFloat64).kthvalue(samples.size(0) - samples.size(0) / 200, 0));
  const auto u = torch::linspace(0.0, 1.0, points_per_axis, torch::kFloat64);
  const auto xs = low[0] + (high[0] - low[0]) * u, ys = low[1] + (high[1] - low[1]) * u;
  const auto mesh = torch::meshgrid({xs, ys}, "xy");
  return torch::stack({mesh[0].reshape(-1), mesh[1].reshape(-1)}, 1);
}

std::vector<double> to_vector(const torch::Tensor& t) {
  const auto flat = t.to(torch::kCPU, torch::kFloat64).contiguous().reshape(-1);
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double std_of(const std::vector<double>& v) {  // sample standard deviation over seeds
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace

namespace {
int run(int argc, char** argv) {
  CLI::App app{"Known-score suite: Fisher divergence of ISM, SSM, SSM-VR, DSM, LSE and residual LSE"};
  run_config config;
  bool full = false, use_double = false, no_plot = false;
  // One intra-op thread by default: a [128, 64] layer is below LibTorch's parallel grain, so more
  // threads only add synchronisation (and oversubscribe a shared machine); --threads to change.
  int seeds = 3, threads = 1;
  long steps = -1;
  std::string targets_flag = "eight_gaussians,banana,funnel,hypercube,correlated", device_flag = "cpu",
              out_dir = "out/known_score_suite", funnel_flag, sigma_flag = "0.03,0.1,0.3",
              methods_flag = "ism,ssm,ssm-vr,dsm,lse", statistics_flag = "global";
  double timeout_seconds = 300;
  app.add_flag("--full", full, "full run: 2000 steps, 128-wide depth-3 nets, batch 256, funnel in D = 2, 5, 10");
  app.add_option("--steps", steps, "training steps per run (default 300, or 2000 with --full)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeds per method (mean ± std over them)")->check(CLI::Range(1, 100));
  app.add_option("--targets", targets_flag, "comma-separated: eight_gaussians,banana,funnel,hypercube,correlated");
  app.add_option("--funnel-dims", funnel_flag,
                 "comma-separated funnel dimensions in 2..10 (default 2; --full: 2,5,10)");
  app.add_option("--dsm-sigmas", sigma_flag, "comma-separated DSM noise levels");
  app.add_option("--methods", methods_flag,
                 "comma-separated families: ism (D <= 10), ssm, ssm-vr, dsm, lse (L = 1, 2, 3)");
  app.add_option("--device", device_flag, "cpu or cuda");
  app.add_option("--batch", config.batch, "minibatch size")->check(CLI::Range(2, 1 << 20));
  app.add_option("--lr", config.learning_rate, "Adam learning rate")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "LibTorch intra-op threads")->check(CLI::Range(1, 256));
  app.add_flag("--double", use_double, "train in float64 (default float32)");
  app.add_option("--out", out_dir, "directory for results.json and the plots");
  app.add_flag("--no-plot", no_plot, "write the JSON only (no matplotlib)");
  app.add_option("--lifted-statistics", statistics_flag,
                 "data-parallel lifted losses: global (half sums all-reduced: the one-process loss) or local "
                 "(each rank's own product of halves)")
      ->check(CLI::IsMember({"global", "local"}));
  app.add_option("--dist-timeout", timeout_seconds, "data-parallel: seconds a collective may wait for the others")
      ->check(CLI::Range(1.0, 86400.0));
  CLI11_PARSE(app, argc, argv);
  config.statistics = statistics_flag == "global" ? sd::lifted_statistics::global : sd::lifted_statistics::local;

  if (full) {
    config.steps = 2000;
    config.hidden = 128;
    config.depth = 3;
    config.batch = std::max<index_t>(config.batch, 256);
    config.log_every = 25;
    if (funnel_flag.empty()) funnel_flag = "2,5,10";
  }
  if (steps > 0) config.steps = steps;
  if (funnel_flag.empty()) funnel_flag = "2";
  config.dtype = use_double ? torch::kFloat64 : torch::kFloat32;
  if (device_flag == "cuda") {
    if (!torch::cuda::is_available()) {
      std::cerr << "--device cuda: this LibTorch has no CUDA device available\n";
      return 2;
    }
    config.device = torch::kCUDA;
  } else if (device_flag != "cpu") {
    std::cerr << "--device must be cpu or cuda\n";
    return 2;
  }
  torch::set_num_threads(threads);
  // Data-parallel when launched with WORLD_SIZE (scripts/launch.sh, torchrun); alone otherwise. Only
  // rank 0 prints and writes; every rank checks at once that the others run the same configuration.
  const auto group = sd::process_group::from_environment(
      {.timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000)), .device = config.device});
  config.device = group.device_for(config.device);  // CUDA: device LOCAL_RANK of each process
  ex::join_data_parallel_run(group, argc, argv);
  if (!group.is_main()) no_plot = true;
  if (group.is_distributed())
    std::cout << "data-parallel: " << group.world_size() << " processes (" << group.backend_name() << "), global batch "
              << config.batch << ", lifted statistics " << statistics_flag << "\n";

  // Whole entries only ("2x" is not 2), named by their flag when they are not numbers.
  const auto number = [](const std::string& text, const char* flag) {
    std::size_t used = 0;
    double value = 0.0;
    try {
      value = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) throw CLI::ValidationError(flag, "'" + text + "' is not a number");
    return value;
  };
  std::vector<index_t> funnel_dims;
  for (const auto& d : split(funnel_flag)) {
    const double dim = number(d, "--funnel-dims");
    if (dim != std::floor(dim)) throw CLI::ValidationError("--funnel-dims", "'" + d + "' is not a whole number");
    funnel_dims.push_back(static_cast<index_t>(dim));
  }
  std::vector<double> sigmas;
  for (const auto& text : split(sigma_flag)) {
    const double sigma = number(text, "--dsm-sigmas");
    if (!(std::isfinite(sigma) && sigma > 0.0))
      throw CLI::ValidationError("--dsm-sigmas", "sigma = " + text + " but a DSM noise level must be finite and > 0");
    sigmas.push_back(sigma);
  }
  const auto targets = make_targets(split(targets_flag), funnel_dims);
  const auto options = torch::TensorOptions().dtype(config.dtype).device(config.device);
  const index_t max_ism_dim = 10;  // ISM takes D backward passes per step

  if (group.is_main()) std::filesystem::create_directories(out_dir);
  nlohmann::json report = {{"config",
                            {{"steps", config.steps},
                             {"batch", config.batch},
                             {"hidden", config.hidden},
                             {"depth", config.depth},
                             {"seeds", seeds},
                             {"learning_rate", config.learning_rate},
                             {"train_size", config.train_size},
                             {"test_size", config.test_size},
                             {"device", device_flag},
                             {"dtype", use_double ? "float64" : "float32"},
                             {"threads", threads},
                             {"probes", config.probes},
                             {"world_size", group.world_size()},
                             {"lifted_statistics", statistics_flag}}},
                           {"targets", nlohmann::json::array()}};
  std::cout << "known-score suite: " << targets.size() << " targets, " << seeds << " seeds, " << config.steps
            << " steps, batch " << config.batch << ", MLP " << config.depth << "x" << config.hidden << " (SiLU), "
            << device_flag << ", " << (use_double ? "float64" : "float32") << ", " << threads << " threads\n";

  bool blas_printed = false, finite = true;
  for (const auto& target : targets) {
    auto data_gen = scorelift::torch_backend<double>::make_generator(1000 + static_cast<std::uint64_t>(target.dim));
    const auto train = target.sample(config.train_size, data_gen, options);
    const auto test = target.sample(config.test_size, data_gen, options);
    const auto truth = target.score(test);
    if (!blas_printed) {
      (void)torch::matmul(test, test.t()).sum().item<double>();
      std::cout << "BLAS: " << ex::blas_library_in_use() << "\n";
      report["config"]["blas"] = ex::blas_library_in_use();
      blas_printed = true;
    }
    const bool plot_field = target.dim == 2;
    const auto grid = plot_field ? plot_grid(train.cpu(), 21).to(options) : torch::Tensor();
    nlohmann::json target_json = {{"name", target.name},
                                  {"dim", target.dim},
                                  {"score_norm", to_vector(truth.pow(2).sum(1).mean())[0]},
                                  {"methods", nlohmann::json::array()}};
    if (plot_field) {
      target_json["grid"] = to_vector(grid);
      target_json["true_score"] = to_vector(target.score(grid));
      target_json["samples"] = to_vector(train.narrow(0, 0, 1000));
    }

    std::cout << "\n== " << target.name << " (D = " << target.dim
              << ", E||s||^2 = " << ex::format_number(target_json["score_norm"].get<double>(), 4) << ")\n";
    ex::table table({"method", "Fisher div. E||s_hat - s||^2", "relative", "ms/step", "all-reduce ms/step"});
    for (const auto& m : make_methods(target.dim, max_ism_dim, sigmas, split(methods_flag))) {
      std::vector<double> fisher, relative, ms, allreduce_ms;
      nlohmann::json method_json = {{"name", m.name}, {"levels", m.levels}, {"sigma", m.sigma}};
      for (int seed = 0; seed < seeds; ++seed) {
        const auto label = target.name + " " + m.name + " seed " + std::to_string(seed);
        const auto run = train_and_evaluate(m, target, config, train, test, truth, seed == 0 ? grid : torch::Tensor(),
                                            static_cast<std::uint64_t>(seed + 1), label, group);
        finite = finite && std::isfinite(run.fisher) && std::isfinite(run.relative);
        fisher.push_back(run.fisher);
        relative.push_back(run.relative);
        ms.push_back(run.ms_per_step);
        allreduce_ms.push_back(run.allreduce_ms_per_step);
        if (seed == 0) {
          method_json["losses"] = run.losses;
          method_json["fisher_curve"] = run.fisher_curve;
          method_json["log_every"] = config.log_every;
          if (plot_field) method_json["model_score"] = to_vector(run.model_score);
        }
      }
      method_json["fisher"] = fisher;
      method_json["fisher_mean"] = mean_of(fisher);
      method_json["fisher_std"] = std_of(fisher);
      method_json["relative_mean"] = mean_of(relative);
      method_json["ms_per_step"] = mean_of(ms);
      method_json["allreduce_ms_per_step"] = mean_of(allreduce_ms);
      table.add({m.name, ex::format_mean_std(mean_of(fisher), std_of(fisher)), ex::format_number(mean_of(relative), 3),
                 ex::format_number(mean_of(ms), 3), ex::format_number(mean_of(allreduce_ms), 3)});
      target_json["methods"].push_back(method_json);
    }
    table.print();
    report["targets"].push_back(target_json);
  }

  // A diverged run (NaN or Inf Fisher divergence) is reported after its table and files: the exit status
  // says so, and the CTest smoke runs fail on it.
  const auto finish = [&] {
    if (finite) return 0;
    std::cerr << "error: a non-finite Fisher divergence (a run diverged; see the table)\n";
    return 1;
  };
  if (!group.is_main()) return finish();
  const auto json_path = std::filesystem::path(out_dir) / "results.json";
  std::ofstream(json_path) << report.dump(1) << '\n';
  std::cout << "\nwrote " << json_path.string() << '\n';
  const std::string script = std::string(SCORELIFT_SOURCE_DIR) + "/examples/known_score_suite/plot.py";
  if (!no_plot && ex::run_plot_script(script, {json_path.string(), out_dir}))
    std::cout << "wrote " << out_dir << "/score_fields.png, " << out_dir << "/curves_*.png\n";
  return finish();
}
}  // namespace

int main(int argc, char** argv) { return scorelift::examples::guarded_main(argc, argv, run); }

// benchmarks/training_step/python_agreement.cpp — does the Python reference compute what scorelift
// computes? The side-by-side timings only mean something if both sides do the same work, so this
// program (the CTest test benchmarks/python_reference_agreement) builds fixed inputs in double
// precision, evaluates them with scorelift, writes the inputs to <work>/inputs.json, runs
// benchmarks/python_reference/check.py on them with Debian's /usr/bin/python3, and compares every
// value and gradient the reference returns with scorelift's:
//     max |scorelift − python| ≤ 1e-10 · max(1, max |python|)   per quantity.
// Both sides compute in float64 from the same numbers, so only summation order differs (≈1e-15);
// any formula difference (a sign, a half, a missing detach) shows up as O(1).
//
// Cases: the lifted loss (LSE and LDSE forms, odd and even B, L = 1..4, global and per-sample signs)
// and one full training-step gradient per benchmarked objective (same MLP weights, data, probes and
// noise on both sides): the loss and the gradient with respect to every network parameter, for both
// engines of the C++ step (forward-mode tangents with the hand-written reverse pass, and autograd's
// double backward) against the one Python result.
// Exit status: 0 agree, 1 disagree, 77 skipped (no torch in that Python).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "training_step.hpp"  // first: it includes torch/mlp.hpp before the other torch headers
#include "scorelift/probes.hpp"
#include "scorelift/residual/sign_tracker.hpp"

namespace {

using nlohmann::json;
namespace sl = scorelift::torch_ext;
namespace bench = scorelift::benchmarks;

constexpr double tolerance = 1e-10;

/// Nested JSON arrays of a double tensor of any rank.
json to_json(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kFloat64).contiguous();
  if (c.dim() == 0) return c.item<double>();
  json out = json::array();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back(to_json(c[i]));
  return out;
}

/// Flattens nested JSON arrays of numbers (in row-major order).
void flatten(const json& j, std::vector<double>& out) {
  if (j.is_array()) {
    for (const auto& e : j) flatten(e, out);
  } else {
    out.push_back(j.get<double>());
  }
}

/// Compares one quantity; prints a line and returns whether it agrees to the stated tolerance.
bool agree(const std::string& what, const json& ours, const json& theirs) {
  std::vector<double> a, b;
  flatten(ours, a);
  flatten(theirs, b);
  if (a.size() != b.size()) {
    std::cout << "  DIFFER  " << what << ": " << a.size() << " numbers here, " << b.size() << " from Python\n";
    return false;
  }
  double error = 0.0, scale = 1.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    error = std::max(error, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  const bool ok = error <= tolerance * scale;
  std::cout << "  " << (ok ? "agree   " : "DIFFER  ") << what << ": max abs difference " << error << " (scale "
            << scale << ", " << a.size() << " numbers)\n";
  return ok;
}

// ---- The lifted loss on fixed inputs. ----

struct lifted_case {
  std::string form;  // "divergence" (LSE) or "target" (LDSE)
  int64_t batch, dim, levels;
  bool per_sample_signs;
};

/// Builds the inputs of one case, evaluates scorelift on them; returns {inputs, scorelift's outputs}.
std::pair<json, json> run_lifted(const lifted_case& c) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  std::vector<torch::Tensor> modes;
  for (int64_t l = 0; l < c.levels; ++l) modes.push_back(torch::randn({c.batch, c.dim}, options).requires_grad_());
  // Signs alternate in level (global) or are random ±1 per sample.
  const auto signs = c.per_sample_signs
                         ? 2 * torch::randint(0, 2, {c.levels, c.batch}, options) - 1
                         : 1 - 2 * torch::remainder(torch::arange(c.levels, options), 2);
  sl::objective_inputs in;
  in.signs = signs;
  std::vector<torch::Tensor> differentiable = modes;
  if (c.form == "target") {
    in.target = torch::randn({c.batch, c.dim}, options).requires_grad_();
    differentiable.push_back(in.target);
  } else {
    in.divergence = torch::randn({c.levels, c.batch}, options).requires_grad_();
    differentiable.push_back(in.divergence);
  }
  const auto result = sl::lifted_residual_loss(modes, in);
  const auto grads = torch::autograd::grad({result.loss}, differentiable);

  json input = {{"modes", json::array()}, {"signs", json::array()}};
  for (const auto& f : modes) input["modes"].push_back(to_json(f));
  for (int64_t l = 0; l < c.levels; ++l) input["signs"].push_back(to_json(signs[l]));
  json output = {{"value", result.loss.item<double>()},
                 {"level_values", result.level_values},
                 {"residual_alignment", result.residual_alignment},
                 {"grad_modes", json::array()}};
  for (int64_t l = 0; l < c.levels; ++l) output["grad_modes"].push_back(to_json(grads[static_cast<std::size_t>(l)]));
  if (c.form == "target") {
    input["target"] = to_json(in.target);
    output["grad_target"] = to_json(grads.back());
  } else {
    input["divergence"] = to_json(in.divergence);
    output["grad_divergence"] = to_json(grads.back());
  }
  return {input, output};
}

// ---- One training-step gradient on fixed inputs. ----

std::pair<json, json> run_training(const bench::step_case& c, bench::step_engine engine) {
  bench::step_options options;
  options.engine = engine;
  options.objective = c.objective;
  options.levels = c.levels;
  options.hidden = 8;
  options.depth = 2;
  options.probes = 2;
  options.dtype = torch::kFloat64;
  bench::training_step step(options);
  const int64_t batch = 9;  // odd: the halves differ by one sample
  const auto x = torch::randn({batch, 2}, torch::kFloat64);
  if (c.objective == bench::objective_kind::lifted) {
    // Soft signs +1, −1, … so that the residual levels exercise κ.
    scorelift::sign_tracker tracker(c.levels);
    std::vector<double> state;
    for (int64_t l = 0; l < c.levels; ++l) state.push_back(l % 2 ? -1.0 : 1.0);
    tracker.set_state(state);
    step.stack()->set_tracker(tracker);
  }
  // The probes hutchinson_divergence will draw: the same draws from a copy of the generator.
  auto copy = step.generator().clone();
  const auto noise = step.draw(x);
  step.zero_grad();
  const auto evaluated = step.backward(x, noise);  // the gradient a training step uses (each engine's own path)
  std::vector<torch::Tensor> grads;
  for (const auto& p : step.stack()->parameters()) grads.push_back(p.grad().clone());

  json input = {{"objective", bench::objective_name(c.objective)}, {"levels", c.levels},
                {"hidden", options.hidden}, {"depth", options.depth}, {"sigma", options.sigma},
                {"x", to_json(x)}, {"signs", to_json(step.stack()->signs(x))}, {"parameters", json::array()}};
  json output = {{"loss", evaluated.loss.item<double>()}, {"grad_parameters", json::array()}};
  if (c.objective == bench::objective_kind::dsm) {
    input["noise"] = to_json(noise);
  } else {
    const auto flat = scorelift::draw_probes<scorelift::torch_backend<double>>(
        scorelift::probe_kind::rademacher, options.probes, c.levels * batch, 2, copy, x);
    input["probes"] = to_json(torch::stack(flat).view({options.probes, c.levels, batch, 2}));
    output["divergence"] = to_json(evaluated.divergence);
  }
  if (c.objective == bench::objective_kind::lifted) output["residual_alignment"] = evaluated.residual_alignment;
  std::size_t k = 0;
  for (int64_t l = 0; l < c.levels; ++l) {
    json stored = json::array(), grad = json::array();
    for (const auto& p : step.stack()->network(l)->parameters()) {
      stored.push_back({{"shape", p.sizes().vec()}, {"values", to_json(p.reshape(-1))}});
      grad.push_back(to_json(grads[k++].reshape(-1)));
    }
    input["parameters"].push_back(stored);
    output["grad_parameters"].push_back(grad);
  }
  return {input, output};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compares the PyTorch-in-Python reference with scorelift on fixed inputs"};
  std::string python = "/usr/bin/python3", script, work = "python_agreement";
  app.add_option("--python", python, "interpreter with torch (Debian's python3-torch)");
  app.add_option("--script", script, "benchmarks/python_reference/check.py")->required()->check(CLI::ExistingFile);
  app.add_option("--work", work, "directory for inputs.json and outputs.json");
  CLI11_PARSE(app, argc, argv);

  if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0) {
    std::cout << "skipped: " << python << " cannot import torch (apt install python3-torch)\n";
    return 77;
  }
  torch::manual_seed(20261122);

  const std::vector<lifted_case> lifted_cases = {
      {"divergence", 7, 3, 1, false}, {"divergence", 10, 2, 3, false}, {"divergence", 9, 5, 2, true},
      {"target", 8, 4, 1, false},     {"target", 11, 3, 4, false},     {"target", 6, 50, 2, true}};
  json inputs = {{"lifted", json::array()}, {"training", json::array()}};
  std::vector<json> expected_lifted;
  std::vector<std::array<json, 2>> expected_training;  // per case: tangent engine, autograd engine
  for (const auto& c : lifted_cases) {
    auto [input, output] = run_lifted(c);
    inputs["lifted"].push_back(input);
    expected_lifted.push_back(output);
  }
  for (const auto& c : bench::step_cases) {
    // Same seeds: both engines start from the same weights, data and draws.
    auto [input, output] = run_training(c, bench::step_engine::tangent);
    auto [autograd_input, autograd_output] = run_training(c, bench::step_engine::autograd);
    if (autograd_input != input) {
      std::cout << "FAILED: the two engines were given different inputs for " << c.name << '\n';
      return 1;
    }
    inputs["training"].push_back(input);
    expected_training.push_back({output, autograd_output});
  }

  std::filesystem::create_directories(work);
  const std::string inputs_path = work + "/inputs.json", outputs_path = work + "/outputs.json";
  std::ofstream(inputs_path) << inputs.dump();
  const std::string command = python + " '" + script + "' '" + inputs_path + "' '" + outputs_path + "'";
  const int status = std::system(command.c_str());
  if (status != 0) {
    std::cout << "FAILED: " << command << " exited with status " << status << '\n';
    return 1;
  }
  json outputs;
  std::ifstream(outputs_path) >> outputs;

  bool ok = true;
  for (std::size_t i = 0; i < lifted_cases.size(); ++i) {
    const auto& c = lifted_cases[i];
    std::cout << "lifted " << c.form << " B=" << c.batch << " D=" << c.dim << " L=" << c.levels
              << (c.per_sample_signs ? " per-sample signs" : " global signs") << '\n';
    for (const auto& [key, value] : expected_lifted[i].items())
      ok = agree(key, value, outputs["lifted"][i][key]) && ok;
  }
  for (std::size_t i = 0; i < bench::step_cases.size(); ++i) {
    for (std::size_t e = 0; e < 2; ++e) {
      std::cout << "training step " << bench::step_cases[i].name << " (B=9, M=2 probes, MLP 2-8-8-2), "
                << bench::engine_name(e == 0 ? bench::step_engine::tangent : bench::step_engine::autograd)
                << " engine\n";
      for (const auto& [key, value] : expected_training[i][e].items())
        ok = agree(key, value, outputs["training"][i][key]) && ok;
    }
  }
  std::cout << (ok ? "the Python reference agrees with scorelift\n" : "the Python reference DISAGREES with scorelift\n");
  return ok ? 0 : 1;
}

// The Fashion-MNIST example's checkpoint loader (examples/fashion_mnist_diffusion/checkpoint.hpp), on
// the one path its CTest runs cannot reach: a file whose optimiser state LibTorch refuses half-way, after
// it has replaced the state of the parameter groups before the bad one. The refusal must name the
// optimiser's own error and leave the optimiser (state entries, group options), the nets, the weight
// averages and the signs exactly as they were; a matching file must still load.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../../examples/fashion_mnist_diffusion/checkpoint.hpp"
#include "torch/torch_test_support.hpp"  // (doctest, after LibTorch)

namespace {
namespace dt = scorelift::diffusion::torch_ext;
using scorelift::examples::checkpoint_config;
using scorelift::test::all_equal;

/// A one-level run as fashion_diffusion builds it, shrunk: one UNet, its weight average, per-level signs,
/// and an Adam whose parameters are split into two groups (the loader checks them one at a time).
struct small_run {
  std::vector<dt::UNet> nets;
  std::vector<scorelift::torch_ext::weight_ema> averages;
  std::optional<scorelift::sign_tracker> signs = scorelift::sign_tracker(1, 4, 0.5);
  std::vector<torch::Tensor> first, second;  // the two parameter groups

  small_run() {
    dt::unet_options o;
    o.base_channels = 8;
    o.embedding_dim = 16;
    nets.emplace_back(o);
    averages.emplace_back(*nets[0]);
    const auto parameters = nets[0]->parameters();
    first.assign(parameters.begin(), parameters.begin() + static_cast<std::ptrdiff_t>(parameters.size() / 2));
    second.assign(parameters.begin() + static_cast<std::ptrdiff_t>(parameters.size() / 2), parameters.end());
  }

  /// Adam over (first, second) — or, for the foreign writer, over a second group one parameter short.
  torch::optim::Adam adam(double lr, bool second_group_short = false) const {
    auto tail = second;
    if (second_group_short) tail.pop_back();
    return torch::optim::Adam({torch::optim::OptimizerParamGroup(first), torch::optim::OptimizerParamGroup(tail)},
                              torch::optim::AdamOptions(lr));
  }

  /// One optimiser step on the mean square output at a fixed batch (`shift` changes the gradient).
  void step(torch::optim::Optimizer& optimiser, double shift) {
    torch::manual_seed(3);
    const torch::Tensor x = torch::randn({2, 1, 28, 28}) + shift, s = torch::tensor({0.2f, 0.7f});
    optimiser.zero_grad();
    nets[0]->forward(x, s).square().mean().backward();
    optimiser.step();
  }

  std::vector<torch::Tensor> weights() const { return scorelift::test::copies(nets[0]->parameters()); }
};

/// Every Adam state entry by its key (the key type is std::string in LibTorch 1.13, a pointer in 2.x):
/// step count and copies of both moments.
template <class StateMap>
auto adam_states(const StateMap& state) {
  std::map<typename StateMap::key_type, std::pair<int64_t, std::vector<torch::Tensor>>> out;
  for (const auto& [key, entry] : state) {
    const auto& adam = static_cast<const torch::optim::AdamParamState&>(*entry);
    out.emplace(key, std::pair{static_cast<int64_t>(adam.step()),
                               std::vector<torch::Tensor>{adam.exp_avg().clone(), adam.exp_avg_sq().clone()}});
  }
  return out;
}

template <class States>
bool same_states(const States& a, const States& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, entry] : a) {
    const auto found = b.find(key);
    if (found == b.end() || found->second.first != entry.first || !all_equal(found->second.second, entry.second))
      return false;
  }
  return true;
}

double learning_rate(const torch::optim::Optimizer& optimiser, std::size_t group) {
  return static_cast<const torch::optim::AdamOptions&>(optimiser.param_groups()[group].options()).lr();
}

std::string scratch_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("scorelift_test_checkpoint_" + name + ".pt")).string();
}

const checkpoint_config config{"ldse", "iddpm", 1, 8, 4};
}  // namespace

TEST_CASE("fashion checkpoint: an optimiser state refused half-way leaves the run as it was") {
  small_run run;
  // The file: the run's nets and signs, with the optimiser state of a foreign Adam (lr 0.5, two steps on
  // other gradients) whose second group is one parameter short; group 0's entries match and would be
  // replaced (step 2 instead of 1, other moments) before LibTorch's check of group 1 throws.
  const std::string path = scratch_file("foreign_optimiser");
  {
    small_run writer;
    auto foreign = writer.adam(0.5, /*second_group_short=*/true);
    writer.step(foreign, 1.0);
    writer.step(foreign, 2.0);
    scorelift::examples::save_checkpoint(path, config, writer.nets, writer.averages, foreign, writer.signs, 9);
  }
  run.signs->set_state({0.25, -0.5, 0.75, 1.0});

  SUBCASE("an optimiser with state") {
    auto optimiser = run.adam(1e-3);
    run.step(optimiser, 0.0);
    const auto states = adam_states(optimiser.state());
    const auto weights = run.weights();
    const auto averages = scorelift::test::copies(run.averages[0].averages());  // an in-place write shows
    REQUIRE(states.size() == run.first.size() + run.second.size());
    CHECK_THROWS_WITH_AS(scorelift::examples::load_checkpoint(path, config, run.nets, run.averages, optimiser, run.signs,
                                                              torch::kCPU),
                         doctest::Contains("cannot be read (the optimiser state)"), scorelift::invalid_argument);
    CHECK_THROWS_WITH_AS(scorelift::examples::load_checkpoint(path, config, run.nets, run.averages, optimiser, run.signs,
                                                              torch::kCPU),
                         doctest::Contains("different size than the optimizer's parameter group"),
                         scorelift::invalid_argument);
    CHECK(same_states(adam_states(optimiser.state()), states));
    CHECK(learning_rate(optimiser, 0) == 1e-3);
    CHECK(learning_rate(optimiser, 1) == 1e-3);
    CHECK(all_equal(run.weights(), weights));
    CHECK(all_equal(run.averages[0].averages(), averages));
    CHECK(run.signs->state() == std::vector<double>{0.25, -0.5, 0.75, 1.0});
  }
  SUBCASE("a fresh optimiser keeps no state the refused load added") {
    auto optimiser = run.adam(1e-3);
    REQUIRE(optimiser.state().empty());
    CHECK_THROWS_WITH_AS(scorelift::examples::load_checkpoint(path, config, run.nets, run.averages, optimiser, run.signs,
                                                              torch::kCPU),
                         doctest::Contains("different size than the optimizer's parameter group"),
                         scorelift::invalid_argument);
    CHECK(optimiser.state().empty());
  }
  std::filesystem::remove(path);
}

TEST_CASE("fashion checkpoint: a matching file restores nets, averages, Adam and signs, and the step") {
  const std::string path = scratch_file("round_trip");
  small_run writer;
  auto written = writer.adam(1e-3);
  writer.step(written, 0.5);
  writer.averages[0].update(*writer.nets[0]);
  writer.signs->set_state({-1.0, 0.5, 0.0, 0.25});
  scorelift::examples::save_checkpoint(path, config, writer.nets, writer.averages, written, writer.signs, 17);

  small_run reader;  // other initial weights: the load must overwrite them
  auto optimiser = reader.adam(1e-3);
  REQUIRE_FALSE(all_equal(reader.weights(), writer.weights()));
  CHECK(scorelift::examples::load_checkpoint(path, config, reader.nets, reader.averages, optimiser, reader.signs,
                                             torch::kCPU) == 17);
  CHECK(all_equal(reader.weights(), writer.weights()));
  CHECK(all_equal(reader.averages[0].averages(), writer.averages[0].averages()));
  CHECK(reader.signs->state() == writer.signs->state());
  // Adam's state is keyed by the live parameters: one entry each, at step 1, and its moments are the
  // writer's if continuing both takes the same step (a fresh Adam's first step would differ).
  const auto states = adam_states(optimiser.state());
  CHECK(states.size() == reader.first.size() + reader.second.size());
  for (const auto& [key, entry] : states) CHECK(entry.first == 1);
  // Continuing both from here takes the same step.
  reader.step(optimiser, 0.25);
  writer.step(written, 0.25);
  CHECK(all_equal(reader.weights(), writer.weights()));
  std::filesystem::remove(path);
}

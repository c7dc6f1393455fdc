// fashion_mnist_diffusion/checkpoint.hpp — save and resume a training run: the L UNets, Adam's state,
// the per-timestep sign state and the step count, plus the configuration that fixes the shapes, so
// a resume with different flags fails with a message instead of a shape error deep inside LibTorch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scorelift/diffusion/torch/unet.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/residual/sign_tracker.hpp"

namespace scorelift::examples {

/// What must agree between the run that wrote a checkpoint and the run that resumes from it.
struct checkpoint_config {
  std::string objective;
  int64_t levels = 1, channels = 32, timesteps = 1000;

  std::vector<int64_t> shape_fields() const { return {objective == "ldse" ? 1 : 0, levels, channels, timesteps}; }

  static std::string describe(const std::vector<int64_t>& fields) {
    if (fields.size() != 4) return "an unknown configuration";
    return std::string(fields[0] ? "ldse" : "dsm") + ", --levels " + std::to_string(fields[1]) + ", --channels " +
           std::to_string(fields[2]) + ", --timesteps " + std::to_string(fields[3]);
  }
};

inline void save_checkpoint(const std::string& path, const checkpoint_config& config,
                            std::vector<diffusion::torch_ext::UNet>& nets, torch::optim::Optimizer& optimiser,
                            const std::optional<sign_tracker>& signs, int64_t step) {
  torch::serialize::OutputArchive archive;
  archive.write("config", torch::tensor(config.shape_fields(), torch::kInt64));
  archive.write("step", torch::tensor(step, torch::kInt64));
  for (std::size_t l = 0; l < nets.size(); ++l) {
    torch::serialize::OutputArchive net;
    nets[l]->save(net);
    archive.write("net" + std::to_string(l), net);
  }
  torch::serialize::OutputArchive optimiser_archive;
  optimiser.save(optimiser_archive);
  archive.write("optimiser", optimiser_archive);
  if (signs) archive.write("signs", torch::tensor(signs->state(), torch::kFloat64));
  archive.save_to(path);
}

/// Loads a checkpoint written by save_checkpoint into the (already constructed) nets, optimiser and
/// sign state; returns the step it was written at.
inline int64_t load_checkpoint(const std::string& path, const checkpoint_config& config,
                               std::vector<diffusion::torch_ext::UNet>& nets, torch::optim::Optimizer& optimiser,
                               std::optional<sign_tracker>& signs, const torch::Device& device) {
  torch::serialize::InputArchive archive;
  archive.load_from(path, device);
  torch::Tensor stored_config, step;
  archive.read("config", stored_config);
  const auto expected = config.shape_fields();
  const std::vector<int64_t> stored(stored_config.data_ptr<int64_t>(),
                                    stored_config.data_ptr<int64_t>() + stored_config.numel());
  detail::require(stored == expected, "load_checkpoint", "checkpoint '", path,
                  "' was written by a run with ", checkpoint_config::describe(stored), " but this run has ",
                  checkpoint_config::describe(expected), ": pass the same flags to resume");
  archive.read("step", step);
  for (std::size_t l = 0; l < nets.size(); ++l) {
    torch::serialize::InputArchive net;
    archive.read("net" + std::to_string(l), net);
    nets[l]->load(net);
  }
  torch::serialize::InputArchive optimiser_archive;
  archive.read("optimiser", optimiser_archive);
  optimiser.load(optimiser_archive);
  if (signs) {
    torch::Tensor state;
    archive.read("signs", state);
    state = state.to(torch::kCPU).contiguous();
    signs->set_state(std::vector<double>(state.data_ptr<double>(), state.data_ptr<double>() + state.numel()));
  }
  return step.item<int64_t>();
}

}  // namespace scorelift::examples

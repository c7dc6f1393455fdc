// fashion_mnist_diffusion/checkpoint.hpp — save and resume a training run: the L UNets, their weight
// averages (EMA), Adam's state, the per-timestep (or per-σ-bin) sign state and the step count, plus the
// configuration that fixes the shapes, so a resume with different flags fails with a message instead of
// a shape error deep inside LibTorch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "scorelift/diffusion/torch/unet.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/residual/sign_tracker.hpp"
#include "scorelift/torch/weight_ema.hpp"

namespace scorelift::examples {

/// What must agree between the run that wrote a checkpoint and the run that resumes from it.
struct checkpoint_config {
  std::string objective, preconditioning = "iddpm";
  /// `noise_levels`: T of the cosine schedule (iddpm) or the σ bins of the signs (edm).
  int64_t levels = 1, channels = 32, noise_levels = 1000;

  std::vector<int64_t> shape_fields() const {
    return {objective == "ldse" ? 1 : 0, levels, channels, noise_levels, preconditioning == "edm" ? 1 : 0};
  }

  static std::string describe(const std::vector<int64_t>& fields) {
    if (fields.size() != 5) return "an unknown configuration";
    const bool edm = fields[4] != 0;
    return std::string(fields[0] ? "ldse" : "dsm") + ", --levels " + std::to_string(fields[1]) + ", --channels " +
           std::to_string(fields[2]) + ", --preconditioning " + (edm ? "edm, --sign-bins " : "iddpm, --timesteps ") +
           std::to_string(fields[3]);
  }
};

/// The checkpoint format this program writes and reads (bump when the layout changes).
/// 2: weight averages, the preconditioning.
inline constexpr int64_t checkpoint_format = 2;

inline void save_checkpoint(const std::string& path, const checkpoint_config& config,
                            std::vector<diffusion::torch_ext::UNet>& nets, const std::vector<torch_ext::weight_ema>& averages,
                            torch::optim::Optimizer& optimiser, const std::optional<sign_tracker>& signs, int64_t step) {
  torch::serialize::OutputArchive archive;
  archive.write("format", torch::tensor(checkpoint_format, torch::kInt64));
  archive.write("config", torch::tensor(config.shape_fields(), torch::kInt64));
  archive.write("step", torch::tensor(step, torch::kInt64));
  for (std::size_t l = 0; l < nets.size(); ++l) {
    torch::serialize::OutputArchive net;
    nets[l]->save(net);
    archive.write("net" + std::to_string(l), net);
  }
  for (std::size_t l = 0; l < averages.size(); ++l) {
    torch::serialize::OutputArchive average;
    averages[l].save(average);
    archive.write("average" + std::to_string(l), average);
  }
  torch::serialize::OutputArchive optimiser_archive;
  optimiser.save(optimiser_archive);
  archive.write("optimiser", optimiser_archive);
  if (signs) archive.write("signs", torch::tensor(signs->state(), torch::kFloat64));
  // Written beside the old checkpoint, then renamed over it: a run killed while saving leaves the
  // previous checkpoint intact (rename within a directory is atomic).
  const std::string partial = path + ".partial";
  archive.save_to(partial);
  std::filesystem::rename(partial, path);
}

/// Loads a checkpoint written by save_checkpoint into the (already constructed) nets, optimiser and
/// sign state; returns the step it was written at. An empty, truncated, corrupted, foreign or
/// other-version file, or one written with other shape flags, is refused with a message saying which;
/// the file itself is never modified.
inline int64_t load_checkpoint(const std::string& path, const checkpoint_config& config,
                               std::vector<diffusion::torch_ext::UNet>& nets, std::vector<torch_ext::weight_ema>& averages,
                               torch::optim::Optimizer& optimiser, std::optional<sign_tracker>& signs,
                               const torch::Device& device) {
  constexpr const char* where = "load_checkpoint";
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  detail::require(!error, where, "checkpoint '", path, "' cannot be opened: ", error.message());
  detail::require(size > 0, where, "checkpoint '", path, "' is empty");
  // LibTorch reports a damaged archive as a c10::Error deep in its zip reader: say what it means here.
  const auto readable = [&](const char* what, const auto& read) {
    try {
      read();
    } catch (const c10::Error& e) {
      detail::fail(where, "checkpoint '", path, "' (", size, " bytes) cannot be read (", what,
                   "): it is truncated, corrupted or not a checkpoint of this program (", e.what_without_backtrace(),
                   ")");
    }
  };
  torch::serialize::InputArchive archive;
  readable("its archive", [&] { archive.load_from(path, device); });
  torch::Tensor format, stored_config, step;
  readable("its format field", [&] { archive.read("format", format); });
  detail::require(format.numel() == 1 && format.item<int64_t>() == checkpoint_format, where, "checkpoint '", path,
                  "' has format ", format.numel() == 1 ? format.item<int64_t>() : -1, " but this program reads format ",
                  checkpoint_format);
  readable("its configuration", [&] { archive.read("config", stored_config); });
  const auto expected = config.shape_fields();
  const std::vector<int64_t> stored(stored_config.data_ptr<int64_t>(),
                                    stored_config.data_ptr<int64_t>() + stored_config.numel());
  detail::require(stored == expected, "load_checkpoint", "checkpoint '", path,
                  "' was written by a run with ", checkpoint_config::describe(stored), " but this run has ",
                  checkpoint_config::describe(expected), ": pass the same flags to resume");
  readable("its step", [&] { archive.read("step", step); });
  for (std::size_t l = 0; l < nets.size(); ++l) {
    torch::serialize::InputArchive net;
    readable("a network", [&] {
      archive.read("net" + std::to_string(l), net);
      nets[l]->load(net);
    });
  }
  for (std::size_t l = 0; l < averages.size(); ++l) {
    torch::serialize::InputArchive average;
    readable("a weight average", [&] {
      archive.read("average" + std::to_string(l), average);
      averages[l].load(average);
    });
  }
  torch::serialize::InputArchive optimiser_archive;
  readable("the optimiser state", [&] {
    archive.read("optimiser", optimiser_archive);
    optimiser.load(optimiser_archive);
  });
  if (signs) {
    torch::Tensor state;
    readable("the signs", [&] { archive.read("signs", state); });
    state = state.to(torch::kCPU).contiguous();
    signs->set_state(std::vector<double>(state.data_ptr<double>(), state.data_ptr<double>() + state.numel()));
  }
  return step.item<int64_t>();
}

}  // namespace scorelift::examples

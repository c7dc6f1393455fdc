// fashion_mnist_diffusion/checkpoint.hpp — save and resume a training run: the L UNets, their weight
// averages (EMA), Adam's state, the per-timestep (or per-σ-bin) sign state and the step count, plus the
// configuration that fixes the shapes, so a resume with different flags fails with a message instead of
// a shape error deep inside LibTorch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
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

/// An optimiser's per-parameter state and per-group options, put back if a load fails half-way.
/// LibTorch's loader checks each parameter group as it reaches it, after the groups before it have had
/// their state entries replaced (and, in 2.x, their options assigned). It replaces whole state objects and
/// never writes into their tensors, so copies of the state objects that share the moment tensors (clone()
/// copies the handles, not the data) are an exact snapshot at no memory cost, and restoring it is a move.
class optimiser_snapshot {
 public:
  explicit optimiser_snapshot(torch::optim::Optimizer& optimiser) : optimiser_(optimiser) {
    for (const auto& [key, state] : optimiser.state()) state_.emplace(key, state->clone());
    for (const auto& group : optimiser.param_groups())
      options_.push_back(group.has_options() ? group.options().clone() : nullptr);
  }

  /// The state as it was, entries the failed load added included gone; no allocation, so no throw.
  void restore() noexcept {
    optimiser_.state() = std::move(state_);
    auto& groups = optimiser_.param_groups();
    for (std::size_t i = 0; i < options_.size() && i < groups.size(); ++i)
      if (options_[i]) groups[i].set_options(std::move(options_[i]));
  }

 private:
  torch::optim::Optimizer& optimiser_;
  std::remove_cvref_t<decltype(std::declval<torch::optim::Optimizer&>().state())> state_;  // key type differs: 1.13/2.x
  std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> options_;
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

/// Loads a checkpoint written by save_checkpoint into the (already constructed) nets, weight averages,
/// optimiser and sign state; returns the step it was written at. An empty, truncated, corrupted, foreign or
/// other-version file, one written with other shape flags or without the weight averages this run samples
/// from, is refused with a message saying which; the file itself is never modified.
///
/// All or nothing: every part is read and checked into copies (nets of the same shape, averages, the sign
/// table) before the optimiser's state is loaded, and only then are the copies taken. LibTorch's optimiser
/// loader writes into the live optimiser, so its state is snapshot first (optimiser_snapshot) and
/// put back if that load throws: a refused file leaves the run's state as it was.
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
  // The small fields as host int64 vectors: the archive is loaded onto `device`, and a CUDA tensor's
  // data_ptr is not readable from the host.
  const auto integers = [&](torch::serialize::InputArchive& archive, const char* key) {
    torch::Tensor field;
    readable(key, [&] {
      archive.read(key, field);
      field = field.to(torch::kCPU, torch::kInt64).contiguous();
    });
    return std::vector<int64_t>(field.data_ptr<int64_t>(), field.data_ptr<int64_t>() + field.numel());
  };
  torch::serialize::InputArchive archive;
  readable("its archive", [&] { archive.load_from(path, device); });
  const auto format = integers(archive, "format");
  detail::require(format.size() == 1 && format[0] == checkpoint_format, where, "checkpoint '", path, "' has format ",
                  format.size() == 1 ? format[0] : -1, " but this program reads format ", checkpoint_format);
  const auto stored = integers(archive, "config");
  const auto expected = config.shape_fields();
  detail::require(stored == expected, where, "checkpoint '", path, "' was written by a run with ",
                  checkpoint_config::describe(stored), " but this run has ", checkpoint_config::describe(expected),
                  ": pass the same flags to resume");
  const auto step = integers(archive, "step");
  detail::require(step.size() == 1 && step[0] >= 0 && step[0] < (int64_t{1} << 40), where, "checkpoint '", path,
                  "' holds no valid step count (a whole number from 0)");

  // Every part into a copy first.
  std::vector<diffusion::torch_ext::UNet> staged_nets;
  for (std::size_t l = 0; l < nets.size(); ++l) {
    staged_nets.emplace_back(nets[l]->options());
    staged_nets.back()->to(device);
    torch::serialize::InputArchive net;
    readable("a network", [&] {
      archive.read("net" + std::to_string(l), net);
      staged_nets.back()->load(net);
    });
  }
  std::vector<torch_ext::weight_ema> staged_averages = averages;
  for (std::size_t l = 0; l < staged_averages.size(); ++l) {
    torch::serialize::InputArchive average;
    bool present = false;
    readable("a weight average", [&] { present = archive.try_read("average" + std::to_string(l), average); });
    detail::require(present, where, "checkpoint '", path,
                    "' holds no weight averages (it was written with --ema 0): resume it with --ema 0");
    readable("a weight average", [&] { staged_averages[l].load(average); });
  }
  std::optional<sign_tracker> staged_signs = signs;
  if (staged_signs) {
    torch::Tensor state;
    readable("the signs", [&] {
      archive.read("signs", state);
      state = state.to(torch::kCPU, torch::kFloat64).contiguous();
    });
    staged_signs->set_state(std::vector<double>(state.data_ptr<double>(), state.data_ptr<double>() + state.numel()));
  }
  torch::serialize::InputArchive optimiser_archive;
  readable("the optimiser state", [&] { archive.read("optimiser", optimiser_archive); });
  {
    optimiser_snapshot previous(optimiser);
    try {
      readable("the optimiser state", [&] { optimiser.load(optimiser_archive); });
    } catch (...) {
      previous.restore();  // cannot throw: the first error is the one reported
      throw;
    }
  }

  // Taken: in place for the nets (the optimiser holds their parameters), by moves for the rest.
  {
    torch::NoGradGuard no_grad;
    for (std::size_t l = 0; l < nets.size(); ++l) {
      const auto loaded = staged_nets[l]->named_parameters(), loaded_buffers = staged_nets[l]->named_buffers();
      for (auto& parameter : nets[l]->named_parameters()) parameter.value().copy_(loaded[parameter.key()]);
      for (auto& buffer : nets[l]->named_buffers()) buffer.value().copy_(loaded_buffers[buffer.key()]);
    }
  }
  averages = std::move(staged_averages);
  signs = std::move(staged_signs);
  return step[0];
}

}  // namespace scorelift::examples

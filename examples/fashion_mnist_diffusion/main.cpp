// fashion_mnist_diffusion (binary fashion_diffusion) — a small UNet diffusion model on Fashion-MNIST,
// trained with DSM or (residual, asymmetric) LDSE with per-timestep signs, sampled with DDIM.
//
//   fashion_diffusion --smoke                                   # CTest: a few CPU steps (seconds)
//   fashion_diffusion --objective ldse --levels 2 --steps 300   # a short CPU run (minutes)
//   fashion_diffusion --device cuda --objective ldse --levels 2 --steps 20000 --batch 128 --channels 64
//                     --checkpoint run.pt --checkpoint-every 2000  # full training on a GPU (one line)
//   fashion_diffusion ... --resume run.pt --steps 40000         # continue it (same shape flags)
//   fashion_diffusion ... --resume run.pt --steps 0             # only sample from it
//   scripts/launch.sh -n 2 fashion_diffusion ...                # data-parallel (or torchrun): --batch is
//                                                               # the global batch, split over the processes
// Images are scaled to [−1, 1]; the schedule is iDDPM's cosine (T = 1000 by default, --timesteps 4000 as
// in the paper); uniform weighting in ε. Writes results.json (config, loss curve, timing, sample pixels)
// and samples.png (a grid of DDIM samples; x̂₀ clipped to [−1, 1] as in iDDPM).
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "checkpoint.hpp"
#include "data_parallel_run.hpp"
#include "report.hpp"
#include "scorelift/data/fashion_mnist.hpp"
#include "scorelift/data/torch/images.hpp"
#include "scorelift/distributed/data_parallel.hpp"
#include "scorelift/distributed/lifted_statistics.hpp"
#include "scorelift/distributed/sign_synchronisation.hpp"
#include "scorelift/diffusion/samplers/ddim.hpp"
#include "scorelift/diffusion/torch/clipped_denoising.hpp"
#include "scorelift/diffusion/torch/diffusion_loss.hpp"
#include "scorelift/diffusion/torch/unet.hpp"

namespace sd = scorelift::diffusion;
namespace sdt = scorelift::diffusion::torch_ext;
namespace dist = scorelift::distributed;

namespace {
int run(int argc, char** argv) {
  int steps = 300, batch = 64, levels = 1, channels = 32, timesteps = 1000, sampling_steps = 50, samples = 64,
      train_images = 0, threads = 2;
  double lr = 2e-4, timeout_seconds = 300;
  int checkpoint_every = 0;
  std::string objective = "ldse", device_name = "cpu", out = "fashion_mnist_diffusion_out", data_dir, checkpoint,
              resume;
  bool smoke = false, no_plot = false;
  CLI::App app{"UNet diffusion on Fashion-MNIST with DSM or LDSE"};
  app.add_option("--objective", objective, "dsm or ldse")->check(CLI::IsMember({"dsm", "ldse"}));
  app.add_option("--levels", levels, "residual levels L (one UNet each)")->check(CLI::Range(1, 4));
  app.add_option("--steps", steps, "training steps");
  app.add_option("--batch", batch, "batch size (LDSE needs >= 2)");
  app.add_option("--channels", channels, "UNet base channels");
  app.add_option("--timesteps", timesteps, "T of the cosine schedule");
  app.add_option("--sampling-steps", sampling_steps, "DDIM steps");
  app.add_option("--samples", samples, "images to generate");
  app.add_option("--train-images", train_images, "use only the first N training images (0 = all)");
  app.add_option("--lr", lr, "Adam learning rate");
  app.add_option("--threads", threads, "LibTorch CPU threads");
  app.add_option("--device", device_name, "cpu or cuda");
  app.add_option("--data", data_dir, "directory of the IDX files (default: Debian's dataset-fashion-mnist)");
  app.add_option("--out", out, "output directory");
  app.add_option("--checkpoint", checkpoint, "write nets, Adam state, signs and step here at the end of training");
  app.add_option("--checkpoint-every", checkpoint_every, "also every N steps (0 = only at the end)");
  app.add_option("--resume", resume, "continue from this checkpoint; --steps is the total to reach");
  app.add_flag("--smoke", smoke, "a few steps on a few images (CTest)");
  app.add_flag("--no-plot", no_plot, "skip the PNG");
  app.add_option("--dist-timeout", timeout_seconds, "data-parallel: seconds a collective may wait for the others")
      ->check(CLI::Range(1.0, 86400.0));
  CLI11_PARSE(app, argc, argv);
  if (smoke && app.count("--steps") == 0) steps = 4;
  if (smoke) batch = 8, batch = 8, channels = 8, sampling_steps = 4, samples = 4, train_images = 64, levels = 2;
  const scorelift::examples::checkpoint_config checkpoint_config{objective, levels, channels, timesteps};
  torch::set_num_threads(std::max(1, threads));
  torch::manual_seed(0);
  const torch::Device requested_device(device_name);
  // Data-parallel when launched with WORLD_SIZE: every rank trains on its shard of each global batch;
  // rank 0 alone prints, samples, writes outputs and checkpoints (which resume at any world size).
  const auto group = dist::process_group::from_environment(
      {.timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000)), .device = requested_device});
  const torch::Device device = group.device_for(requested_device);  // CUDA: device LOCAL_RANK of each process
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  scorelift::examples::join_data_parallel_run(group, argc, argv);
  // One CPU thread per process unless asked: N processes × 2 threads on N cores spin against each
  // other (measured: a 2-process smoke step 10× slower with 2 threads each than with 1).
  if (group.is_distributed() && app.count("--threads") == 0 && !device.is_cuda()) torch::set_num_threads(1);
  if (group.is_main()) std::filesystem::create_directories(out);

  const auto data = scorelift::data::load_fashion_mnist(scorelift::data::fashion_mnist_split::train, data_dir,
                                                        static_cast<scorelift::index_t>(train_images));
  const torch::Tensor images = (scorelift::data::to_tensors(data).pixels.reshape({-1, 1, 28, 28}) * 2.0 - 1.0).to(device);
  std::cout << "training on " << images.size(0) << " images, " << objective << " L = " << levels << ", device "
            << device_name;
  if (group.is_distributed()) std::cout << ", " << group.world_size() << " processes (" << group.backend_name() << ")";
  std::cout << "\n";

  const sd::discrete_schedule schedule = sd::cosine_schedule(timesteps);
  const sdt::schedule_tensors tables(schedule, torch::kFloat32, device);
  sdt::unet_options unet;
  unet.base_channels = channels;
  unet.groups = std::min(8, channels);
  std::vector<sdt::UNet> nets;
  std::vector<torch::Tensor> parameters;
  for (int l = 0; l < levels; ++l) {
    nets.emplace_back(unet);
    nets.back()->to(device);
    for (const auto& p : nets.back()->parameters()) parameters.push_back(p);
  }
  std::optional<scorelift::sign_tracker> signs;
  sdt::diffusion_loss_options loss_options;
  loss_options.objective = objective == "ldse" ? sdt::diffusion_objective::ldse : sdt::diffusion_objective::dsm;
  // LDSE on D = 784 pixels: the lifted products scale like D², so report them divided by D² (Adam does not
  // care about the scale; the printed losses become O(1)).
  loss_options.lifted.divide_by_dim_squared = true;
  if (loss_options.objective == sdt::diffusion_objective::ldse) signs.emplace(levels, timesteps, 0.5);
  // LDSE with global statistics (the loss of the whole global batch; summed gradients), DSM averaged.
  loss_options.reduce_lifted_sums = dist::global_lifted_sums(group);
  loss_options.reduce_sign_sums = dist::level_sums_over(group);
  const auto statistics = dist::lifted_statistics::global;
  auto modes = [&](const torch::Tensor& x, const torch::Tensor& t) {
    const torch::Tensor s = t.to(torch::kFloat32) / static_cast<double>(timesteps);
    std::vector<torch::Tensor> out_modes;
    for (auto& net : nets) out_modes.push_back(net->forward(x, s));
    return torch::stack(out_modes);
  };

  torch::optim::Adam optimiser(parameters, torch::optim::AdamOptions(lr));
  int first_step = 1;
  if (!resume.empty()) {
    first_step = 1 + static_cast<int>(
                         scorelift::examples::load_checkpoint(resume, checkpoint_config, nets, optimiser, signs, device));
    std::cout << "resumed from step " << first_step - 1 << " of " << resume << "\n";
  }
  dist::data_parallel replicas(group, parameters, {},
                               {.reduction = loss_options.objective == sdt::diffusion_objective::ldse
                                                 ? dist::gradient_reduction_for(statistics)
                                                 : dist::gradient_reduction::mean});
  replicas.broadcast_from_main();
  // Indices from one stream every rank shares, noise from the rank's own (alone: as before, one stream).
  std::optional<at::Generator> shared_indices;
  if (group.is_distributed()) {
    shared_indices = scorelift::torch_backend<double>::make_generator(12345);
    torch::manual_seed(dist::rank_seed(0, group.rank()));
  }
  const auto shard = dist::shard_of(batch, group.rank(), group.world_size());
  std::vector<double> losses;
  scorelift::examples::progress bar(objective + " L=" + std::to_string(levels), steps, group.is_main());
  const auto start = std::chrono::steady_clock::now();
  for (int step = first_step; step <= steps; ++step) {
    const torch::Tensor index =
        shared_indices ? torch::randint(0, images.size(0), {batch}, *shared_indices, torch::kInt64)
                             .narrow(0, shard.begin, shard.size())
                             .to(device)
                       : torch::randint(0, images.size(0), {batch}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    const sdt::noised_batch noised = tables.add_noise(images.index_select(0, index));
    auto loss = sdt::diffusion_loss(modes(noised.x_noisy, noised.timesteps), noised, signs ? &*signs : nullptr,
                                    loss_options);
    optimiser.zero_grad();
    loss.loss.backward();
    replicas.synchronise_gradients();
    optimiser.step();
    losses.push_back(loss.loss.item<double>());
    bar.update(step, "loss " + scorelift::examples::format_number(losses.back()));
    if (group.is_main() && !checkpoint.empty() && (step == steps || (checkpoint_every > 0 && step % checkpoint_every == 0)))
      scorelift::examples::save_checkpoint(checkpoint, checkpoint_config, nets, optimiser, signs, step);
  }
  if (!checkpoint.empty()) std::cout << "\ncheckpoint: " << checkpoint << '\n';
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!group.is_main()) return 0;  // rank 0 samples and writes

  // DDIM with x̂₀ clipped to the data range [−1, 1] (iDDPM's clip_denoised, clipped_denoising.hpp).
  torch::NoGradGuard no_grad;
  auto epsilon = [&](const torch::Tensor& x, scorelift::index_t t) {
    const torch::Tensor tt = torch::full({x.size(0)}, t, torch::TensorOptions().dtype(torch::kInt64).device(device));
    const torch::Tensor eps = sdt::combine_modes(modes(x, tt), tt, signs ? &*signs : nullptr);
    return sdt::epsilon_with_clipped_x0(x, eps, schedule.level(t), -1.0, 1.0);
  };
  const auto sample_start = std::chrono::steady_clock::now();
  const torch::Tensor generated =
      sd::ddim_sample(schedule, epsilon, torch::randn({samples, 1, 28, 28}, options),
                      [](const torch::Tensor& like) { return torch::randn_like(like); }, {sampling_steps, 0.0});
  const double sample_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sample_start).count();

  const torch::Tensor pixels = ((generated.clamp(-1.0, 1.0) + 1.0) / 2.0).to(torch::kCPU).contiguous();
  const bool finite = torch::isfinite(generated).all().item<bool>() &&
                      (losses.empty() || std::isfinite(losses.back()));
  std::cout << "\nBLAS: " << scorelift::examples::blas_library_in_use() << "\n";
  scorelift::examples::table table({"objective", "L", "steps", "final loss (mean of last 10%)", "train s", "ms/step",
                                    "sampling s"});
  // Mean of the last 10% of the losses of this run (none when it only sampled from a checkpoint).
  double tail = 0.0;
  const std::size_t tail_count = std::max<std::size_t>(1, losses.size() / 10);
  for (std::size_t i = losses.size() - std::min(tail_count, losses.size()); i < losses.size(); ++i)
    tail += losses[i] / static_cast<double>(tail_count);
  const double trained = static_cast<double>(std::max<std::size_t>(1, losses.size()));
  table.add({objective, std::to_string(levels), std::to_string(steps),
             losses.empty() ? "-" : scorelift::examples::format_number(tail),
             scorelift::examples::format_number(train_seconds), scorelift::examples::format_number(1000 * train_seconds / trained),
             scorelift::examples::format_number(sample_seconds)});
  table.print();

  nlohmann::json results = {
      {"config", {{"objective", objective}, {"levels", levels}, {"steps", steps}, {"batch", batch}, {"channels", channels},
                  {"world_size", group.world_size()}, {"allreduce_ms_per_step", 1e3 * replicas.seconds_per_synchronisation()},
                  {"timesteps", timesteps}, {"sampling_steps", sampling_steps}, {"lr", lr}, {"device", device_name},
                  {"train_images", images.size(0)}}},
      {"losses", losses}, {"train_seconds", train_seconds}, {"sample_seconds", sample_seconds},
      {"samples", std::vector<float>(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel())}};
  if (signs) results["soft_signs"] = signs->state();
  const std::string json_path = out + "/results.json";
  std::ofstream(json_path) << results.dump();
  std::cout << "wrote " << json_path << '\n';
  if (!no_plot)
    scorelift::examples::run_plot_script(std::string(SCORELIFT_SOURCE_DIR) + "/examples/fashion_mnist_diffusion/plot.py",
                                         "'" + json_path + "' '" + out + "'");
  if (!finite) {
    std::cerr << "error: non-finite loss or samples\n";
    return 1;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return scorelift::examples::guarded_main(argc, argv, run); }

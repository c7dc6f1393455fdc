// fashion_mnist_diffusion (binary fashion_diffusion) — a small UNet diffusion model on Fashion-MNIST,
// trained with DSM or (residual, asymmetric) LDSE with per-timestep signs, in iDDPM's formulation
// (ε-prediction on a cosine schedule, DDIM sampling) or EDM's (--preconditioning edm: preconditioned
// denoiser, ln σ ~ N(−1.2, 1.2²), λ(σ)-weighted losses, signs per σ bin, Heun sampling), sampling from
// an exponential moving average of the weights (--ema), and measuring the samples (--metric-samples:
// Fréchet and kernel distances in the shared Fashion-MNIST classifier's features against the test set,
// with the training set's distances as the floor).
//
//   fashion_diffusion --smoke                                   # CTest: a few CPU steps (seconds)
//   fashion_diffusion --objective ldse --levels 2 --steps 300   # a short CPU run (minutes)
//   fashion_diffusion --device cuda --objective ldse --levels 2 --steps 20000 --batch 128 --channels 64
//                     --checkpoint run.pt --checkpoint-every 2000  # full training on a GPU (one line)
//   fashion_diffusion ... --resume run.pt --steps 40000         # continue it (same shape flags)
//   fashion_diffusion ... --resume run.pt --steps 0             # only sample from it
//   fashion_diffusion --preconditioning edm --objective dsm ... # EDM (Heun, 18 steps = 35 evaluations)
//   scripts/launch.sh -n 2 fashion_diffusion ...                # data-parallel (or torchrun): --batch is
//                                                               # the global batch, split over the processes
// Images are scaled to [−1, 1]. iDDPM: the cosine schedule (T = 1000 by default, --timesteps 4000 as in
// the paper), uniform weighting in ε, DDIM with x̂₀ clipped to [−1, 1]. EDM: σ_data is the pixels' standard
// deviation. Writes results.json (config, loss curve, timing, metrics, soft signs, sample pixels) and
// samples.png, loss.png and signs.png (the soft signs κ of each mode across noise levels).
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
#include "scorelift/diffusion/samplers/edm_heun.hpp"
#include "scorelift/diffusion/torch/clipped_denoising.hpp"
#include "scorelift/diffusion/torch/diffusion_loss.hpp"
#include "scorelift/diffusion/torch/edm_training.hpp"
#include "scorelift/diffusion/torch/unet.hpp"
#include "scorelift/implicit/torch/sample_quality.hpp"
#include "scorelift/torch/weight_ema.hpp"

namespace sd = scorelift::diffusion;
namespace sdt = scorelift::diffusion::torch_ext;
namespace dist = scorelift::distributed;

namespace {
int run(int argc, char** argv) {
  int steps = 300, batch = 64, levels = 1, channels = 32, timesteps = 1000, sampling_steps = 50, samples = 64,
      train_images = 0, threads = 2, sign_bins = 32, metric_samples = 0, seed = 0;
  double lr = 2e-4, timeout_seconds = 300, ema_decay = 0.999;
  int checkpoint_every = 0;
  std::string objective = "ldse", preconditioning = "iddpm", device_name = "cpu", out = "fashion_mnist_diffusion_out",
              data_dir, checkpoint, resume, classifier_cache;
  bool smoke = false, no_plot = false;
  CLI::App app{"UNet diffusion on Fashion-MNIST with DSM or LDSE"};
  // A flag given twice takes its last value: scripts append overrides (benchmarks/diffusion_tables/run.sh).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--objective", objective, "dsm or ldse")->check(CLI::IsMember({"dsm", "ldse"}));
  app.add_option("--preconditioning", preconditioning, "iddpm (ε on a cosine schedule, DDIM) or edm (Karras et al., Heun)")
      ->check(CLI::IsMember({"iddpm", "edm"}));
  app.add_option("--levels", levels, "residual levels L (one UNet each)")->check(CLI::Range(1, 4));
  app.add_option("--steps", steps, "training steps (0 with --resume: only sample)")->check(CLI::Range(0, 100000000));
  app.add_option("--batch", batch, "batch size (LDSE needs >= 2)")->check(CLI::Range(1, 1 << 20));
  app.add_option("--channels", channels, "UNet base channels (1..8, or a multiple of 8: the GroupNorm groups)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--timesteps", timesteps, "T of the cosine schedule")->check(CLI::Range(1, 1000000));
  app.add_option("--sampling-steps", sampling_steps, "DDIM steps (iddpm, at most --timesteps), Heun steps (edm; default 18 = 35 evaluations)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--sign-bins", sign_bins, "edm: LDSE sign bins of ln sigma")->check(CLI::Range(1, 100000));
  app.add_option("--ema", ema_decay,
                 "decay of the weight average sampled from, warmed up as min(decay, (1+t)/(10+t)) (0: the trained weights)")
      ->check(CLI::Range(0.0, 0.999999));
  app.add_option("--metric-samples", metric_samples,
                 "generate this many images and measure FD and KID against the test set (0 = off; the paper: >= 2000)")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--classifier-cache", classifier_cache, "feature classifier weights (default: next to the binary)");
  app.add_option("--seed", seed, "seed of the run (noise, batches, sampling)");
  app.add_option("--samples", samples, "images to generate (the grid)")->check(CLI::Range(1, 100000));
  app.add_option("--train-images", train_images, "use only the first N training images (0 = all)")->check(CLI::NonNegativeNumber);
  app.add_option("--lr", lr, "Adam learning rate")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "LibTorch CPU threads")->check(CLI::Range(1, 4096));
  app.add_option("--device", device_name, "cpu or cuda");
  app.add_option("--data", data_dir, "directory of the IDX files (default: Debian's dataset-fashion-mnist)");
  app.add_option("--out", out, "output directory");
  app.add_option("--checkpoint", checkpoint, "write nets, Adam state, signs and step here at the end of training");
  app.add_option("--checkpoint-every", checkpoint_every, "also every N steps (0 = only at the end)")->check(CLI::NonNegativeNumber);
  app.add_option("--resume", resume, "continue from this checkpoint; --steps is the total to reach");
  app.add_flag("--smoke", smoke, "a few steps on a few images (CTest)");
  app.add_flag("--no-plot", no_plot, "skip the PNG");
  app.add_option("--dist-timeout", timeout_seconds, "data-parallel: seconds a collective may wait for the others")
      ->check(CLI::Range(1.0, 86400.0));
  CLI11_PARSE(app, argc, argv);
  if (smoke && app.count("--steps") == 0) steps = 4;
  const bool edm = preconditioning == "edm";
  if (edm && app.count("--sampling-steps") == 0) sampling_steps = 18;
  if (smoke) batch = 8, channels = 8, sampling_steps = 4, samples = 4, train_images = 64, levels = 2;
  if (smoke && app.count("--metric-samples") == 0) metric_samples = 0;
  // What the flags' ranges cannot say alone, refused before any data is read or step is taken (a bad
  // --sampling-steps found after hours of training would lose the run).
  const auto refuse = [](bool bad, const std::string& flag, const std::string& why) {
    if (bad) throw CLI::ValidationError(flag, why);
  };
  refuse(objective == "ldse" && batch < 2, "--batch", std::to_string(batch) + " but LDSE needs pairs of samples (>= 2)");
  refuse(channels > 8 && channels % 8 != 0, "--channels",
         std::to_string(channels) + " but above 8 it must be a multiple of 8 (the UNet's GroupNorm groups)");
  refuse(!edm && sampling_steps > timesteps, "--sampling-steps",
         std::to_string(sampling_steps) + " but DDIM takes at most --timesteps = " + std::to_string(timesteps));
  refuse(!checkpoint.empty() && std::filesystem::is_directory(checkpoint), "--checkpoint",
         "'" + checkpoint + "' is a directory: name the file to write");
  refuse(!resume.empty() && !std::filesystem::is_regular_file(resume), "--resume", "'" + resume + "' is not a file");
  const scorelift::examples::checkpoint_config checkpoint_config{objective, preconditioning, levels, channels,
                                                                 edm ? sign_bins : timesteps};
  torch::set_num_threads(std::max(1, threads));
  torch::manual_seed(static_cast<uint64_t>(seed));
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
  std::cout << "training on " << images.size(0) << " images, " << preconditioning << " " << objective << " L = " << levels
            << ", device " << device_name;
  if (group.is_distributed()) std::cout << ", " << group.world_size() << " processes (" << group.backend_name() << ")";
  std::cout << "\n";

  const sd::discrete_schedule schedule = sd::cosine_schedule(timesteps);
  const sdt::schedule_tensors tables(schedule, torch::kFloat32, device);
  // EDM: σ_data is the pixels' standard deviation (0.5 in EDM's CIFAR setting; about 0.7 here).
  const double sigma_data = images.to(torch::kFloat64).std().item<double>();
  const sdt::edm_noising noising(sd::edm_config{.sigma_data = sigma_data}, sign_bins);
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
  if (edm) {
    loss_options.weighting = sdt::epsilon_weighting::edm;  // λ(σ)σ² on the noise error: EDM's λ(σ)‖D − x‖²
    loss_options.sigma_data = sigma_data;
  }
  if (loss_options.objective == sdt::diffusion_objective::ldse) signs.emplace(levels, edm ? sign_bins : timesteps, 0.5);
  // LDSE with global statistics (the loss of the whole global batch; summed gradients), DSM averaged.
  loss_options.reduce_lifted_sums = dist::global_lifted_sums(group);
  loss_options.reduce_sign_sums = dist::level_sums_over(group);
  const auto statistics = dist::lifted_statistics::global;
  // The noise-prediction modes [L, B, ...] at x̃: iDDPM's networks predict them from (x̃, t/T); EDM's
  // networks see (c_in x̃, c_noise) and their outputs become modes of the preconditioned denoiser.
  auto modes = [&](const torch::Tensor& x, const sdt::noised_batch& at) {
    std::vector<torch::Tensor> out_modes;
    if (edm) {
      const auto inputs = noising.network_inputs(x, at.sigma);
      for (auto& net : nets) out_modes.push_back(net->forward(inputs.x, inputs.noise));
      return noising.epsilon_modes(torch::stack(out_modes), x, at.sigma);
    }
    const torch::Tensor s = at.timesteps.to(torch::kFloat32) / static_cast<double>(timesteps);
    for (auto& net : nets) out_modes.push_back(net->forward(x, s));
    return torch::stack(out_modes);
  };

  torch::optim::Adam optimiser(parameters, torch::optim::AdamOptions(lr));
  std::vector<scorelift::torch_ext::weight_ema> averages;
  if (ema_decay > 0.0)
    for (auto& net : nets) averages.emplace_back(*net, scorelift::torch_ext::weight_ema_options{.decay = ema_decay, .warmup = true});
  int first_step = 1;
  if (!resume.empty()) {
    first_step = 1 + static_cast<int>(scorelift::examples::load_checkpoint(resume, checkpoint_config, nets, averages,
                                                                             optimiser, signs, device));
    std::cout << "resumed from step " << first_step - 1 << " of " << resume << "\n";
  }
  dist::data_parallel replicas(group, parameters, {},
                               {.reduction = loss_options.objective == sdt::diffusion_objective::ldse
                                                 ? dist::gradient_reduction_for(statistics)
                                                 : dist::gradient_reduction::mean});
  replicas.broadcast_from_main();
  // Every step draws from streams seeded by (seed, step): its batch indices from one stream that every rank
  // shares (each takes its shard), its noise from the rank's own. A run resumed at step k therefore draws
  // what the uninterrupted run drew (tested), and one process under the launcher is the plain run.
  const auto base_seed = static_cast<uint64_t>(seed);
  const auto shard = dist::shard_of(batch, group.rank(), group.world_size());
  std::vector<double> losses;
  scorelift::examples::progress bar(preconditioning + " " + objective + " L=" + std::to_string(levels), steps,
                                    group.is_main());
  const auto start = std::chrono::steady_clock::now();
  for (int step = first_step; step <= steps; ++step) {
    auto indices = scorelift::torch_backend<double>::make_generator(dist::rank_seed(base_seed ^ 0x1D1CE5ULL, step));
    torch::manual_seed(dist::rank_seed(dist::rank_seed(base_seed, step), group.rank()));
    const torch::Tensor index = torch::randint(0, images.size(0), {batch}, indices, torch::kInt64)
                                    .narrow(0, shard.begin, shard.size())
                                    .to(device);
    const torch::Tensor clean = images.index_select(0, index);
    const sdt::noised_batch noised = edm ? noising.add_noise(clean) : tables.add_noise(clean);
    auto loss = sdt::diffusion_loss(modes(noised.x_noisy, noised), noised, signs ? &*signs : nullptr, loss_options);
    optimiser.zero_grad();
    loss.loss.backward();
    replicas.synchronise_gradients();
    optimiser.step();
    for (std::size_t l = 0; l < averages.size(); ++l) averages[l].update(*nets[l]);
    losses.push_back(loss.loss.item<double>());
    bar.update(step, "loss " + scorelift::examples::format_number(losses.back()));
    if (group.is_main() && !checkpoint.empty() && (step == steps || (checkpoint_every > 0 && step % checkpoint_every == 0)))
      scorelift::examples::save_checkpoint(checkpoint, checkpoint_config, nets, averages, optimiser, signs, step);
  }
  if (!checkpoint.empty()) std::cout << "\ncheckpoint: " << checkpoint << '\n';
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!group.is_main()) return 0;  // rank 0 samples and writes

  // Sampling, from the weight averages when there are any.
  torch::NoGradGuard no_grad;
  for (std::size_t l = 0; l < averages.size(); ++l) averages[l].swap_into(*nets[l]);
  const scorelift::sign_tracker* sign_table = signs ? &*signs : nullptr;
  torch::manual_seed(dist::rank_seed(base_seed ^ 0x5A3B1EULL, 0));  // sampling: the same draws after a resume
  const auto generate = [&](int64_t count) -> torch::Tensor {
    const torch::Tensor z = torch::randn({count, 1, 28, 28}, options);
    if (edm) {  // Heun on the probability-flow ODE in σ (edm_heun.hpp), ρ = 7, no clipping (as EDM)
      auto denoiser = [&](const torch::Tensor& x, double sigma) {
        sdt::noised_batch at;
        at.sigma = torch::full({x.size(0)}, sigma, options);
        at.timesteps = noising.bin_of(at.sigma) + 1;
        return sdt::edm_noising::denoised(x, at.sigma, sdt::combine_modes(modes(x, at), at.timesteps, sign_table));
      };
      return sd::edm_sample(denoiser, z, {.steps = sampling_steps, .heun = true, .config = noising.config()});
    }
    // DDIM with x̂₀ clipped to the data range [−1, 1] (iDDPM's clip_denoised, clipped_denoising.hpp).
    auto epsilon = [&](const torch::Tensor& x, scorelift::index_t t) {
      sdt::noised_batch at;
      at.timesteps = torch::full({x.size(0)}, t, torch::TensorOptions().dtype(torch::kInt64).device(device));
      const torch::Tensor eps = sdt::combine_modes(modes(x, at), at.timesteps, sign_table);
      return sdt::epsilon_with_clipped_x0(x, eps, schedule.level(t), -1.0, 1.0);
    };
    return sd::ddim_sample(schedule, epsilon, z, [](const torch::Tensor& like) { return torch::randn_like(like); },
                           {sampling_steps, 0.0});
  };
  const auto sample_start = std::chrono::steady_clock::now();
  const torch::Tensor generated = generate(samples);
  const double sample_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sample_start).count();
  const torch::Tensor pixels = ((generated.clamp(-1.0, 1.0) + 1.0) / 2.0).to(torch::kCPU).contiguous();

  // Sample quality in the shared classifier's features: FD and KID of `metric_samples` generated images
  // against the test set, and of as many training images (the floor a perfect generator would reach).
  std::optional<scorelift::implicit::sample_quality> quality, floor;
  if (metric_samples > 0) {
    const auto test = scorelift::data::to_tensors(
        scorelift::data::load_fashion_mnist(scorelift::data::fashion_mnist_split::test, data_dir));
    // The classifier and the floor use the whole training set, whatever --train-images says.
    const auto train = scorelift::data::to_tensors(
        scorelift::data::load_fashion_mnist(scorelift::data::fashion_mnist_split::train, data_dir));
    // Shared with implicit_vae_wae (the same file next to both binaries); a smoke run keeps its own.
    if (classifier_cache.empty())
      classifier_cache = smoke ? out + "/smoke_classifier.pt"
                               : (std::filesystem::path(argv[0]).parent_path() / "fashion_mnist_classifier.pt").string();
    // A smoke run trains a throwaway classifier for one epoch on 5 000 images (seconds, not minutes).
    const scorelift::implicit::classifier_training classifier_options{.epochs = smoke ? 1 : 3};
    const int64_t classifier_images = smoke ? std::min<int64_t>(5000, train.pixels.size(0)) : train.pixels.size(0);
    scorelift::examples::progress classifier_progress("classifier", classifier_options.epochs);
    auto classifier = [&] {
      // The classifier trains (when not cached) with autograd on; only here: generating the metric samples
      // with it on would record every sampling step's graph (gigabytes per chunk of 256 images).
      const torch::AutoGradMode training_mode(true);
      return scorelift::implicit::load_or_train_classifier(
          classifier_cache, train.pixels.narrow(0, 0, classifier_images), train.labels.narrow(0, 0, classifier_images),
          classifier_options, [&](scorelift::index_t epoch, double loss) {
            classifier_progress.update(epoch, "loss " + scorelift::examples::format_number(loss));
          });
    }();
    std::vector<torch::Tensor> chunks;
    scorelift::examples::progress sampling_progress("metric samples", metric_samples);
    for (int64_t done = 0; done < metric_samples;) {
      const int64_t count = std::min<int64_t>(256, metric_samples - done);
      chunks.push_back(((generate(count).clamp(-1.0, 1.0) + 1.0) / 2.0).reshape({count, 784}).to(torch::kCPU));
      done += count;
      sampling_progress.update(done);
    }
    const scorelift::kernel_distance_options kernel{.subsets = 100, .subset_size = 1000, .seed = 7};
    namespace si = scorelift::implicit;
    const auto test_features = si::classifier_features(classifier, test.pixels);  // once, for both comparisons
    quality = si::feature_sample_quality(si::classifier_features(classifier, torch::cat(chunks)), test_features, kernel);
    const torch::Tensor real = train.pixels.index_select(
        0, torch::randperm(train.pixels.size(0), torch::kInt64).narrow(0, 0, std::min<int64_t>(metric_samples, train.pixels.size(0))));
    floor = si::feature_sample_quality(si::classifier_features(classifier, real), test_features, kernel);
  }

  const bool finite = torch::isfinite(generated).all().item<bool>() &&
                      (losses.empty() || std::isfinite(losses.back()));
  std::cout << "\nBLAS: " << scorelift::examples::blas_library_in_use() << "\n";
  scorelift::examples::table table({"preconditioning", "objective", "L", "steps", "final loss (mean of last 10%)",
                                    "train s", "ms/step", "sampling s", "FD", "KID x1e3"});
  // Mean of the last 10% of the losses of this run (none when it only sampled from a checkpoint).
  double tail = 0.0;
  const std::size_t tail_count = std::max<std::size_t>(1, losses.size() / 10);
  for (std::size_t i = losses.size() - std::min(tail_count, losses.size()); i < losses.size(); ++i)
    tail += losses[i] / static_cast<double>(tail_count);
  const double trained = static_cast<double>(std::max<std::size_t>(1, losses.size()));
  const auto fmt = [](double v) { return scorelift::examples::format_number(v); };
  const auto kid = [&](const scorelift::implicit::sample_quality& q) {
    return fmt(1e3 * q.kernel.mean) + " ± " + fmt(1e3 * q.kernel.standard_deviation);
  };
  table.add({preconditioning, objective, std::to_string(levels), std::to_string(steps), losses.empty() ? "-" : fmt(tail),
             fmt(train_seconds), fmt(1000 * train_seconds / trained), fmt(sample_seconds),
             quality ? fmt(quality->frechet) : "-", quality ? kid(*quality) : "-"});
  if (floor)
    table.add({"training images", "(floor)", "-", "-", "-", "-", "-", "-", fmt(floor->frechet), kid(*floor)});
  table.print();

  nlohmann::json results = {
      {"config", {{"preconditioning", preconditioning}, {"objective", objective}, {"levels", levels}, {"steps", steps},
                  {"batch", batch}, {"channels", channels}, {"world_size", group.world_size()},
                  {"allreduce_ms_per_step", 1e3 * replicas.seconds_per_synchronisation()}, {"timesteps", timesteps},
                  {"sign_bins", sign_bins}, {"sigma_data", sigma_data}, {"ema", ema_decay}, {"seed", seed},
                  {"sampling_steps", sampling_steps}, {"lr", lr}, {"device", device_name}, {"train_images", images.size(0)}}},
      {"losses", losses}, {"train_seconds", train_seconds}, {"sample_seconds", sample_seconds},
      {"samples", std::vector<float>(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel())}};
  const auto metric_json = [](const scorelift::implicit::sample_quality& q) {
    return nlohmann::json{{"frechet", q.frechet}, {"kid", q.kernel.mean}, {"kid_std", q.kernel.standard_deviation},
                          {"kid_subsets", q.kernel.subsets}, {"kid_subset_size", q.kernel.subset_size},
                          {"generated", q.generated}, {"reference", q.reference}};
  };
  if (quality) results["metrics"] = metric_json(*quality);
  if (floor) results["floor"] = metric_json(*floor);
  if (signs) results["sign_levels"] = signs->noise_levels();
  if (signs) results["soft_signs"] = signs->state();
  const std::string json_path = out + "/results.json";
  std::ofstream(json_path) << results.dump();
  std::cout << "wrote " << json_path << '\n';
  if (!no_plot)
    scorelift::examples::run_plot_script(std::string(SCORELIFT_SOURCE_DIR) + "/examples/fashion_mnist_diffusion/plot.py",
                                         {json_path, out});
  if (!finite) {
    std::cerr << "error: non-finite loss or samples\n";
    return 1;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return scorelift::examples::guarded_main(argc, argv, run); }

// implicit_models — the paper's Table 1 at Fashion-MNIST scale: implicit VAEs and WAEs whose
// encoder-entropy gradient comes from an estimated latent score (Stein, SSGE, SSM-VR, LSE and
// their residual stacks L = 2, 3), plus the Gaussian-posterior VAE baseline. Each method is trained
// for a few hundred alternating RMSProp steps per seed and evaluated on the test set:
// reconstruction error, the −ELBO / WAE objective (entropy by k-NN), and the Fréchet distance in
// the feature space of a small classifier trained here (cached under the build directory).
//
//   implicit_vae_wae                     # CPU default (reduced iterations, see --help and README note)
//   implicit_vae_wae --steps 20000 --learning-rate 1e-4 --evaluation-images 10000   # longer runs
//   implicit_vae_wae --smoke             # the CTest smoke run (seconds)
//   implicit_vae_wae --models gvae --methods stein,ssge,ssm-l1,lse-l1   # entropy-gradient fidelity during
//                                        # training, on a Gaussian posterior trained through each estimator
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "methods.hpp"
#include "report.hpp"
#include "scorelift/data/fashion_mnist.hpp"
#include "scorelift/data/torch/images.hpp"
#include "scorelift/implicit/torch/evaluation.hpp"
#include "scorelift/implicit/torch/feature_classifier.hpp"
#include "scorelift/implicit/torch/trainer.hpp"

namespace ex = scorelift::examples;
namespace im = scorelift::implicit;
using scorelift::index_t;

namespace {

struct config {
  index_t steps = 300;
  index_t batch = 64;
  index_t seeds = 3;
  index_t latent_dim = 8;
  index_t hidden = 256;
  index_t score_hidden = 128;
  index_t particles = 8;  // per image, for the nonparametric conditional estimators (VAE)
  double learning_rate = 1e-3;
  double score_learning_rate = 0.0;  // 0 = the autoencoder's learning rate
  index_t score_steps = im::default_score_steps;  // score-estimator steps per autoencoder step (paper: 1)
  index_t fidelity_every = 25;       // gvae: entropy-gradient fidelity every N steps
  double wae_sigma = 0.3;
  index_t train_images = 0;  // 0 = all 60000
  im::evaluation_options evaluation;
  index_t classifier_epochs = 3;
  std::string models = "vae,wae";
  std::string methods = "all";
  std::string data_dir;
  std::string classifier_cache;
  std::string out_dir = "implicit_models_out";
  bool smoke = false;
  bool plot = true;
};

struct run_result {
  std::string model, method;
  index_t seed = 0;
  im::evaluation_result eval;
  double seconds = 0.0;
  std::vector<double> loss_curve, score_curve;
  std::vector<index_t> fidelity_steps;  // gvae: when the fidelity was measured, and what it was
  std::vector<double> cosine, relative_error, norm_ratio, score_cosine;
};


double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double std_of(const std::vector<double>& v) {  // sample standard deviation (0 for one seed)
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

/// Mean of the second half of a fidelity curve (the first half is the estimator's warm-up); NaN if empty.
double late_mean(const std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  return mean_of(std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end()));
}

void write_samples(const std::string& path, const torch::Tensor& images) {
  const torch::Tensor host = images.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(host.data_ptr<float>()),
            static_cast<std::streamsize>(host.numel() * static_cast<index_t>(sizeof(float))));
}

}  // namespace

namespace {
int run(int argc, char** argv) {
  config cfg;
  CLI::App app{"Implicit VAE / WAE with estimated entropy gradients on Fashion-MNIST (paper Table 1, scaled)"};
  app.add_option("--steps", cfg.steps, "alternating training steps per run")->check(CLI::PositiveNumber);
  app.add_option("--batch", cfg.batch, "images per batch")->check(CLI::Range(2, 4096));
  app.add_option("--seeds", cfg.seeds, "seeds per method (mean ± std over them)")->check(CLI::PositiveNumber);
  app.add_option("--latent-dim", cfg.latent_dim, "D_z")->check(CLI::PositiveNumber);
  app.add_option("--hidden", cfg.hidden, "width of the encoder / decoder MLPs")->check(CLI::PositiveNumber);
  app.add_option("--score-hidden", cfg.score_hidden, "width of the score networks")->check(CLI::PositiveNumber);
  app.add_option("--particles", cfg.particles, "z samples per image for Stein / SSGE in the VAE")->check(CLI::Range(2, 1024));
  app.add_option("--learning-rate", cfg.learning_rate, "RMSProp learning rate (paper: 1e-4 for 400k steps)")
      ->check(CLI::PositiveNumber);
  app.add_option("--score-learning-rate", cfg.score_learning_rate,
                 "RMSProp learning rate of the score networks (0 = --learning-rate)")->check(CLI::NonNegativeNumber);
  app.add_option("--score-steps", cfg.score_steps, "score-estimator updates per autoencoder update")
      ->check(CLI::PositiveNumber);
  app.add_option("--fidelity-every", cfg.fidelity_every,
                 "gvae: measure the entropy gradient's fidelity every N steps (cosine, relative error)")
      ->check(CLI::PositiveNumber);
  app.add_option("--wae-sigma", cfg.wae_sigma, "fixed σ of the WAE encoder z = μ(x) + σε");
  app.add_option("--train-images", cfg.train_images, "use the first N training images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--evaluation-images", cfg.evaluation.images, "test images for reconstruction / WAE objective / FD");
  app.add_option("--entropy-images", cfg.evaluation.entropy_images, "test images whose h(q(z|x)) is estimated (VAE)");
  app.add_option("--entropy-particles", cfg.evaluation.entropy_particles, "particles per image for the k-NN entropy");
  app.add_option("--generated", cfg.evaluation.generated, "prior samples decoded for the Fréchet distance");
  app.add_option("--classifier-epochs", cfg.classifier_epochs, "epochs of the feature classifier (when not cached)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--classifier-cache", cfg.classifier_cache, "classifier weights file (default: next to the binary)");
  app.add_option("--models", cfg.models,
                 "comma list of vae, wae, gvae (Gaussian posterior trained through the estimator: fidelity tracked)");
  app.add_option("--methods", cfg.methods, "comma list of " + im_example::method_names() + ", or all");
  app.add_option("--data-dir", cfg.data_dir, "Fashion-MNIST directory (default: $SCORELIFT_FASHION_MNIST_DIR or Debian's)");
  app.add_option("--out", cfg.out_dir, "output directory (results.json, sample files, PNG)");
  app.add_flag("--smoke", cfg.smoke, "tiny run for CTest: a few steps, one seed, a few methods");
  app.add_flag("!--no-plot", cfg.plot, "skip the matplotlib figures");
  CLI11_PARSE(app, argc, argv);
  if (cfg.score_learning_rate == 0.0) cfg.score_learning_rate = cfg.learning_rate;  // resolved once, here

  if (cfg.smoke) {
    cfg.steps = 5;
    cfg.seeds = 1;
    cfg.batch = 32;
    cfg.hidden = 64;
    cfg.score_hidden = 32;
    cfg.particles = 4;
    cfg.train_images = 2000;
    cfg.classifier_epochs = 1;
    cfg.evaluation = {.images = 200, .entropy_images = 8, .entropy_particles = 16, .entropy_neighbour = 3,
                      .generated = 200, .seed = 99};
    if (cfg.methods == "all") cfg.methods = "gaussian,stein,ssge,ssm-l1,lse-l2";
    if (cfg.models == "vae,wae") cfg.models = "vae,wae,gvae";
    cfg.fidelity_every = 2;
    if (cfg.classifier_cache.empty()) cfg.classifier_cache = cfg.out_dir + "/smoke_classifier.pt";
  }
  // The shared cache next to the binary holds the classifier trained on all 60000 images; a run on a
  // subset trains and keeps its own in --out, so it never replaces the shared one.
  if (cfg.classifier_cache.empty())
    cfg.classifier_cache = cfg.train_images == 0
                               ? (std::filesystem::path(argv[0]).parent_path() / "fashion_mnist_classifier.pt").string()
                               : cfg.out_dir + "/classifier_" + std::to_string(cfg.train_images) + "_images.pt";
  torch::set_num_threads(std::max(1, static_cast<int>(torch::get_num_threads())));
  std::filesystem::create_directories(cfg.out_dir);

  // ---- Data. ----
  const auto start = std::chrono::steady_clock::now();
  const auto train_set = scorelift::data::to_tensors(scorelift::data::load_fashion_mnist(
      scorelift::data::fashion_mnist_split::train, cfg.data_dir, cfg.train_images));
  const auto test_set = scorelift::data::to_tensors(
      scorelift::data::load_fashion_mnist(scorelift::data::fashion_mnist_split::test, cfg.data_dir));
  std::cout << "Fashion-MNIST: " << train_set.pixels.size(0) << " train / " << test_set.pixels.size(0)
            << " test images from " << scorelift::data::fashion_mnist_directory(cfg.data_dir) << "\n";

  // ---- Feature classifier (cached). ----
  const bool cached = std::filesystem::exists(cfg.classifier_cache);
  ex::progress classifier_progress("classifier", cfg.classifier_epochs);
  auto classifier = im::load_or_train_classifier(
      cfg.classifier_cache, train_set.pixels, train_set.labels, {.epochs = cfg.classifier_epochs},
      [&](index_t epoch, double loss) { classifier_progress.update(epoch, "loss " + ex::format_number(loss)); });
  const double accuracy = im::classifier_accuracy(classifier, test_set.pixels, test_set.labels);
  std::cout << "feature classifier " << (cached ? "loaded from " : "trained, saved to ") << cfg.classifier_cache
            << ": test accuracy " << ex::format_number(100.0 * accuracy, 4) << "%\n";
  const auto reference =
      im::classifier_feature_moments(classifier, test_set.pixels.narrow(0, 0, cfg.evaluation.images));

  // ---- Runs. ----
  const auto runs = im_example::select(cfg.models, cfg.methods);
  std::vector<run_result> results;
  const index_t train_n = train_set.pixels.size(0);
  for (const auto& run : runs) {
    for (index_t seed = 0; seed < cfg.seeds; ++seed) {
      torch::manual_seed(static_cast<std::uint64_t>(1000 * seed + 17));
      const auto t0 = std::chrono::steady_clock::now();
      im::autoencoder_options ae{.kind = run.kind, .data_dim = 784, .latent_dim = cfg.latent_dim, .hidden = cfg.hidden,
                                 .depth = 2, .wae_sigma = cfg.wae_sigma};
      im::implicit_trainer trainer(im::Autoencoder(ae),
                                   im_example::make_estimator(run, cfg.latent_dim, cfg.score_hidden, cfg.particles,
                                                              cfg.score_learning_rate),
                                   cfg.learning_rate, cfg.score_steps, cfg.fidelity_every);
      run_result r{run.model, run.method, seed, {}, 0.0, {}, {}, {}, {}, {}, {}, {}};
      ex::progress bar(run.model + " " + run.method + " seed " + std::to_string(seed), cfg.steps);
      torch::Tensor order = torch::randperm(train_n, torch::kInt64);
      index_t cursor = 0;
      for (index_t step = 1; step <= cfg.steps; ++step) {
        if (cursor + cfg.batch > train_n) {
          order = torch::randperm(train_n, torch::kInt64);
          cursor = 0;
        }
        const auto batch = train_set.pixels.index_select(0, order.narrow(0, cursor, cfg.batch));
        cursor += cfg.batch;
        const auto report = trainer.step(batch);
        r.loss_curve.push_back(report.loss);
        r.score_curve.push_back(report.score_loss);
        if (report.fidelity) {
          r.fidelity_steps.push_back(step);
          r.cosine.push_back(report.fidelity->cosine);
          r.relative_error.push_back(report.fidelity->relative_error);
          r.norm_ratio.push_back(report.fidelity->estimated_norm / report.fidelity->exact_norm);
          r.score_cosine.push_back(report.fidelity->score_cosine);
        }
        bar.update(step, "loss " + ex::format_number(report.loss, 4) +
                             (r.cosine.empty() ? "" : ", cos " + ex::format_number(r.cosine.back(), 3)));
      }
      r.eval = im::evaluate(trainer.model(), classifier, test_set.pixels, reference, cfg.evaluation);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (seed == 0) {
        torch::NoGradGuard no_grad;
        at::Generator g = at::detail::createCPUGenerator(7);
        write_samples(cfg.out_dir + "/samples_" + run.model + "_" + run.method + ".f32",
                      trainer.model()->decode(torch::randn({64, cfg.latent_dim}, g)));
      }
      results.push_back(std::move(r));
    }
  }

  // ---- Table (mean ± std over seeds) and JSON. ----
  ex::table table({"model", "method", "FD (classifier) ↓", "objective ↓", "reconstruction ↓", "entropy",
                   "cos(g_est, g)", "rel. error", "norm ratio", "cos(ŝ, s)", "s / run"});
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& run : runs) {
    std::vector<double> fd, objective, recon, entropy, seconds, cosine, error, ratio, score_cosine;
    for (const auto& r : results)
      if (r.model == run.model && r.method == run.method) {
        fd.push_back(r.eval.frechet);
        objective.push_back(r.eval.objective);
        recon.push_back(r.eval.reconstruction);
        entropy.push_back(r.eval.entropy);
        seconds.push_back(r.seconds);
        if (!r.cosine.empty()) {
          cosine.push_back(late_mean(r.cosine));
          error.push_back(late_mean(r.relative_error));
          ratio.push_back(late_mean(r.norm_ratio));
          score_cosine.push_back(late_mean(r.score_cosine));
        }
      }
    const auto fidelity_cell = [](const std::vector<double>& v) {
      return v.empty() ? std::string("-") : ex::format_mean_std(mean_of(v), std_of(v));
    };
    table.add({run.model, run.label, ex::format_mean_std(mean_of(fd), std_of(fd)),
               ex::format_mean_std(mean_of(objective), std_of(objective), 4),
               ex::format_mean_std(mean_of(recon), std_of(recon)), ex::format_mean_std(mean_of(entropy), std_of(entropy)),
               fidelity_cell(cosine), fidelity_cell(error), fidelity_cell(ratio), fidelity_cell(score_cosine),
               ex::format_number(mean_of(seconds), 3)});
    summary.push_back({{"model", run.model}, {"method", run.method}, {"label", run.label},
                       {"frechet_mean", mean_of(fd)}, {"frechet_std", std_of(fd)},
                       {"objective_mean", mean_of(objective)}, {"objective_std", std_of(objective)},
                       {"reconstruction_mean", mean_of(recon)}, {"reconstruction_std", std_of(recon)},
                       {"entropy_mean", mean_of(entropy)}, {"entropy_std", std_of(entropy)},
                       {"seconds_per_run", mean_of(seconds)}});
    if (!cosine.empty())
      summary.back().update({{"cosine_mean", mean_of(cosine)}, {"cosine_std", std_of(cosine)},
                             {"relative_error_mean", mean_of(error)}, {"relative_error_std", std_of(error)},
                             {"norm_ratio_mean", mean_of(ratio)}, {"norm_ratio_std", std_of(ratio)},
                             {"score_cosine_mean", mean_of(score_cosine)}, {"score_cosine_std", std_of(score_cosine)}});
  }
  std::cout << "\nTable 1 (scaled): mean ± std over " << cfg.seeds << " seed(s), " << cfg.steps
            << " steps of batch " << cfg.batch << ", D_z = " << cfg.latent_dim << "\n"
            << "objective: −ELBO in nats/image (VAE, gvae) or E‖x − x̂‖² + KL(q(z)‖N(0,I)) (WAE); "
               "entropy by k-NN (exact for the Gaussian posterior)\n"
            << "gvae: Gaussian posterior trained through the estimator; g_est, g = entropy gradients from ŝ and the "
               "exact score on the same z (rel. error = |g_est − g|/|g|, norm ratio = |g_est|/|g|; cos(ŝ, s) on the "
               "scores themselves, negative for a flipped sign), mean over the "
               "second half of training (every "
            << cfg.fidelity_every << " steps)\n\n";
  table.print();

  nlohmann::json runs_json = nlohmann::json::array();
  for (const auto& r : results)
    runs_json.push_back({{"model", r.model}, {"method", r.method}, {"seed", r.seed},
                         {"frechet", r.eval.frechet}, {"objective", r.eval.objective},
                         {"reconstruction", r.eval.reconstruction}, {"entropy", r.eval.entropy},
                         {"seconds", r.seconds}, {"loss_curve", r.loss_curve},
                         {"score_loss_curve", r.score_curve}, {"fidelity_steps", r.fidelity_steps},
                         {"cosine", r.cosine}, {"relative_error", r.relative_error}, {"norm_ratio", r.norm_ratio},
                         {"score_cosine", r.score_cosine}});
  nlohmann::json out = {
      {"config",
       {{"steps", cfg.steps}, {"batch", cfg.batch}, {"seeds", cfg.seeds}, {"latent_dim", cfg.latent_dim},
        {"hidden", cfg.hidden}, {"score_hidden", cfg.score_hidden}, {"particles", cfg.particles},
        {"learning_rate", cfg.learning_rate},
        {"score_learning_rate", cfg.score_learning_rate},
        {"score_steps", cfg.score_steps}, {"fidelity_every", cfg.fidelity_every}, {"wae_sigma", cfg.wae_sigma}, {"train_images", train_n},
        {"evaluation_images", cfg.evaluation.images}, {"entropy_images", cfg.evaluation.entropy_images},
        {"entropy_particles", cfg.evaluation.entropy_particles}, {"generated", cfg.evaluation.generated},
        {"smoke", cfg.smoke}, {"threads", torch::get_num_threads()}, {"blas", ex::blas_library_in_use()}}},
      {"classifier_accuracy", accuracy},
      {"summary", summary},
      {"runs", runs_json},
      {"total_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  const std::string json_path = cfg.out_dir + "/results.json";
  std::ofstream(json_path) << out.dump(1) << "\n";
  std::cout << "\nwrote " << json_path << " (total " << ex::format_number(out["total_seconds"].get<double>(), 3)
            << " s)\n";
  if (cfg.plot) {
    const std::string script = std::string(SCORELIFT_SOURCE_DIR) + "/examples/implicit_models/plot.py";
    if (ex::run_plot_script(script, {cfg.out_dir}))
      std::cout << "wrote " << cfg.out_dir << "/samples_vae.png, samples_wae.png, frechet.png\n";
  }
  // Sanity for the smoke test: every measured number is finite, and every gvae run measured its fidelity.
  for (const auto& r : results) {
    if (!std::isfinite(r.eval.frechet) || !std::isfinite(r.eval.objective) || !std::isfinite(r.eval.reconstruction)) {
      std::cerr << "non-finite result for " << r.model << " " << r.method << "\n";
      return 1;
    }
    const bool fidelity_expected = r.model == "gvae" && cfg.steps >= cfg.fidelity_every;
    if (fidelity_expected && (r.cosine.empty() || !(std::abs(r.cosine.back()) <= 1.0))) {
      std::cerr << "gvae " << r.method << ": no valid entropy-gradient fidelity was measured\n";
      return 1;
    }
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return scorelift::examples::guarded_main(argc, argv, run); }

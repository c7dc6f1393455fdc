// scorelift/implicit/torch/feature_classifier.hpp — a small Fashion-MNIST classifier whose
// penultimate activations are the feature space of the sample-quality distance (the role the
// Inception network plays in FID, at the scale of 28 × 28 grey images).
//
//   features φ(x) = SiLU(MLP(x)) ∈ R^{feature_dim},   logits = W φ(x) + b,
// trained with cross-entropy and Adam; weights are cached on disk (torch::save) so that every
// run, seed and method is measured in the same feature space.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "scorelift/errors.hpp"
#include "scorelift/torch/mlp.hpp"

namespace scorelift::implicit {

struct feature_classifier_options {
  index_t input_dim = 784;
  index_t hidden = 256;
  index_t feature_dim = 64;
  index_t classes = 10;
};

class FeatureClassifierImpl : public torch::nn::Module {
 public:
  explicit FeatureClassifierImpl(const feature_classifier_options& options = {})
      : trunk_(register_module("trunk", torch_ext::MLP(torch_ext::mlp_options{.input_dim = options.input_dim,
                                                                              .output_dim = options.feature_dim,
                                                                              .hidden = options.hidden,
                                                                              .depth = 1}))),
        head_(register_module("head", torch::nn::Linear(options.feature_dim, options.classes))) {}

  /// φ(x) [N, feature_dim].
  torch::Tensor features(const torch::Tensor& x) { return torch::silu(trunk_->forward(x)); }
  torch::Tensor forward(const torch::Tensor& x) { return head_->forward(features(x)); }

 private:
  torch_ext::MLP trunk_;
  torch::nn::Linear head_;
};
TORCH_MODULE(FeatureClassifier);

struct classifier_training {
  index_t epochs = 3;
  index_t batch = 128;
  double learning_rate = 1e-3;
  std::uint64_t seed = 1234;
};

/// Loads the classifier from `cache_path` when that file exists, otherwise trains it on
/// (images [N, 784] in [0, 1], labels [N] int64) and saves it there. `on_epoch(epoch, loss)` reports.
inline FeatureClassifier load_or_train_classifier(const std::string& cache_path, const torch::Tensor& images,
                                                  const torch::Tensor& labels, const classifier_training& training,
                                                  const std::function<void(index_t, double)>& on_epoch = {}) {
  FeatureClassifier classifier;
  if (!cache_path.empty() && std::filesystem::exists(cache_path)) {
    torch::load(classifier, cache_path);
    classifier->eval();
    return classifier;
  }
  scorelift::detail::require(images.dim() == 2 && labels.dim() == 1 && images.size(0) == labels.size(0) && images.size(0) > 0,
                  "load_or_train_classifier", "argument 'images' has shape ", scorelift::detail::tensor_shape_string(images),
                  " but 'labels' has shape ", scorelift::detail::tensor_shape_string(labels));
  // An untrained classifier must not reach the cache, where every later run would measure with it.
  scorelift::detail::require(training.epochs >= 1 && training.batch >= 1 && images.size(0) >= training.batch,
                             "load_or_train_classifier", "training with epochs = ", training.epochs, " and batch = ",
                             training.batch, " on ", images.size(0), " images would take no step (need epochs >= 1 and ",
                             "at least one batch of images)");
  torch::manual_seed(training.seed);
  torch::optim::Adam optimizer(classifier->parameters(), torch::optim::AdamOptions(training.learning_rate));
  const index_t n = images.size(0);
  for (index_t epoch = 0; epoch < training.epochs; ++epoch) {
    const torch::Tensor order = torch::randperm(n, torch::kInt64);
    double total = 0.0;
    index_t batches = 0;
    for (index_t begin = 0; begin + training.batch <= n; begin += training.batch) {
      const torch::Tensor index = order.narrow(0, begin, training.batch);
      const torch::Tensor loss = torch::cross_entropy_loss(classifier->forward(images.index_select(0, index)),
                                                           labels.index_select(0, index));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      total += loss.item<double>();
      ++batches;
    }
    if (on_epoch) on_epoch(epoch + 1, total / static_cast<double>(std::max<index_t>(batches, 1)));
  }
  classifier->eval();
  if (!cache_path.empty()) {
    const auto directory = std::filesystem::path(cache_path).parent_path();
    if (!directory.empty()) std::filesystem::create_directories(directory);
    torch::save(classifier, cache_path);
  }
  return classifier;
}

/// Fraction of correctly classified images.
inline double classifier_accuracy(FeatureClassifier& classifier, const torch::Tensor& images,
                                  const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  return classifier->forward(images).argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
}

}  // namespace scorelift::implicit

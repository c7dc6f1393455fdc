// scorelift/implicit/torch/evaluation.hpp — test-set measures of a trained implicit VAE / WAE,
// the columns of the paper's Table 1 at Fashion-MNIST scale:
//
//   reconstruction   mean_x E_ε ‖x − x̂(g(x, ε))‖²                           (every model)
//   objective        −ELBO = mean_x [ E_q(−log p(x|z) − log p(z)) − h(q(z|x)) ]  (VAEs, nats / image)
//                    WAE   = E ‖x − x̂(z)‖² + E_q(−log p(z)) − h(q(z))          (KL(q(z) ‖ N(0, I)) form)
//   Fréchet distance between classifier features of decoded prior samples z ~ N(0, I) and of test images.
//
// An implicit encoder has no density, so h is estimated the same way for every implicit model: the
// Kozachenko–Leonenko estimate (knn_entropy.hpp) on K particles of q(z | x) per test image (VAE),
// or on the codes of all evaluated test images (WAE, marginal). The Gaussian VAE's entropy is exact.
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include "scorelift/errors.hpp"
#include "scorelift/implicit/frechet_distance.hpp"
#include "scorelift/implicit/knn_entropy.hpp"
#include "scorelift/implicit/torch/autoencoders.hpp"
#include "scorelift/implicit/torch/feature_classifier.hpp"
#include "scorelift/torch/eval_mode.hpp"

namespace scorelift::implicit {

struct evaluation_options {
  index_t images = 2000;            // test images for reconstruction, the WAE objective and FD
  index_t entropy_images = 100;     // test images whose conditional entropy is estimated (VAE)
  index_t entropy_particles = 64;   // K particles of q(z | x) per such image
  index_t entropy_neighbour = 3;    // k of the k-NN entropy estimate
  index_t generated = 2000;         // prior samples decoded for the Fréchet distance
  std::uint64_t seed = 99;
};

struct evaluation_result {
  double reconstruction = 0.0;
  double objective = 0.0;
  double entropy = 0.0;  // the entropy term used in `objective` (conditional mean for VAEs, marginal for the WAE)
  double frechet = 0.0;
};

namespace detail {

using row_matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

inline row_matrix to_eigen(const torch::Tensor& t) {
  const torch::Tensor host = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return Eigen::Map<const row_matrix>(host.data_ptr<double>(), host.size(0), host.size(1));
}

}  // namespace detail

/// Moments of the classifier features of images [N, 784] (the reference side of the distance).
inline feature_moments classifier_feature_moments(FeatureClassifier& classifier, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return moments_of(detail::to_eigen(classifier->features(images)));
}

/// The measures above for `model` on `test_images` [N, 784]; `reference` = moments of test features.
inline evaluation_result evaluate(Autoencoder& model, FeatureClassifier& classifier, const torch::Tensor& test_images,
                                  const feature_moments& reference, const evaluation_options& options = {}) {
  constexpr const char* where = "evaluate";
  const auto& ae = model->options();
  scorelift::detail::require(test_images.dim() == 2 && test_images.size(1) == ae.data_dim &&
                                 test_images.size(0) >= std::max(options.images, options.entropy_images),
                             where, "argument 'test_images' has shape ",
                             scorelift::detail::tensor_shape_string(test_images), " but at least [",
                             std::max(options.images, options.entropy_images), ", ", ae.data_dim,
                             "] is needed by the evaluation options");
  // Every count the measures below need, checked before any is computed.
  const index_t knn_samples = ae.kind == autoencoder_kind::wae ? options.images : options.entropy_particles;
  scorelift::detail::require(
      ae.kind == autoencoder_kind::gaussian_vae || (options.entropy_neighbour >= 1 && knn_samples > options.entropy_neighbour),
      where, "option 'entropy_neighbour' is ", options.entropy_neighbour, " but the k-NN entropy needs 1 <= k < ", knn_samples,
      ae.kind == autoencoder_kind::wae ? " (option 'images')" : " (option 'entropy_particles')");
  scorelift::detail::require(options.images >= 1 && options.generated >= 2 &&
                                 (ae.kind == autoencoder_kind::wae || options.entropy_images >= 1),
                             where, "options 'images' = ", options.images, ", 'generated' = ", options.generated,
                             " and 'entropy_images' = ", options.entropy_images, " but the measures need >= 1 test image, ",
                             ">= 2 generated images (a Frechet distance) and, for a VAE, >= 1 entropy image");
  torch::NoGradGuard no_grad;
  const torch_ext::eval_mode_guard eval_mode(*model);  // the caller's mode comes back, also on a throw
  // A private generator: the same noise for every model, and the training RNG stream is untouched.
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  const auto normal = [&](index_t rows) { return torch::randn({rows, ae.latent_dim}, generator); };
  evaluation_result out;

  const torch::Tensor x = test_images.narrow(0, 0, options.images);
  const encoding code = model->encode(x, normal(x.size(0)));
  const torch::Tensor logits = model->decode_logits(code.z);
  out.reconstruction = squared_error(torch::sigmoid(logits), x).mean().item<double>();

  if (ae.kind == autoencoder_kind::wae) {
    out.entropy = knn_entropy(detail::to_eigen(code.z), options.entropy_neighbour);
    out.objective = out.reconstruction + negative_log_prior(code.z).mean().item<double>() - out.entropy;
  } else {
    // K particles per image, blocks of K rows; entropy per image, averaged.
    const index_t k = options.entropy_particles;
    const torch::Tensor xs = test_images.narrow(0, 0, options.entropy_images).repeat_interleave(k, 0);
    const encoding particles = model->encode(xs, normal(xs.size(0)));
    const torch::Tensor energy =
        negative_log_likelihood(model->decode_logits(particles.z), xs) + negative_log_prior(particles.z);
    double entropy = 0.0;
    if (ae.kind == autoencoder_kind::gaussian_vae) {
      entropy = gaussian_entropy(particles.log_std).mean().item<double>();
    } else {
      const detail::row_matrix z = detail::to_eigen(particles.z);
      for (index_t i = 0; i < options.entropy_images; ++i)
        entropy += knn_entropy(z.middleRows(i * k, k), options.entropy_neighbour);
      entropy /= static_cast<double>(options.entropy_images);
    }
    out.entropy = entropy;
    out.objective = energy.mean().item<double>() - entropy;
  }

  const torch::Tensor samples = model->decode(normal(options.generated));
  out.frechet = frechet_distance(classifier_feature_moments(classifier, samples), reference);
  return out;
}

}  // namespace scorelift::implicit

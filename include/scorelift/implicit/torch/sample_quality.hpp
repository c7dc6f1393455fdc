// scorelift/implicit/torch/sample_quality.hpp — how close generated images are to real ones, in the
// feature space of the Fashion-MNIST classifier (feature_classifier.hpp) that the implicit-model and
// diffusion examples share: the Fréchet distance (frechet_distance.hpp: the FID recipe, biased upwards by
// O(D/N), so compare at equal sample counts) and the kernel distance (kernel_distance.hpp: the KID
// recipe, unbiased, for small sample counts). Computing both for two sets of *real* images (training
// against test) gives the floor a generator is measured against.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "scorelift/errors.hpp"
#include "scorelift/implicit/frechet_distance.hpp"
#include "scorelift/implicit/kernel_distance.hpp"
#include "scorelift/implicit/torch/evaluation.hpp"
#include "scorelift/implicit/torch/feature_classifier.hpp"

namespace scorelift::implicit {

struct sample_quality {
  double frechet = 0.0;
  kernel_distance_result kernel;
  index_t generated = 0, reference = 0;
};

/// Classifier features of images [N, 784] with pixels in [0, 1], evaluated `chunk` images at a time
/// (bounded memory for tens of thousands of images), as N × F doubles on the host.
inline detail::row_matrix classifier_features(FeatureClassifier& classifier, const torch::Tensor& images,
                                             index_t chunk = 1000) {
  scorelift::detail::require(images.dim() == 2 && images.size(1) == 784 && images.size(0) >= 2, "classifier_features",
                             "argument 'images' has shape ", scorelift::detail::tensor_shape_string(images),
                             " but [N, 784] with N >= 2 was expected");
  scorelift::detail::require(chunk >= 1, "classifier_features", "argument 'chunk' is ", chunk, " but must be >= 1");
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (index_t begin = 0; begin < images.size(0); begin += chunk)
    parts.push_back(classifier->features(images.narrow(0, begin, std::min(chunk, images.size(0) - begin))));
  return detail::to_eigen(torch::cat(parts));
}

/// FD and KID between two feature sets (N × F and M × F rows, e.g. from classifier_features). Several
/// generators measured against one reference share its features this way (computed once). The kernel
/// distance averages `kernel.subsets` subsets of min(kernel.subset_size, N, M) rows, on features divided by
/// the reference features' root-mean-square entry (see below).
inline sample_quality feature_sample_quality(const detail::row_matrix& generated, const detail::row_matrix& reference,
                                             kernel_distance_options kernel = {}) {
  scorelift::detail::require(generated.cols() == reference.cols() && generated.rows() >= 2 && reference.rows() >= 2,
                             "feature_sample_quality", "arguments 'generated' [", generated.rows(), ", ",
                             generated.cols(), "] and 'reference' [", reference.rows(), ", ", reference.cols(),
                             "] must have the same number of columns and at least 2 rows each");
  sample_quality out;
  out.generated = generated.rows();
  out.reference = reference.rows();
  out.frechet = frechet_distance(moments_of(generated), moments_of(reference));
  if (kernel.subset_size != 0) kernel.subset_size = std::min({kernel.subset_size, generated.rows(), reference.rows()});
  // The cubic kernel (aᵀb/D + 1)³ was designed on Inception features, whose entries are O(1) (aᵀb/D of
  // order 0.1–1). This classifier's features are larger, and cubing aᵀb/D ≫ 1 made the subsets' spread
  // swamp the mean (measured: KID ± 40× its value for two sets of real images). Both sets are divided by
  // the reference's root-mean-square entry, one number. The kernel is then fixed by the reference set, so
  // the MMD² is unbiased given that scale; the scale's own dependence on the sample is over N·F entries,
  // a negligible bias next to the subsets' spread.
  const double scale = std::sqrt(reference.squaredNorm() / static_cast<double>(reference.size()));
  scorelift::detail::require(scale > 0.0 && std::isfinite(scale), "feature_sample_quality",
                             "the reference features' root-mean-square entry is ", scale, ", not finite and > 0");
  out.kernel = kernel_distance(generated / scale, reference / scale, kernel);
  return out;
}

/// FD and KID between the classifier features of `generated` and `reference` (both [N, 784] in [0, 1]).
inline sample_quality classifier_sample_quality(FeatureClassifier& classifier, const torch::Tensor& generated,
                                                const torch::Tensor& reference, kernel_distance_options kernel = {}) {
  return feature_sample_quality(classifier_features(classifier, generated), classifier_features(classifier, reference),
                                kernel);
}

}  // namespace scorelift::implicit

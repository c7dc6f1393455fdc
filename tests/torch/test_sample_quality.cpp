// classifier_sample_quality: features in chunks equal one pass, FD and KID equal the Eigen measures on
// those features, a shifted set is farther than a second draw of the same distribution, bad input.
#include <torch/torch.h>

#include <cmath>

#include "scorelift/implicit/torch/sample_quality.hpp"

// After LibTorch: its logging header defines glog's CHECK, which must not replace doctest's.
#include <doctest/doctest.h>

namespace im = scorelift::implicit;

namespace {
im::FeatureClassifier seeded_classifier() {
  torch::manual_seed(8);
  im::FeatureClassifier classifier;
  classifier->to(torch::kFloat64);
  classifier->eval();
  return classifier;
}
}  // namespace

TEST_CASE("classifier_sample_quality: chunked features, FD and KID of the features, ordering") {
  auto classifier = seeded_classifier();
  torch::manual_seed(9);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor real = torch::rand({300, 784}, f64), again = torch::rand({300, 784}, f64);
  const torch::Tensor shifted = torch::rand({300, 784}, f64) * 0.2 + 0.8;  // much brighter images

  const auto whole = im::classifier_features(classifier, real, 1000), chunked = im::classifier_features(classifier, real, 7);
  CHECK((whole - chunked).cwiseAbs().maxCoeff() < 1e-12);

  const scorelift::kernel_distance_options kernel{.subsets = 20, .subset_size = 500, .seed = 3};
  const auto same = im::classifier_sample_quality(classifier, again, real, kernel);
  const auto far = im::classifier_sample_quality(classifier, shifted, real, kernel);
  const auto features_again = im::classifier_features(classifier, again);
  CHECK(same.frechet == doctest::Approx(scorelift::frechet_distance(scorelift::moments_of(features_again),
                                                                     scorelift::moments_of(whole)))
                            .epsilon(1e-12));
  // subset_size 500 is capped at the 300 rows each set has.
  CHECK(same.kernel.subset_size == 300);
  // On features divided by the reference's root-mean-square entry.
  const double rms = std::sqrt(whole.squaredNorm() / static_cast<double>(whole.size()));
  CHECK(same.kernel.mean == doctest::Approx(scorelift::kernel_distance(features_again / rms, whole / rms,
                                                                       {.subsets = 20, .subset_size = 300, .seed = 3})
                                                .mean)
                               .epsilon(1e-12));
  CHECK(far.frechet > 10.0 * same.frechet);
  CHECK(far.kernel.mean > 10.0 * std::abs(same.kernel.mean));
  CHECK(same.generated == 300);
  CHECK(same.reference == 300);
}

TEST_CASE("classifier_features: bad shapes and chunks are refused naming them") {
  auto classifier = seeded_classifier();
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  CHECK_THROWS_WITH_AS(im::classifier_features(classifier, torch::zeros({4, 28, 28}, f64)),
                       doctest::Contains("'images' has shape [4, 28, 28]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(im::classifier_features(classifier, torch::zeros({4, 784}, f64), 0), doctest::Contains("'chunk' is 0"),
                       scorelift::invalid_argument);
}

TEST_CASE("feature_sample_quality: the features overload is what the images overload computes, bad shapes") {
  auto classifier = seeded_classifier();
  torch::manual_seed(10);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor generated = torch::rand({200, 784}, f64), reference = torch::rand({250, 784}, f64) * 0.5;
  const scorelift::kernel_distance_options kernel{.subsets = 10, .subset_size = 100, .seed = 5};
  const auto from_images = im::classifier_sample_quality(classifier, generated, reference, kernel);
  const auto from_features = im::feature_sample_quality(im::classifier_features(classifier, generated),
                                                        im::classifier_features(classifier, reference), kernel);
  CHECK(from_features.frechet == from_images.frechet);
  CHECK(from_features.kernel.mean == from_images.kernel.mean);
  CHECK(from_features.kernel.standard_deviation == from_images.kernel.standard_deviation);
  CHECK(from_features.generated == 200);
  CHECK(from_features.reference == 250);

  const scorelift::implicit::detail::row_matrix four_columns = scorelift::implicit::detail::row_matrix::Ones(5, 4),
                                                three_columns = scorelift::implicit::detail::row_matrix::Ones(5, 3),
                                                one_row = scorelift::implicit::detail::row_matrix::Ones(1, 4);
  CHECK_THROWS_WITH_AS(im::feature_sample_quality(four_columns, three_columns),
                       doctest::Contains("'generated' [5, 4] and 'reference' [5, 3]"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(im::feature_sample_quality(one_row, four_columns), doctest::Contains("'generated' [1, 4]"),
                       scorelift::invalid_argument);
}

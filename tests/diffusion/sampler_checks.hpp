// Shared by the sampler tests: the reference 2-D mixture and the statistical check that a sample set
// matches it. Every sampler is run with the exact noisy score of this mixture, so any error is the
// sampler's (discretisation) or Monte Carlo error.
#pragma once

#include <doctest/doctest.h>

#include <Eigen/Core>
#include <cmath>
#include <random>
#include <string>

#include "scorelift/diffusion/gaussian_mixture.hpp"

namespace scorelift::test {

using mixture_matrix = diffusion::gaussian_mixture::matrix;

/// Three well-separated components with unequal weights and different (one correlated) covariances.
inline diffusion::gaussian_mixture reference_mixture() {
  Eigen::VectorXd weights(3);
  weights << 0.5, 0.3, 0.2;
  mixture_matrix means(3, 2);
  means << -1.5, 0.0, 1.5, 1.0, 0.5, -1.5;
  Eigen::MatrixXd c0(2, 2), c1(2, 2), c2(2, 2);
  c0 << 0.09, 0.0, 0.0, 0.16;
  c1 << 0.10, 0.06, 0.06, 0.10;
  c2 << 0.04, 0.0, 0.0, 0.04;
  return diffusion::gaussian_mixture(weights, means, {c0, c1, c2});
}

/// Samples per statistical check. With N = 2000 and this mixture (Var ≈ 1.3 per coordinate) the standard
/// error of a mean is ≈ 0.026, of a covariance entry ≈ 0.04, of a component fraction ≤ 0.011.
inline constexpr index_t sample_count = 2000;

/// Standard-normal draws shaped like a state, from a fixed-seed generator.
struct gaussian_noise {
  std::mt19937_64 gen;
  explicit gaussian_noise(std::uint64_t seed) : gen(seed) {}
  mixture_matrix operator()(const mixture_matrix& like) {
    std::normal_distribution<double> normal;
    return mixture_matrix::NullaryExpr(like.rows(), like.cols(), [&] { return normal(gen); });
  }
};

/// Mean within 0.1 (≈ 4 standard errors), covariance entries within 0.15 (≈ 4 SE), component fractions
/// (nearest component by clean responsibility) within 0.045 (≈ 4 SE): a sampler that loses a mode, shrinks
/// or inflates the spread by ~10%, or mis-weights the modes fails. The looser `scale` serves samplers with
/// a known O(step) bias (Langevin), stated at the call.
inline void check_matches_mixture(const mixture_matrix& x, const diffusion::gaussian_mixture& g, const std::string& what,
                                  double scale = 1.0) {
  CAPTURE(what);
  REQUIRE(x.allFinite());
  const Eigen::VectorXd mean = x.colwise().mean().transpose();
  const mixture_matrix centred = x.rowwise() - mean.transpose();
  const Eigen::MatrixXd cov = centred.transpose() * centred / static_cast<double>(x.rows() - 1);
  const Eigen::VectorXd true_mean = g.mean();
  const Eigen::MatrixXd true_cov = g.covariance();
  CAPTURE(mean.transpose());
  CAPTURE(cov);
  CHECK((mean - true_mean).cwiseAbs().maxCoeff() < 0.1 * scale);
  CHECK((cov - true_cov).cwiseAbs().maxCoeff() < 0.15 * scale);
  const mixture_matrix gamma = g.responsibilities(x, diffusion::noise_level{1.0, 0.0});
  Eigen::VectorXd fractions = Eigen::VectorXd::Zero(g.components());
  for (index_t b = 0; b < x.rows(); ++b) {
    index_t k = 0;
    gamma.row(b).maxCoeff(&k);
    fractions(k) += 1.0 / static_cast<double>(x.rows());
  }
  CAPTURE(fractions.transpose());
  CHECK((fractions - g.weights()).cwiseAbs().maxCoeff() < 0.045 * scale);
}

}  // namespace scorelift::test

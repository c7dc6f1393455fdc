// scorelift/implicit/torch/nonparametric_latent_score.hpp — a kernel score estimator (Stein, SSGE,
// ... from include/scorelift/nonparametric, Eigen, `fit(samples)` / `score(points)`) used as the
// latent score of an implicit encoder: refitted on every batch, nothing to train in between.
//
//   marginal (WAE):         fit on the batch's z_1..z_N ~ q(z), score at the same points;
//   conditional (VAE):      the batch holds K particles z_{b,1..K} ~ q(z | x_b) per image, in
//                           consecutive blocks of K rows; each block is fitted and scored on its own.
// The Eigen estimators compute in double; z is converted on the way in and back to z's dtype.
#pragma once

#include <torch/torch.h>

#include <Eigen/Core>
#include <functional>
#include <limits>
#include <string>

#include "scorelift/errors.hpp"
#include "scorelift/implicit/torch/latent_score.hpp"

namespace scorelift::implicit {

/// `make()` returns a fresh estimator with `fit(const RowMatrix&)` and `score(const RowMatrix&)`.
template <class Estimator>
class nonparametric_latent_score final : public latent_score_estimator {
 public:
  using row_matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  /// particles = 0: one marginal fit on the whole batch; K ≥ 2: one fit per block of K rows.
  nonparametric_latent_score(std::function<Estimator()> make, index_t particles)
      : make_(std::move(make)), particles_(particles) {
    scorelift::detail::require(particles == 0 || particles >= 2, "nonparametric_latent_score", "argument 'particles' is ",
                    particles, " but must be 0 (marginal) or at least 2 (samples per context)");
  }

  double train_step(const torch::Tensor& /*z*/, const torch::Tensor& /*context*/) override {
    return std::numeric_limits<double>::quiet_NaN();
  }
  bool trainable() const override { return false; }

  torch::Tensor score(const torch::Tensor& z, const torch::Tensor& /*context*/) override {
    constexpr const char* where = "nonparametric_latent_score::score";
    scorelift::detail::require(z.defined() && z.dim() == 2, where, "argument 'z' has shape ", scorelift::detail::tensor_shape_string(z),
                    " but [N, D] was expected");
    const index_t n = z.size(0);
    const index_t block = particles_ == 0 ? n : particles_;
    scorelift::detail::require(block >= 2 && n % block == 0, where, "argument 'z' has shape ", scorelift::detail::tensor_shape_string(z),
                    " but rows must come in blocks of ", block, " particles");
    const torch::Tensor host = z.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const Eigen::Map<const row_matrix> all(host.data_ptr<double>(), n, z.size(1));
    torch::Tensor out = torch::empty({n, z.size(1)}, host.options());
    Eigen::Map<row_matrix> scores(out.data_ptr<double>(), n, z.size(1));
    for (index_t begin = 0; begin < n; begin += block) {
      const row_matrix samples = all.middleRows(begin, block);
      Estimator estimator = make_();
      estimator.fit(samples);
      scores.middleRows(begin, block) = estimator.score(samples);
    }
    return out.to(z.device(), z.scalar_type());
  }

  index_t particles() const override { return particles_ == 0 ? 1 : particles_; }

 private:
  std::function<Estimator()> make_;
  index_t particles_;
};

}  // namespace scorelift::implicit

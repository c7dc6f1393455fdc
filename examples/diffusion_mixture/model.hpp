// examples/diffusion_mixture/model.hpp — a residual stack of L time-conditioned MLP noise predictors
// with per-timestep signs, trained with DSM or LDSE on a mixture, and its two evaluations.
#pragma once

#include <torch/torch.h>

#include <Eigen/Core>
#include <random>
#include <vector>

#include "scorelift/diffusion/discrete_schedule.hpp"
#include "scorelift/diffusion/gaussian_mixture.hpp"
#include "scorelift/diffusion/parameterisation.hpp"
#include "scorelift/diffusion/torch/diffusion_loss.hpp"
#include "scorelift/diffusion/torch/unet.hpp"
#include "scorelift/torch/residual_stack.hpp"

namespace example {

namespace sd = scorelift::diffusion;
namespace sdt = scorelift::diffusion::torch_ext;
using matrix = sd::gaussian_mixture::matrix;

inline torch::Tensor to_tensor(const matrix& x, const torch::TensorOptions& options) {
  return torch::from_blob(const_cast<double*>(x.data()), {x.rows(), x.cols()}, torch::kFloat64).clone().to(options);
}
inline matrix to_matrix(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return Eigen::Map<const matrix>(c.data_ptr<double>(), c.size(0), c.size(1));
}

/// The torch layer's ResidualStack (L time-conditioned MLPs + soft signs per timestep as a saved buffer),
/// with the modes read as noise predictions ε̂_l.
struct residual_model {
  static constexpr int64_t embedding = 32;
  scorelift::torch_ext::ResidualStack stack{nullptr};
  int64_t steps;  // T

  residual_model(int64_t dim, int levels, int64_t hidden, int64_t T, torch::Device device) : steps(T) {
    scorelift::torch_ext::residual_stack_options o;
    o.network.input_dim = o.network.output_dim = dim;
    o.network.hidden = hidden;
    o.network.depth = 3;
    o.network.condition_dim = embedding;
    o.levels = levels;
    o.noise_levels = T;  // one soft sign per timestep (level t − 1) and mode
    stack = scorelift::torch_ext::ResidualStack(o);
    stack->to(device);
  }
  torch::Tensor condition(const torch::Tensor& x, const torch::Tensor& t) const {
    return sdt::timestep_embedding(t.to(x.scalar_type()) / static_cast<double>(steps), embedding);
  }
  /// ε̂_l(x̃, t) for every level: [L, B, D].
  torch::Tensor modes(const torch::Tensor& x, const torch::Tensor& t) { return stack->forward(x, condition(x, t)); }
  /// ε̂ = Σ κ_l(t) ε̂_l (DSM never moves its signs from sgn(0) = +1: the plain residual sum).
  torch::Tensor epsilon(const torch::Tensor& x, const torch::Tensor& t) {
    return stack->score(x, condition(x, t), t - 1);
  }
};

/// A fixed held-out set for the time-integrated score error: x̃_b at uniform t_b and ε*_b = −σ ∇log p_t(x̃_b).
struct score_error_set {
  matrix x_noisy, epsilon_star;
  std::vector<int64_t> t;

  score_error_set(const sd::gaussian_mixture& g, const sd::discrete_schedule& s, int64_t n, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::uniform_int_distribution<int64_t> pick(1, s.steps());
    std::normal_distribution<double> normal;
    const matrix x0 = g.sample(n, gen);
    x_noisy.resize(n, g.dim());
    epsilon_star.resize(n, g.dim());
    for (int64_t b = 0; b < n; ++b) {
      t.push_back(pick(gen));
      const sd::noise_level level = s.level(t.back());
      for (int64_t d = 0; d < g.dim(); ++d) x_noisy(b, d) = level.alpha * x0(b, d) + level.sigma * normal(gen);
      const matrix row = x_noisy.row(b);
      epsilon_star.row(b) = sd::epsilon_from_score(matrix(g.score(row, level)), level);
    }
  }
};

/// E_t E‖ε̂ − ε*‖² = E_t σ_t² E‖ŝ − ∇log p_t‖² overall and in `bins` equal ranges of t.
inline std::pair<double, std::vector<double>> score_error(residual_model& model, const score_error_set& set,
                                                          const torch::Device& device, int bins = 20) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const torch::Tensor t = torch::tensor(set.t, torch::kInt64).to(device);
  const matrix eps_hat = to_matrix(model.epsilon(to_tensor(set.x_noisy, options), t));
  const Eigen::VectorXd err = (eps_hat - set.epsilon_star).rowwise().squaredNorm();
  std::vector<double> sum(static_cast<std::size_t>(bins), 0.0), count(static_cast<std::size_t>(bins), 0.0);
  for (std::size_t b = 0; b < set.t.size(); ++b) {
    const auto bin = static_cast<std::size_t>((set.t[b] - 1) * bins / model.steps);
    sum[bin] += err(static_cast<int64_t>(b));
    count[bin] += 1.0;
  }
  for (std::size_t i = 0; i < sum.size(); ++i) sum[i] /= std::max(count[i], 1.0);
  return {err.mean(), sum};
}

}  // namespace example

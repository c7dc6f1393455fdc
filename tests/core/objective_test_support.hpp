// Shared helpers for the objective tests: random host batches, their backend copies, naive
// reference values written straight from the DESIGN.md formulas, and central finite differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "backends_under_test.hpp"
#include "scorelift/objectives/score_batch.hpp"

namespace scorelift::test {

/// A score_batch's contents on the host (double), indexable by the reference formulas.
struct host_batch {
  std::vector<host_matrix> modes;
  std::optional<host_matrix> target;
  std::vector<std::vector<double>> divergence;
  std::optional<std::vector<double>> weights;
  std::vector<std::vector<double>> signs;

  index_t batch() const { return modes.front().rows; }
  index_t dim() const { return modes.front().cols; }
  index_t levels() const { return static_cast<index_t>(modes.size()); }
};

struct batch_options {
  index_t batch = 5, dim = 3, levels = 2;
  bool target = true, weights = false, signs = false, soft_signs = false;
  /// Round every drawn value to float, so that float and double backends see the same numbers.
  bool round_to_float = false;
};

inline double maybe_rounded(double x, bool round_to_float) {
  return round_to_float ? static_cast<double>(static_cast<float>(x)) : x;
}

/// rows × cols standard normal values.
inline host_matrix random_matrix(index_t rows, index_t cols, std::mt19937_64& gen, bool round_to_float = false) {
  std::normal_distribution<double> normal;
  host_matrix m{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols))};
  for (double& v : m.values) v = maybe_rounded(normal(gen), round_to_float);
  return m;
}

/// n values uniform in [low, high).
inline std::vector<double> random_vector(index_t n, std::mt19937_64& gen, double low = -1.0, double high = 1.0,
                                         bool round_to_float = false) {
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = maybe_rounded(uniform(gen), round_to_float);
  return v;
}

inline host_batch random_batch(const batch_options& o, std::mt19937_64& gen) {
  const bool r = o.round_to_float;
  host_batch h;
  for (index_t l = 0; l < o.levels; ++l) h.modes.push_back(random_matrix(o.batch, o.dim, gen, r));
  if (o.target) {
    h.target = random_matrix(o.batch, o.dim, gen, r);
  } else {
    for (index_t l = 0; l < o.levels; ++l) h.divergence.push_back(random_vector(o.batch, gen, -2.0, 2.0, r));
  }
  if (o.weights) h.weights = random_vector(o.batch, gen, 0.2, 2.0, r);
  if (o.signs) {
    std::bernoulli_distribution coin;
    for (index_t l = 0; l < o.levels; ++l) {
      std::vector<double> s = random_vector(o.batch, gen, 0.3, 1.5, r);
      for (double& x : s) x = (coin(gen) ? -1.0 : 1.0) * (o.soft_signs ? x : 1.0);
      h.signs.push_back(s);
    }
  }
  return h;
}

/// Backend copies of a host batch, and the score_batch of views over them (owners outlive views).
template <class B>
struct backend_batch {
  std::vector<typename B::matrix_type> modes;
  std::optional<typename B::matrix_type> target;
  score_batch<B> batch;

  explicit backend_batch(const host_batch& h) {
    for (const auto& m : h.modes) modes.push_back(convert<B>::matrix(m));
    if (h.target) target = convert<B>::matrix(*h.target);
    for (const auto& m : modes) batch.modes.emplace_back(m);
    if (target) batch.target.emplace(*target);
    for (const auto& d : h.divergence) batch.divergence.push_back(convert<B>::vector(d));
    if (h.weights) batch.weights = convert<B>::vector(*h.weights);
    for (const auto& s : h.signs) batch.signs.push_back(convert<B>::vector(s));
  }
  backend_batch(const backend_batch&) = delete;
  backend_batch& operator=(const backend_batch&) = delete;
};

inline double weight_of(const host_batch& h, index_t b) {
  return h.weights ? (*h.weights)[static_cast<std::size_t>(b)] : 1.0;
}
inline double sign_of(const host_batch& h, index_t l, index_t b) {
  return h.signs.empty() ? 1.0 : h.signs[static_cast<std::size_t>(l)][static_cast<std::size_t>(b)];
}

/// Central difference of `value(h)` with respect to one scalar of `h` (reached through `entry`).
/// Every objective here is at most quadratic in any single input scalar, so the central difference
/// is exact up to rounding; the step only trades rounding against nothing.
inline double central_difference(host_batch& h, double& entry, const std::function<double(const host_batch&)>& value,
                                 double step = 1e-3) {
  const double saved = entry;
  entry = saved + step;
  const double plus = value(h);
  entry = saved - step;
  const double minus = value(h);
  entry = saved;
  return (plus - minus) / (2.0 * step);
}

/// max |x|, the scale of a gradient tensor for relative comparisons.
inline double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

}  // namespace scorelift::test

namespace scorelift::test {

/// Worst relative disagreement between returned gradients and central differences:
///   max_i |fd_i − g_i| / max(|g_i|, 1e-3 · max_j |g_j|).
/// Modes are differentiated through their own level's value only (L_l / L: the semi-gradient,
/// earlier levels held constant inside L_l); target and divergence through the full value.
template <class B, class Loss>
struct gradient_check {
  double modes = 0.0, target = 0.0, divergence = 0.0;
  std::size_t entries = 0;

  gradient_check(host_batch h, Loss loss) {
    const backend_batch<B> at(h);
    const objective_result<B> result = loss(at.batch);
    const auto levels = static_cast<double>(h.levels());
    const auto evaluate = [&loss](const host_batch& hh) {
      const backend_batch<B> moved(hh);
      return loss(moved.batch);
    };
    const auto compare = [this](double& worst, const std::vector<double>& grad, const std::vector<double>& fd) {
      const double floor = 1e-3 * max_abs(grad) + 1e-300;
      for (std::size_t i = 0; i < grad.size(); ++i)
        worst = std::max(worst, std::abs(fd[i] - grad[i]) / std::max(std::abs(grad[i]), floor));
      entries += grad.size();
    };
    for (std::size_t l = 0; l < h.modes.size(); ++l) {
      const auto level_value = [&](const host_batch& hh) { return evaluate(hh).level_values[l] / levels; };
      std::vector<double> fd;
      for (double& x : h.modes[l].values) fd.push_back(central_difference(h, x, level_value));
      compare(modes, convert<B>::host(result.grad_modes[l]).values, fd);
    }
    const auto full_value = [&](const host_batch& hh) { return evaluate(hh).value; };
    if (h.target) {
      std::vector<double> fd;
      for (double& x : h.target->values) fd.push_back(central_difference(h, x, full_value));
      compare(target, convert<B>::host(*result.grad_target).values, fd);
    }
    for (std::size_t l = 0; l < h.divergence.size(); ++l) {
      std::vector<double> fd;
      for (double& x : h.divergence[l]) fd.push_back(central_difference(h, x, full_value));
      compare(divergence, convert<B>::host_vector(result.grad_divergence[l]), fd);
    }
  }
};

}  // namespace scorelift::test

#include <Eigen/Dense>

namespace scorelift::test {

inline host_matrix to_host(const Eigen::MatrixXd& m) {
  host_matrix h{m.rows(), m.cols(), std::vector<double>(static_cast<std::size_t>(m.size()))};
  for (index_t r = 0; r < m.rows(); ++r)
    for (index_t c = 0; c < m.cols(); ++c) h(r, c) = m(r, c);
  return h;
}

/// p = N(μ, Σ) with a known score s(x) = −Σ⁻¹(x − μ), and a linear model f(x) = W x + b: the
/// closed forms the statistical tests compare against.
struct gaussian_linear_problem {
  Eigen::VectorXd mu;
  Eigen::MatrixXd chol;       // Σ = chol cholᵀ
  Eigen::MatrixXd sigma;
  Eigen::MatrixXd precision;  // Σ⁻¹
  Eigen::MatrixXd w;
  Eigen::VectorXd bias;

  static gaussian_linear_problem random(index_t d, std::mt19937_64& gen) {
    gaussian_linear_problem p;
    const auto normal = [&gen](index_t r, index_t c) {
      std::normal_distribution<double> z;
      return Eigen::MatrixXd(Eigen::MatrixXd::NullaryExpr(r, c, [&] { return z(gen); }));
    };
    p.mu = normal(d, 1);
    p.chol = normal(d, d) * 0.3;
    p.chol.diagonal().array() += 1.0;  // well conditioned
    p.sigma = p.chol * p.chol.transpose();
    p.precision = p.sigma.inverse();
    p.w = normal(d, d) * 0.5;
    p.bias = normal(d, 1) * 0.5;
    return p;
  }
  index_t dim() const { return mu.size(); }
  /// n samples, one per row.
  Eigen::MatrixXd sample(index_t n, std::mt19937_64& gen) const {
    std::normal_distribution<double> z;
    const Eigen::MatrixXd noise = Eigen::MatrixXd::NullaryExpr(n, dim(), [&] { return z(gen); });
    return (noise * chol.transpose()).rowwise() + mu.transpose();
  }
  Eigen::MatrixXd model(const Eigen::MatrixXd& x) const { return (x * w.transpose()).rowwise() + bias.transpose(); }
  Eigen::MatrixXd score(const Eigen::MatrixXd& x) const { return -(x.rowwise() - mu.transpose()) * precision; }
  double trace_w() const { return w.trace(); }
  /// E‖f(x)‖² = ‖Wμ + b‖² + tr(W Σ Wᵀ).
  double mean_norm_f() const { return (w * mu + bias).squaredNorm() + (w * sigma * w.transpose()).trace(); }
};

/// Mean and standard error of K independent replicates.
struct replicate_mean {
  double mean = 0.0, standard_error = 0.0;
  explicit replicate_mean(const std::vector<double>& values) {
    const auto k = static_cast<double>(values.size());
    for (double v : values) mean += v / k;
    double ss = 0.0;
    for (double v : values) ss += (v - mean) * (v - mean);
    standard_error = std::sqrt(ss / (k - 1.0) / k);
  }
};

}  // namespace scorelift::test

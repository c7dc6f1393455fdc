// scorelift/analysis/known_score_targets.hpp — the suite's banana and funnel on Eigen (double): exact
// samples and the analytic score, with the parameterisation of scorelift/torch/targets/{banana,funnel}.hpp.
//
// Banana:  z ~ N(0, diag(a², 1)),  x₁ = z₁,  x₂ = z₂ + b (z₁² − a²)   (unit Jacobian),
//          log p = −x₁²/(2a²) − u²/2 + const,  u = x₂ − b (x₁² − a²),
//          s(x)  = ( −x₁/a² + 2 b x₁ u ,  −u ).
// Funnel:  v ~ N(0, τ²),  x_i | v ~ N(0, e^v)  (i = 1..D−1),  the first coordinate is v,
//          log p = −v²/(2τ²) − (D−1) v/2 − e^{−v} Σ_i x_i²/2 + const,
//          s_v = −v/τ² − (D−1)/2 + e^{−v} Σ_i x_i²/2,   s_i = −x_i e^{−v}.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <random>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/detail/funnel_parameters.hpp"

namespace scorelift::analysis {

namespace detail {
inline void require_count(index_t n, const char* where) {
  scorelift::detail::require(n >= 0, where, "argument 'n' is ", n, " but must be >= 0");
}
inline void require_points(const Eigen::Ref<const Eigen::MatrixXd>& x, index_t dim, const char* where) {
  scorelift::detail::require(x.cols() == dim, where, "argument 'x' has shape ",
                             scorelift::detail::shape_string({x.rows(), x.cols()}), " but the target has dimension ", dim);
}
}  // namespace detail

class banana_target {
 public:
  explicit banana_target(double a = 2.0, double b = 0.25) : a_(a), b_(b) {
    scorelift::detail::require(a > 0 && std::isfinite(a) && std::isfinite(b), "analysis::banana_target",
                               "arguments 'a' = ", a, " and 'b' = ", b, " must be finite with a > 0");
  }
  index_t dim() const { return 2; }

  template <class Generator>
  Eigen::MatrixXd sample(index_t n, Generator& gen) const {
    detail::require_count(n, "analysis::banana_target::sample");
    std::normal_distribution<double> z;
    Eigen::MatrixXd x(n, 2);
    for (index_t i = 0; i < n; ++i) {
      x(i, 0) = a_ * z(gen);
      x(i, 1) = z(gen) + b_ * (x(i, 0) * x(i, 0) - a_ * a_);
    }
    return x;
  }

  double log_density(double x1, double x2) const {  // up to the normalising constant
    const double u = x2 - b_ * (x1 * x1 - a_ * a_);
    return -x1 * x1 / (2 * a_ * a_) - u * u / 2;
  }

  Eigen::MatrixXd score(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    detail::require_points(x, 2, "analysis::banana_target::score");
    Eigen::MatrixXd s(x.rows(), 2);
    for (index_t i = 0; i < x.rows(); ++i) {
      const double x1 = x(i, 0), u = x(i, 1) - b_ * (x1 * x1 - a_ * a_);
      s(i, 0) = -x1 / (a_ * a_) + 2 * b_ * x1 * u;
      s(i, 1) = -u;
    }
    return s;
  }

 private:
  double a_, b_;
};

class funnel_target {
 public:
  explicit funnel_target(index_t dim = 2, double tau = 3.0) : dim_(dim), tau_(tau) {
    scorelift::detail::require_funnel_parameters("analysis::funnel_target", dim, tau);
  }
  index_t dim() const { return dim_; }

  template <class Generator>
  Eigen::MatrixXd sample(index_t n, Generator& gen) const {
    detail::require_count(n, "analysis::funnel_target::sample");
    std::normal_distribution<double> z;
    Eigen::MatrixXd x(n, dim_);
    for (index_t i = 0; i < n; ++i) {
      x(i, 0) = tau_ * z(gen);
      const double sd = std::exp(0.5 * x(i, 0));  // x_i | v has standard deviation e^{v/2}
      for (index_t j = 1; j < dim_; ++j) x(i, j) = sd * z(gen);
    }
    return x;
  }

  double log_density(const Eigen::Ref<const Eigen::VectorXd>& x) const {  // up to the normalising constant
    scorelift::detail::require(x.size() == dim_, "analysis::funnel_target::log_density", "argument 'x' has ", x.size(),
                               " entries but the funnel has D = ", dim_);
    const double v = x(0);
    return -v * v / (2 * tau_ * tau_) - 0.5 * double(dim_ - 1) * v - 0.5 * std::exp(-v) * x.tail(dim_ - 1).squaredNorm();
  }

  Eigen::MatrixXd score(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    detail::require_points(x, dim_, "analysis::funnel_target::score");
    Eigen::MatrixXd s(x.rows(), dim_);
    for (index_t i = 0; i < x.rows(); ++i) {
      const double v = x(i, 0), precision = std::exp(-v);
      const auto rest = x.row(i).tail(dim_ - 1);
      s(i, 0) = -v / (tau_ * tau_) - 0.5 * double(dim_ - 1) + 0.5 * precision * rest.squaredNorm();
      s.row(i).tail(dim_ - 1) = -precision * rest;
    }
    return s;
  }

 private:
  index_t dim_;
  double tau_;
};

}  // namespace scorelift::analysis

// The fused lifted loss on the GPU — hand-written kernels, the Thrust code on thrust::cuda::par, and
// the generic lifted_residual_loss on thrust_backend (CUDA device system) — against the same fused
// code run on the CPU through thrust::cpp::par (which tests/thrust checks against Eigen and finite
// differences). Double: 1e-12, float: 1e-5, relative to each tensor's largest entry. Odd and even
// B, L = 1..4, D from 2 to 12288 (several blocks per row, a ragged last block), both target and
// divergence forms, weights and per-sample signs.
#include <doctest/doctest.h>
#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/system/cpp/execution_policy.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "scorelift/backends/thrust.hpp"
#include "scorelift/cuda/lifted_kernels.cuh"
#include "scorelift/cuda/lifted_on_stream.cuh"
#include "scorelift/objectives/lifted.hpp"

using scorelift::index_t;
using scorelift::lifted_options;
namespace fused = scorelift::fused;

namespace {

template <class S>
struct problem {
  index_t batch = 0, dim = 0;
  int levels = 0;
  bool has_target = true;
  std::vector<std::vector<S>> modes, divergence, signs;
  std::vector<S> target, weights;
};

template <class S>
problem<S> make_problem(index_t batch, index_t dim, int levels, bool has_target, bool weighted, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  const auto draw = [&](std::size_t n, double scale) {
    std::vector<S> v(n);
    for (S& x : v) x = static_cast<S>(scale * normal(gen));
    return v;
  };
  problem<S> p{batch, dim, levels, has_target, {}, {}, {}, {}, {}};
  const auto n = static_cast<std::size_t>(batch * dim);
  for (int l = 0; l < levels; ++l) {
    p.modes.push_back(draw(n, 1.0));
    if (!has_target) p.divergence.push_back(draw(static_cast<std::size_t>(batch), std::sqrt(static_cast<double>(dim))));
    std::vector<S> kappa(static_cast<std::size_t>(batch));
    for (S& k : kappa) k = gen() % 2 == 0 ? S(1) : S(-1);
    if (weighted) p.signs.push_back(kappa);
  }
  if (has_target) p.target = draw(n, 1.0);
  if (weighted) {
    p.weights = draw(static_cast<std::size_t>(batch), 0.3);
    for (S& w : p.weights) w = S(1) + std::abs(w);
  }
  return p;
}

/// Everything a call produces, on the host.
template <class S>
struct outcome {
  fused::lifted_evaluation evaluation;
  std::vector<std::vector<S>> grad_modes, grad_divergence;
  std::vector<S> grad_target;
};

/// The problem's tensors in memory of type Vector (std::vector: host; thrust::device_vector: GPU),
/// wired into lifted_inputs / lifted_outputs.
template <class S, class Vector>
struct wired {
  std::vector<Vector> modes, divergence, signs, grad_modes, grad_divergence;
  Vector target, weights, grad_target;
  fused::lifted_inputs<S> in;
  fused::lifted_outputs<S> out;

  explicit wired(const problem<S>& p) {
    const auto n = static_cast<std::size_t>(p.batch * p.dim);
    const auto copy = [](const std::vector<S>& v) { return Vector(v.begin(), v.end()); };
    for (const auto& m : p.modes) modes.push_back(copy(m));
    for (const auto& d : p.divergence) divergence.push_back(copy(d));
    for (const auto& k : p.signs) signs.push_back(copy(k));
    target = copy(p.target);
    weights = copy(p.weights);
    grad_modes.assign(static_cast<std::size_t>(p.levels), Vector(n));
    if (p.has_target) grad_target = Vector(n);
    if (!p.has_target) grad_divergence.assign(static_cast<std::size_t>(p.levels), Vector(static_cast<std::size_t>(p.batch)));
    in.batch = p.batch;
    in.dim = p.dim;
    in.levels = p.levels;
    const auto raw = [](auto& v) { return v.empty() ? nullptr : thrust::raw_pointer_cast(v.data()); };
    for (std::size_t l = 0; l < static_cast<std::size_t>(p.levels); ++l) {
      in.modes[l] = raw(modes[l]);
      out.modes[l] = raw(grad_modes[l]);
      if (!divergence.empty()) in.divergence[l] = raw(divergence[l]);
      if (!grad_divergence.empty()) out.divergence[l] = raw(grad_divergence[l]);
      if (!signs.empty()) in.signs[l] = raw(signs[l]);
    }
    in.target = raw(target);
    in.weights = raw(weights);
    out.target = raw(grad_target);
  }

  outcome<S> collect(fused::lifted_evaluation evaluation) const {
    const auto host = [](const Vector& v) {
      std::vector<S> h(v.size());
      thrust::copy(v.begin(), v.end(), h.begin());
      return h;
    };
    outcome<S> o{std::move(evaluation), {}, {}, host(grad_target)};
    for (const auto& g : grad_modes) o.grad_modes.push_back(host(g));
    for (const auto& g : grad_divergence) o.grad_divergence.push_back(host(g));
    return o;
  }
};

template <class S>
outcome<S> run_cpu(const problem<S>& p, const lifted_options& options) {
  wired<S, std::vector<S>> w(p);
  return w.collect(fused::lifted_loss(thrust::cpp::par, w.in, w.out, options));
}

template <class S>
outcome<S> run_gpu(const problem<S>& p, const lifted_options& options, fused::cuda_implementation implementation) {
  wired<S, thrust::device_vector<S>> w(p);
  fused::lifted_evaluation evaluation = fused::lifted_loss_on_cuda(w.in, w.out, options, nullptr, nullptr, implementation);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  return w.collect(std::move(evaluation));
}

/// The generic objective on thrust_backend<S>, whose device system is CUDA in this translation unit.
template <class S>
outcome<S> run_generic_gpu(const problem<S>& p, const lifted_options& options) {
  using B = scorelift::thrust_backend<S>;
  std::vector<typename B::matrix_type> modes;
  for (const auto& m : p.modes) modes.push_back(B::from_host(p.batch, p.dim, m));
  scorelift::score_batch<B> batch;
  for (const auto& m : modes) batch.modes.emplace_back(m);
  const auto target = p.has_target ? B::from_host(p.batch, p.dim, p.target) : typename B::matrix_type{};
  if (p.has_target) batch.target.emplace(target);
  const auto vec = [](const std::vector<S>& v) { return typename B::vector_type(v.begin(), v.end()); };
  for (const auto& d : p.divergence) batch.divergence.push_back(vec(d));
  for (const auto& k : p.signs) batch.signs.push_back(vec(k));
  if (!p.weights.empty()) batch.weights = vec(p.weights);
  const auto result = scorelift::lifted_residual_loss(batch, options);

  outcome<S> o;
  o.evaluation.value = result.value;
  o.evaluation.level_values = result.level_values;
  o.evaluation.residual_alignment = result.residual_alignment;
  const auto host = [](const auto& v) {
    std::vector<S> h(v.size());
    thrust::copy(v.begin(), v.end(), h.begin());
    return h;
  };
  for (const auto& g : result.grad_modes) o.grad_modes.push_back(host(g.values));
  for (const auto& g : result.grad_divergence) o.grad_divergence.push_back(host(g));
  if (result.grad_target) o.grad_target = host(result.grad_target->values);
  return o;
}

template <class X, class Y>
void check_close(const std::vector<X>& got, const std::vector<Y>& want, double tol, const char* what) {
  REQUIRE(got.size() == want.size());
  double scale = 1.0, error = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
    error = std::max(error, std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
  }
  INFO(what << ": max error " << error << " at scale " << scale);
  CHECK(error <= tol * scale);
}

template <class S>
void check_same(const outcome<S>& got, const outcome<S>& want) {
  const double tol = std::is_same_v<S, double> ? 1e-12 : 1e-5;
  check_close(std::vector<double>{got.evaluation.value}, std::vector<double>{want.evaluation.value}, tol, "value");
  check_close(got.evaluation.level_values, want.evaluation.level_values, tol, "level values");
  check_close(got.evaluation.residual_alignment, want.evaluation.residual_alignment, tol, "alignment");
  REQUIRE(got.grad_modes.size() == want.grad_modes.size());
  for (std::size_t l = 0; l < got.grad_modes.size(); ++l) check_close(got.grad_modes[l], want.grad_modes[l], tol, "grad_modes");
  check_close(got.grad_target, want.grad_target, tol, "grad_target");
  REQUIRE(got.grad_divergence.size() == want.grad_divergence.size());
  for (std::size_t l = 0; l < got.grad_divergence.size(); ++l)
    check_close(got.grad_divergence[l], want.grad_divergence[l], tol, "grad_divergence");
}

template <class S>
void check_all_paths(const problem<S>& p, const lifted_options& options) {
  const outcome<S> cpu = run_cpu(p, options);
  REQUIRE(cpu.evaluation.finite);
  {
    INFO("hand-written CUDA kernels");
    check_same(run_gpu(p, options, fused::cuda_implementation::hand_written), cpu);
  }
  {
    INFO("Thrust code on thrust::cuda::par");
    check_same(run_gpu(p, options, fused::cuda_implementation::thrust), cpu);
  }
  {
    INFO("generic lifted_residual_loss on thrust_backend (CUDA)");
    check_same(run_generic_gpu(p, options), cpu);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("CUDA fused lifted loss equals the CPU path: targets, L = 1..4, odd B, D up to 12288", S, double,
                   float) {
  std::uint64_t seed = 1;
  for (const index_t dim : {2, 37, 2049, 12288}) {
    for (int levels = 1; levels <= 4; ++levels) {
      CAPTURE(dim);
      CAPTURE(levels);
      check_all_paths(make_problem<S>(dim > 4096 ? 9 : 13, dim, levels, true, levels % 2 == 0, ++seed), {});
    }
  }
  check_all_paths(make_problem<S>(128, 3072, 3, true, true, ++seed), {true, false});
  check_all_paths(make_problem<S>(6, 100, 2, true, true, ++seed), {true, true});
}

TEST_CASE_TEMPLATE("CUDA fused lifted loss equals the CPU path in the divergence (LSE) form", S, double, float) {
  for (int levels = 1; levels <= 4; ++levels) {
    CAPTURE(levels);
    check_all_paths(make_problem<S>(11, 5000, levels, false, true, 100 + static_cast<std::uint64_t>(levels)), {});
  }
}

TEST_CASE("CUDA fused lifted loss reports a non-finite input instead of writing gradients") {
  problem<double> p = make_problem<double>(8, 300, 2, true, false, 7);
  p.modes[1][5 * 300 + 17] = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(run_gpu(p, {}, fused::cuda_implementation::hand_written).evaluation.finite);
  CHECK_FALSE(run_gpu(p, {}, fused::cuda_implementation::thrust).evaluation.finite);
}

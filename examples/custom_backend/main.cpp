// custom_backend: bring your own backend. row_buffer_backend.hpp adapts scorelift to a plain
// row-major std::vector<double> with a row stride; this program
//   1. runs the conformance kit on it (every objective, probe and sign-tracker check against the
//      Eigen reference, on padded rows so every view the kit reads is strided), and
//   2. trains residual stacks (L = 1, 2) of linear score models f_l(x) = A_l x + c_l with the lifted
//      losses LDSE and LSE on data the program owns, with the chain rule written by hand and the signs
//      κ_l from a sign_tracker, printing a table, and
//   3. runs the DDIM sampler on the same row_buffer type (a diffusion_state through two operators).
// Data: x ~ N(0, I₂). LDSE: noisy x̃ = x + σε, target t = −ε/σ, score s(x̃) = −x̃/(1 + σ²); LSE: the
// score s(x) = −x through −tr ∇f. The lifted loss is minimised by ŝ = Σ κ_l f_l = s: Σ κ_l A_l → A*.
#include <array>
#include <cmath>
#include <cstdio>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "row_buffer_backend.hpp"
#include "scorelift/diffusion/discrete_schedule.hpp"
#include "scorelift/diffusion/samplers/ddim.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/residual/sign_tracker.hpp"
#include "scorelift/testing/backend_conformance.hpp"

namespace {

using custom::padded_converter;
using custom::row_buffer;
using custom::row_buffer_backend;
using scorelift::index_t;

enum class lifted_method { ldse, lse };

/// Trains a residual stack of L linear modes f_l(x) = A_l x + c_l (2 × 2 matrices) with the lifted loss
/// — LDSE on x̃ = x + σε with the Tweedie target −ε/σ, or LSE on x with ⟨s, f_l⟩ = −tr ∇f_l = −tr A_l —
/// and the chain rule by hand; returns the last loss and |Σ_l κ_l A_l − A*|_F against the true score's
/// matrix A* (s(x̃) = −x̃/(1 + σ²) for LDSE, s(x) = −x for LSE; c* = 0).
std::pair<double, double> train(lifted_method method, int levels) {
  constexpr index_t dim = 2, batch = 256, steps = 400;
  const double sigma = 0.5;
  const bool denoising = method == lifted_method::ldse;
  const double optimum = denoising ? -1.0 / (1.0 + sigma * sigma) : -1.0;
  std::mt19937_64 gen(7);
  std::normal_distribution<double> normal;
  std::vector<std::array<double, 4>> A(static_cast<std::size_t>(levels));  // A_l row-major
  std::vector<std::array<double, 2>> c(static_cast<std::size_t>(levels), {0.0, 0.0});
  // Level 1 starts at a random 0.1 scale; the residual levels near 0, where the residual they fit is
  // (the lifted loss pulls a mode towards 0 only through ½ G_A G_B, a quartic, so from far away slowly).
  for (std::size_t l = 0; l < A.size(); ++l) {
    const double scale = l == 0 ? 0.1 : 0.01;
    A[l] = {scale * normal(gen), scale * normal(gen), scale * normal(gen), scale * normal(gen)};
  }
  scorelift::sign_tracker tracker(levels);

  // Batches the program owns; the inputs have padded rows (stride 4 for 2 columns), read in place
  // through strided views.
  row_buffer input(batch, dim, 4), target(batch, dim);
  std::vector<row_buffer> modes(static_cast<std::size_t>(levels), row_buffer(batch, dim));
  double loss = 0.0;
  for (index_t step = 0; step < steps; ++step) {
    for (index_t b = 0; b < batch; ++b)
      for (index_t i = 0; i < dim; ++i) {
        const double x = normal(gen), eps = normal(gen);
        input(b, i) = denoising ? x + sigma * eps : x;
        target(b, i) = -eps / sigma;
      }
    scorelift::score_batch<row_buffer_backend> lifted_batch;
    for (int l = 0; l < levels; ++l) {  // forward: f_l,b = A_l x_b + c_l
      auto& f = modes[static_cast<std::size_t>(l)];
      const auto& a = A[static_cast<std::size_t>(l)];
      for (index_t b = 0; b < batch; ++b)
        for (index_t i = 0; i < dim; ++i)
          f(b, i) = a[static_cast<std::size_t>(2 * i)] * input(b, 0) + a[static_cast<std::size_t>(2 * i + 1)] * input(b, 1) +
                    c[static_cast<std::size_t>(l)][static_cast<std::size_t>(i)];
      lifted_batch.modes.push_back(f);
      if (!denoising) {
        const auto& al = A[static_cast<std::size_t>(l)];
        lifted_batch.divergence.push_back(row_buffer_backend::filled(batch, al[0] + al[3], f));  // tr ∇f_l = tr A_l
      }
    }
    if (denoising) lifted_batch.target = target;
    lifted_batch.signs = tracker.signs_for<row_buffer_backend>(batch, modes.front());
    const auto result = scorelift::lifted_residual_loss(lifted_batch);
    tracker.update(result.residual_alignment);
    loss = result.value;

    // Backward by hand: ∂/∂A_l,ij = Σ_b g_bi x_bj (+ ∂/∂div_b for i = j), ∂/∂c_l,i = Σ_b g_bi.
    const double learning_rate = 0.05 / (1.0 + static_cast<double>(step) / 100.0);  // decays: averages the noise
    for (int l = 0; l < levels; ++l) {
      const row_buffer& g = result.grad_modes[static_cast<std::size_t>(l)];
      std::array<double, 4> grad_a{};
      std::array<double, 2> grad_c{};
      for (index_t b = 0; b < batch; ++b)
        for (index_t i = 0; i < dim; ++i) {
          for (index_t j = 0; j < dim; ++j) grad_a[static_cast<std::size_t>(2 * i + j)] += g(b, i) * input(b, j);
          grad_c[static_cast<std::size_t>(i)] += g(b, i);
        }
      if (!denoising) {
        const double trace = row_buffer_backend::sum(result.grad_divergence[static_cast<std::size_t>(l)], 0, batch);
        grad_a[0] += trace;
        grad_a[3] += trace;
      }
      for (std::size_t k = 0; k < 4; ++k) A[static_cast<std::size_t>(l)][k] -= learning_rate * grad_a[k];
      for (std::size_t i = 0; i < 2; ++i) c[static_cast<std::size_t>(l)][i] -= learning_rate * grad_c[i];
    }
  }
  // ŝ = Σ_l κ_l f_l: its matrix against A*.
  double error = 0.0;
  for (std::size_t k = 0; k < 4; ++k) {
    double sum = 0.0;
    for (int l = 0; l < levels; ++l) sum += tracker.sign(l) * A[static_cast<std::size_t>(l)][k];
    error += std::pow(sum - (k == 0 || k == 3 ? optimum : 0.0), 2);
  }
  return {loss, std::sqrt(error)};
}

}  // namespace

int main() {
  // 1. Conformance.
  const auto report = scorelift::testing::check_backend<row_buffer_backend>(padded_converter{});
  std::printf("%s", report.summary().c_str());
  if (!report.passed()) return 1;
  std::printf("row_buffer_backend passes the conformance kit\n\n");

  // 2. Lifted training of a residual stack of linear models on this backend.
  std::printf("%-6s  %2s  %12s  %22s\n", "method", "L", "final loss", "|sum_l k_l A_l - A*|_F");
  bool all_learned = true;
  for (const auto& [method, levels] : {std::pair{lifted_method::ldse, 1}, std::pair{lifted_method::ldse, 2},
                                       std::pair{lifted_method::lse, 1}, std::pair{lifted_method::lse, 2}}) {
    const auto [loss, error] = train(method, levels);
    const bool learned = error < 0.1;
    all_learned = all_learned && learned;
    std::printf("%-6s  %2d  %12.5f  %22.4f  %s\n", method == lifted_method::ldse ? "LDSE" : "LSE", levels, loss, error,
                learned ? "" : "(FAILED: >= 0.1)");
  }

  // 3. DDIM on the same type (row_buffer is a diffusion_state). For data N(0, I₂) every noisy marginal is
  // N(0, I₂) too and the exact noise prediction is ε̂(x_t, t) = σ_t x_t, so x̂₀ = α_t x_t and one
  // deterministic step multiplies x by √ᾱ_prev α_t + √(1 − ᾱ_prev) σ_t: the samples' variance must be the
  // product of those factors squared (slightly below 1: DDIM's discretisation error on this target).
  const auto schedule = scorelift::diffusion::cosine_schedule(1000);
  const scorelift::diffusion::ddim_options sampling{.steps = 50, .eta = 0.0};
  std::mt19937_64 gen(11);
  std::normal_distribution<double> normal;
  const auto standard_normal = [&](const row_buffer& like) {
    row_buffer out(like.rows, like.cols);
    for (index_t r = 0; r < like.rows; ++r)
      for (index_t c = 0; c < like.cols; ++c) out(r, c) = normal(gen);
    return out;
  };
  const index_t samples = 4000;
  const row_buffer start = standard_normal(row_buffer(samples, 2));
  const row_buffer drawn = scorelift::diffusion::ddim_sample(
      schedule, [&](const row_buffer& x, index_t t) { return schedule.level(t).sigma * x; }, start, standard_normal,
      sampling);
  double expected = 1.0;
  const auto taus = scorelift::diffusion::respaced_timesteps(schedule.steps(), sampling.steps);
  for (std::size_t i = taus.size(); i >= 1; --i) {
    const index_t t = taus[i - 1], prev = i >= 2 ? taus[i - 2] : 0;
    const double factor = std::sqrt(schedule.alpha_bar(prev)) * schedule.level(t).alpha +
                          std::sqrt(schedule.one_minus_alpha_bar(prev)) * schedule.level(t).sigma;
    expected *= factor * factor;
  }
  double variance[2] = {0.0, 0.0};
  for (index_t r = 0; r < samples; ++r)
    for (index_t c = 0; c < 2; ++c) variance[c] += drawn(r, c) * drawn(r, c) / static_cast<double>(samples);
  // Standard error of a variance estimate from 4000 normal draws: √(2/4000) ≈ 0.022; the tolerance is 0.1.
  const bool sampled = std::abs(variance[0] - expected) < 0.1 && std::abs(variance[1] - expected) < 0.1;
  std::printf("\nDDIM (50 steps, exact noise prediction) on row_buffer: sample variances %.3f, %.3f; expected %.3f%s\n",
              variance[0], variance[1], expected, sampled ? "" : "  (FAILED: off by >= 0.1)");
  return all_learned && sampled ? 0 : 1;
}

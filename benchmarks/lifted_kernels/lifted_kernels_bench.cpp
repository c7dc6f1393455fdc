// lifted_kernels_bench — is lifting free? The lifted loss forward + backward (B = 128, L ∈ {1,2,3},
// D ∈ {2, 3072, 12288}, float32, target t without gradient) timed as:
//   fused           the two-pass kernels (CPU: Thrust CPP system on the tensors' memory; CUDA: the
//                   hand-written kernels on the current stream), outputs allocated per call;
//   fused_thrust    (CUDA) the same Thrust code as on the CPU, on thrust::cuda::par;
//   function        scorelift::torch_ext::lifted_residual_loss + backward: the autograd Function
//                   users call (CUDA tensors dispatch to `fused`; CPU runs the generic core);
//   torch_ops       the same loss composed from plain torch ops, autograd backward;
//   dsm_mse         plain DSM: torch::mse_loss(f, t) over the same [L, B, D] modes, forward + backward;
//   copy            a copy moving as many bytes as `fused` must touch: (3L+2)·B·D floats
//                   (2(L+1) reads, L gradient writes), so fused/copy is the distance from the
//                   memory-bandwidth bound.
// Before timing, every shape checks fused against torch_ops' autograd (values and gradients) and
// exits non-zero on a mismatch. Usage: lifted_kernels_bench [--device=cuda] [benchmark flags];
// CPU figures use one thread for torch and the fused loop alike. ratios.py turns the JSON output
// (--benchmark_format=json) into the tables of RESULTS.md.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "scorelift/cuda/lifted_statistics.cuh"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/torch/objective_functions.hpp"
#if SCORELIFT_BENCH_HAS_THRUST
#include <thrust/system/cpp/execution_policy.h>

#include "scorelift/cuda/lifted_kernels.cuh"
#endif
#ifdef SCORELIFT_WITH_FUSED_CUDA
#include <c10/cuda/CUDAStream.h>

#include "scorelift/cuda/lifted_on_stream.cuh"
#endif

namespace {

namespace fused = scorelift::fused;
torch::Device bench_device = torch::kCPU;

struct inputs {
  torch::Tensor modes;   // [L, B, D]
  torch::Tensor target;  // [B, D]
};

inputs make_inputs(int64_t levels, int64_t dim) {
  torch::manual_seed(1234);
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(bench_device);
  return {torch::randn({levels, 128, dim}, options), torch::randn({128, dim}, options)};
}

void synchronize() {
  if (bench_device.is_cuda()) torch::cuda::synchronize();
}

/// Fused forward + backward into freshly allocated gradients; returns {value, grad_modes}.
std::pair<double, torch::Tensor> run_fused(const inputs& x, bool thrust_on_cuda = false) {
  const int64_t levels = x.modes.size(0), n = x.modes.size(1), dim = x.modes.size(2);
  torch::Tensor grad = torch::empty_like(x.modes);
  fused::lifted_inputs<float> in;
  fused::lifted_outputs<float> out;
  in.batch = n;
  in.dim = dim;
  in.levels = static_cast<int>(levels);
  in.target = x.target.data_ptr<float>();
  for (int64_t l = 0; l < levels; ++l) {
    in.modes[l] = x.modes.data_ptr<float>() + l * n * dim;
    out.modes[l] = grad.data_ptr<float>() + l * n * dim;
  }
  fused::lifted_evaluation evaluation;
  if (bench_device.is_cuda()) {
#ifdef SCORELIFT_WITH_FUSED_CUDA
    const torch::Tensor scratch = torch::empty({fused::lifted_scratch_doubles(in.levels)},
                                               x.modes.options().dtype(torch::kFloat64));
    evaluation = fused::lifted_loss_on_cuda(in, out, {}, c10::cuda::getCurrentCUDAStream().stream(),
                                            scratch.data_ptr<double>(),
                                            thrust_on_cuda ? fused::cuda_implementation::thrust
                                                           : fused::cuda_implementation::hand_written);
#else
    (void)thrust_on_cuda;
    std::fputs("lifted_kernels_bench: built without the fused CUDA kernels\n", stderr);
    std::exit(2);
#endif
  } else {
#if SCORELIFT_BENCH_HAS_THRUST
    evaluation = fused::lifted_loss(thrust::cpp::par, in, out, {});
#else
    std::fputs("lifted_kernels_bench: built without Thrust (no CPU fused path)\n", stderr);
    std::exit(2);
#endif
  }
  return {evaluation.value, grad};
}

/// The lifted loss from plain torch ops (κ = 1, no weights): for each level, with the earlier modes
/// detached (semi-gradient), c_h = mean_h ⟨t − Σ_{i<l} f_i, f_l⟩, G_h = mean_h ‖f_l‖²,
/// L_l = −c_A c_B + ½ G_A G_B; loss = mean_l L_l.
torch::Tensor lifted_from_torch_ops(const torch::Tensor& modes, const torch::Tensor& target) {
  const int64_t levels = modes.size(0), n = modes.size(1), half = n / 2;
  torch::Tensor residual = target;
  torch::Tensor total = torch::zeros({}, modes.options());
  for (int64_t l = 0; l < levels; ++l) {
    const torch::Tensor f = modes[l];
    const torch::Tensor c = (residual * f).sum(1);
    const torch::Tensor g = (f * f).sum(1);
    const auto half_means = [&](const torch::Tensor& v) {
      return std::pair{v.narrow(0, 0, half).mean(), v.narrow(0, half, n - half).mean()};
    };
    const auto [c_a, c_b] = half_means(c);
    const auto [g_a, g_b] = half_means(g);
    total = total - c_a * c_b + 0.5 * g_a * g_b;
    residual = residual - f.detach();
  }
  return total / static_cast<double>(levels);
}

/// fused vs autograd of the torch-ops loss: relative differences of value and gradient.
bool agrees_with_autograd(int64_t levels, int64_t dim) {
  const inputs x = make_inputs(levels, dim);
  const torch::Tensor modes = x.modes.clone().requires_grad_(true);
  const torch::Tensor loss = lifted_from_torch_ops(modes, x.target);
  loss.backward();
  const auto check = [&](const char* which, bool thrust_on_cuda) {
    const auto [value, grad] = run_fused(x, thrust_on_cuda);
    synchronize();
    const double want = loss.item<double>();
    const double value_error = std::abs(value - want) / std::max(1.0, std::abs(want));
    const double grad_error = ((grad - modes.grad()).abs().max() / modes.grad().abs().max().clamp_min(1e-30)).item<double>();
    std::printf("check %-13s L=%lld D=%-6lld value %.6e vs autograd %.6e (rel %.1e), grad rel max error %.1e\n", which,
                static_cast<long long>(levels), static_cast<long long>(dim), value, want, value_error, grad_error);
    return value_error < 1e-4 && grad_error < 1e-4;  // float32: both sides round differently
  };
  bool ok = check("fused", false);
  if (bench_device.is_cuda()) ok = check("fused_thrust", true) && ok;

  // The autograd Function users call (on CUDA tensors: through torch/fused_dispatch.hpp).
  const torch::Tensor function_modes = x.modes.clone().requires_grad_(true);
  scorelift::torch_ext::objective_inputs in;
  in.target = x.target;
  const torch::Tensor function_loss = scorelift::torch_ext::lifted_residual_loss(function_modes, in).loss;
  function_loss.backward();
  const double function_error =
      ((function_modes.grad() - modes.grad()).abs().max() / modes.grad().abs().max().clamp_min(1e-30)).item<double>();
  const double function_value_error =
      std::abs(function_loss.item<double>() - loss.item<double>()) / std::max(1.0, std::abs(loss.item<double>()));
  std::printf("check %-13s L=%lld D=%-6lld value rel error %.1e, grad rel max error %.1e\n", "function",
              static_cast<long long>(levels), static_cast<long long>(dim), function_value_error, function_error);
  return ok && function_value_error < 1e-4 && function_error < 1e-4;
}

void set_counters(benchmark::State& state, int64_t levels, int64_t dim) {
  state.SetBytesProcessed(state.iterations() * (3 * levels + 2) * 128 * dim * static_cast<int64_t>(sizeof(float)));
}

void fused_bench(benchmark::State& state, bool thrust_on_cuda) {
  const inputs x = make_inputs(state.range(0), state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(run_fused(x, thrust_on_cuda));
    synchronize();
  }
  set_counters(state, state.range(0), state.range(1));
}
void BM_fused(benchmark::State& state) { fused_bench(state, false); }
void BM_fused_thrust(benchmark::State& state) { fused_bench(state, true); }

void BM_function(benchmark::State& state) {
  const inputs x = make_inputs(state.range(0), state.range(1));
  const torch::Tensor modes = x.modes.clone().requires_grad_(true);
  for (auto _ : state) {
    modes.mutable_grad() = torch::Tensor();
    scorelift::torch_ext::objective_inputs in;
    in.target = x.target;
    scorelift::torch_ext::lifted_residual_loss(modes, in).loss.backward();
    synchronize();
  }
  set_counters(state, state.range(0), state.range(1));
}

void BM_torch_ops(benchmark::State& state) {
  const inputs x = make_inputs(state.range(0), state.range(1));
  const torch::Tensor modes = x.modes.clone().requires_grad_(true);
  for (auto _ : state) {
    modes.mutable_grad() = torch::Tensor();
    lifted_from_torch_ops(modes, x.target).backward();
    synchronize();
  }
  set_counters(state, state.range(0), state.range(1));
}

void BM_dsm_mse(benchmark::State& state) {
  const inputs x = make_inputs(state.range(0), state.range(1));
  const torch::Tensor modes = x.modes.clone().requires_grad_(true);
  for (auto _ : state) {
    modes.mutable_grad() = torch::Tensor();
    torch::mse_loss(modes, x.target.expand_as(modes)).backward();
    synchronize();
  }
  set_counters(state, state.range(0), state.range(1));
}

void BM_copy(benchmark::State& state) {
  const int64_t elements = (3 * state.range(0) + 2) * 128 * state.range(1) / 2;  // read + write = fused's bytes
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(bench_device);
  const torch::Tensor source = torch::randn({elements}, options);
  torch::Tensor destination = torch::empty({elements}, options);
  for (auto _ : state) {
    destination.copy_(source);
    synchronize();
  }
  set_counters(state, state.range(0), state.range(1));
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"L", "D"});
  for (const int64_t dim : {2, 3072, 12288})
    for (const int64_t levels : {1, 2, 3}) b->Args({levels, dim});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  // Our one flag, removed (argv compacted in place) before Google Benchmark parses the rest.
  int count = 0;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--device=cuda") == 0) {
      bench_device = torch::kCUDA;
    } else {
      argv[count++] = argv[i];
    }
  }
  if (bench_device.is_cuda() && !torch::cuda::is_available()) {
    std::fputs("lifted_kernels_bench: --device=cuda but no CUDA device\n", stderr);
    return 77;
  }
  if (!bench_device.is_cuda()) torch::set_num_threads(1);

  bool ok = true;
  for (const int64_t dim : {2, 3072, 12288})
    for (const int64_t levels : {1, 2, 3}) ok = agrees_with_autograd(levels, dim) && ok;
  if (!ok) {
    std::fputs("lifted_kernels_bench: fused and autograd disagree -> not timing\n", stderr);
    return 1;
  }

  benchmark::RegisterBenchmark("fused", BM_fused)->Apply(shapes);
  if (bench_device.is_cuda()) benchmark::RegisterBenchmark("fused_thrust", BM_fused_thrust)->Apply(shapes);
  benchmark::RegisterBenchmark("function", BM_function)->Apply(shapes);
  benchmark::RegisterBenchmark("torch_ops", BM_torch_ops)->Apply(shapes);
  benchmark::RegisterBenchmark("dsm_mse", BM_dsm_mse)->Apply(shapes);
  benchmark::RegisterBenchmark("copy", BM_copy)->Apply(shapes);
  benchmark::Initialize(&count, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

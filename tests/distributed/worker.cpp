// tests/distributed/worker.cpp — one rank of the data-parallel tests. CTest starts two of them with
// scripts/launch.sh (MASTER_ADDR=127.0.0.1, a free port, RANK, WORLD_SIZE: real processes over a
// c10d TCPStore and Gloo); `distributed_worker <scenario>` runs one scenario and exits 0 when every
// check holds. Each training scenario also trains a reference — one process holding the union of
// the ranks' samples — inside every rank, so "equal to one process" is checked where it happens.
//
//   module_dsm      any torch::nn::Module, DSM, averaged gradients: replicas bit-for-bit equal,
//                   parameters equal to the one-process reference to 1e-12
//   unet_dsm        the library's UNet, ε-prediction DSM on 28×28 images, the same checks
//   global_lifted   ResidualStack L = 3, asymmetric weighted LDSE, global statistics, odd shards
//                   (5 and 6 samples): loss, gradients, parameters and signs equal the reference
//   global_lse      ResidualStack L = 2, LSE with exact divergences, global statistics
//   global_ldse_symmetric  L = 1, one σ and no weights, D = 3
//   local_lifted    L = 2 LDSE, local statistics: the mean of the ranks' own lifted losses
//   level_signs     per-noise-level sign tables fed different data on each rank stay equal
//   checkpoint_save / checkpoint_resume   rank 0 writes after 3 steps of 2 processes; 1 process resumes
//                   for 3 more and matches 6 uninterrupted steps
//   config_mismatch ranks started with different L: refused at start-up
//   peer_exits / peer_throws / peer_hangs   rank 1 fails half-way through a gradient synchronisation;
//                   rank 0 reports it within the timeout, its local gradients untouched
//   module_dsm_cuda, global_lifted_cuda   module_dsm and global_lifted with the replicas, the
//                   reference and the data on CUDA device 0 (both ranks: one GPU suffices) and Gloo
//                   (the group stages CUDA tensors through host memory); exit 77 (skipped) without a GPU
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <stdexcept>
#include <thread>
#include <vector>

#include "scorelift/distributed/data_parallel.hpp"
#include "scorelift/distributed/lifted_statistics.hpp"
#include "scorelift/distributed/process_group.hpp"
#include "scorelift/diffusion/torch/unet.hpp"
#include "scorelift/distributed/sign_synchronisation.hpp"
#include "scorelift/torch/hutchinson.hpp"
#include "scorelift/torch/objective_functions.hpp"
#include "scorelift/torch/residual_stack.hpp"
#include "worker_support.hpp"

namespace {

namespace sd = scorelift::distributed;
namespace te = scorelift::torch_ext;
using namespace scorelift::test::distributed;

constexpr double tolerance = 1e-12;

/// A residual stack of small MLPs in double, initialised from `seed` (the same on every rank).
/// Initialised on the host, so CPU and CUDA scenarios start from the same parameters.
te::ResidualStack seeded_stack(std::uint64_t seed, std::int64_t levels, std::int64_t dim,
                               torch::Device device = torch::kCPU) {
  torch::manual_seed(seed);
  te::ResidualStack stack(te::residual_stack_options{
      .network = {.input_dim = dim, .output_dim = dim, .hidden = 16, .depth = 2}, .levels = levels});
  stack->to(device, torch::kFloat64);
  return stack;
}

int module_dsm(const sd::process_group& group, torch::Device device = torch::kCPU) {
  constexpr std::int64_t dim = 3, per_rank = 8, steps = 5;
  const double sigma = 0.3;
  const auto make_model = [&] {
    torch::manual_seed(11);
    torch::nn::Sequential model(torch::nn::Linear(dim, 16), torch::nn::Tanh(), torch::nn::Linear(16, dim));
    model->to(device, torch::kFloat64);
    return model;
  };
  auto model = make_model(), reference = make_model();
  if (!group.is_main()) perturb(*model);  // the broadcast must undo this
  auto replicas = sd::data_parallel::of(group, *model);
  replicas.broadcast_from_main();
  torch::optim::Adam optimiser(model->parameters(), 1e-2), reference_optimiser(reference->parameters(), 1e-2);
  const std::int64_t global = per_rank * group.world_size();
  const auto shard = sd::shard_of(global, group.rank(), group.world_size());
  const auto dsm = [&](torch::nn::Sequential& m, const torch::Tensor& x, const torch::Tensor& eps) {
    return te::residual_score_matching_loss(m->forward(x + sigma * eps).unsqueeze(0), {.target = -eps / sigma}).loss;
  };
  for (std::int64_t step = 0; step < steps; ++step) {
    auto gen = scorelift::torch_backend<double>::make_generator(1000 + static_cast<std::uint64_t>(step));
    const auto x = torch::randn({global, dim}, gen, torch::kFloat64).to(device);
    const auto eps = torch::randn({global, dim}, gen, torch::kFloat64).to(device);
    optimiser.zero_grad();
    dsm(model, x.narrow(0, shard.begin, shard.size()), eps.narrow(0, shard.begin, shard.size())).backward();
    replicas.synchronise_gradients();
    optimiser.step();
    reference_optimiser.zero_grad();
    dsm(reference, x, eps).backward();
    reference_optimiser.step();
  }
  expect_replicas_match(group, *model, *reference, tolerance, "one process");
  return 0;
}

/// The library's UNet (diffusion/torch/unet.hpp) trained data-parallel with ε-prediction DSM on 28×28
/// images: replicas bit-for-bit equal and equal to one process holding both shards' images to 1e-12.
int unet_dsm(const sd::process_group& group) {
  constexpr std::int64_t per_rank = 3, steps = 2;
  const auto make_unet = [] {
    torch::manual_seed(15);
    scorelift::diffusion::torch_ext::unet_options options;
    options.base_channels = 8;
    options.embedding_dim = 16;
    options.groups = 4;
    scorelift::diffusion::torch_ext::UNet unet(options);
    unet->to(torch::kFloat64);
    return unet;
  };
  auto unet = make_unet(), reference = make_unet();
  if (!group.is_main()) perturb(*unet);
  auto replicas = sd::data_parallel::of(group, *unet);
  replicas.broadcast_from_main();
  torch::optim::Adam optimiser(unet->parameters(), 1e-3), reference_optimiser(reference->parameters(), 1e-3);
  const std::int64_t global = per_rank * group.world_size();
  const auto shard = sd::shard_of(global, group.rank(), group.world_size());
  // ½ mean_b ‖ε̂(x_t, t) − ε‖² with x_t = αx + σε at a per-sample α² = 1 − σ² (the iDDPM "simple" loss).
  const auto dsm = [](scorelift::diffusion::torch_ext::UNet& net, const torch::Tensor& x, const torch::Tensor& eps,
                      const torch::Tensor& sigma) {
    const auto s = sigma.view({-1, 1, 1, 1});
    const auto noisy = (1 - s * s).sqrt() * x + s * eps;
    const auto predicted = net->forward(noisy, sigma).reshape({1, x.size(0), -1});
    return te::residual_score_matching_loss(predicted, {.target = eps.reshape({x.size(0), -1})}).loss;
  };
  for (std::int64_t step = 0; step < steps; ++step) {
    auto gen = scorelift::torch_backend<double>::make_generator(4000 + static_cast<std::uint64_t>(step));
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const auto x = torch::rand({global, 1, 28, 28}, gen, f64) * 2 - 1, eps = torch::randn({global, 1, 28, 28}, gen, f64);
    const auto sigma = 0.05 + 0.9 * torch::rand({global}, gen, f64);
    optimiser.zero_grad();
    dsm(unet, x.narrow(0, shard.begin, shard.size()), eps.narrow(0, shard.begin, shard.size()),
        sigma.narrow(0, shard.begin, shard.size()))
        .backward();
    replicas.synchronise_gradients();
    optimiser.step();
    reference_optimiser.zero_grad();
    dsm(reference, x, eps, sigma).backward();
    reference_optimiser.step();
  }
  expect_replicas_match(group, *unet, *reference, tolerance, "one process");
  return 0;
}

/// One LDSE (weighted, per-sample σ) or LSE (exact divergence) step of `stack` on rows `rows` of the
/// global batch of `step`; returns the loss (backward already taken).
struct lifted_step {
  bool divergence = false;  // LSE with exact divergences instead of LDSE
  std::int64_t dim = 2;
  bool asymmetric = true;   // LDSE: per-sample σ_b and weights σ_b² (else one σ, no weights)
  torch::Device device = torch::kCPU;  // drawn on the host, then moved: the same data on every device

  te::objective_output operator()(te::ResidualStack& stack, const torch::Tensor& rows, std::int64_t step,
                                   std::int64_t global, const scorelift::lifted_sums_reducer& reduce) const {
    auto gen = scorelift::torch_backend<double>::make_generator(2000 + static_cast<std::uint64_t>(step));
    const auto options = torch::TensorOptions().dtype(torch::kFloat64);
    const auto x = torch::randn({global, dim}, gen, options).index_select(0, rows).to(device);
    const auto eps = torch::randn({global, dim}, gen, options).index_select(0, rows).to(device);
    const auto sigma = (0.1 + 0.9 * torch::rand({global}, gen, options)).index_select(0, rows).to(device);
    if (divergence) {
      const auto d = te::exact_divergence(stack, x, true, stack->levels());
      auto out = te::lifted_residual_loss(d.outputs, {.divergence = d.divergence, .signs = stack->signs(x)}, {}, reduce);
      out.loss.backward();
      return out;
    }
    const auto sigmas = asymmetric ? sigma : torch::full_like(sigma, 0.4);
    const auto noisy = x + sigmas.unsqueeze(1) * eps;
    auto out = te::lifted_residual_loss(stack->forward(noisy),
                                        {.target = -eps / sigmas.unsqueeze(1),
                                         .weights = asymmetric ? sigma.pow(2) : torch::Tensor(),
                                         .signs = stack->signs(x)},
                                        {}, reduce);
    out.loss.backward();
    return out;
  }
};

int global_lifted(const sd::process_group& group, const lifted_step& objective, std::int64_t levels) {
  const std::int64_t steps = 4;
  auto stack = seeded_stack(12, levels, objective.dim, objective.device);
  auto reference = seeded_stack(12, levels, objective.dim, objective.device);
  if (!group.is_main()) perturb(*stack);
  auto replicas = sd::data_parallel::of(group, *stack, {.reduction = sd::gradient_reduction_for(sd::lifted_statistics::global)});
  replicas.broadcast_from_main();
  torch::optim::Adam optimiser(stack->parameters(), 1e-2), reference_optimiser(reference->parameters(), 1e-2);
  // Odd shards: rank r holds 5 + r samples; the reference lists every half A, then every half B.
  const halves layout = halves::of_sizes(group.world_size(), [](int r) { return 5 + r; });
  if (layout.total() / 2 != layout.half_a())
    throw check_failure("this world size's shards do not split where one process would: run with 2 processes");
  const auto reduce = sd::global_lifted_sums(group);
  for (std::int64_t step = 0; step < steps; ++step) {
    optimiser.zero_grad();
    const auto out = objective(stack, layout.rows_of(group.rank()), step, layout.total(), reduce);
    replicas.synchronise_gradients();
    reference_optimiser.zero_grad();
    const auto reference_out = objective(reference, layout.all_rows(), step, layout.total(), {});
    if (step == 0) {
      expect_close(out.loss, reference_out.loss, tolerance, "the global loss");
      expect_close(flat_gradients(stack->parameters()), flat_gradients(reference->parameters()), tolerance,
                   "the summed gradients");
    }
    optimiser.step();
    reference_optimiser.step();
    stack->update_signs(out.residual_alignment);
    reference->update_signs(reference_out.residual_alignment);
  }
  expect_replicas_match(group, *stack, *reference, tolerance, "one process");
  return 0;
}

int local_lifted(const sd::process_group& group) {
  const std::int64_t levels = 2, steps = 3, per_rank = 6;
  const lifted_step objective{.divergence = false, .dim = 2};
  auto stack = seeded_stack(13, levels, objective.dim), reference = seeded_stack(13, levels, objective.dim);
  auto replicas = sd::data_parallel::of(group, *stack);  // local statistics: averaged gradients
  replicas.broadcast_from_main();
  torch::optim::Adam optimiser(stack->parameters(), 1e-2), reference_optimiser(reference->parameters(), 1e-2);
  const std::int64_t global = per_rank * group.world_size();
  const auto shard = sd::shard_of(global, group.rank(), group.world_size());
  for (std::int64_t step = 0; step < steps; ++step) {
    optimiser.zero_grad();
    const auto out = objective(stack, torch::arange(shard.begin, shard.end), step, global, {});
    replicas.synchronise_gradients();
    optimiser.step();
    sd::update_signs(group, stack, out.residual_alignment, shard.size());
    // The reference: the mean over the shards of each shard's own lifted loss, in one process.
    reference_optimiser.zero_grad();
    std::vector<double> alignment(static_cast<std::size_t>(levels), 0.0);
    for (int r = 0; r < group.world_size(); ++r) {  // the shards' gradients accumulate in .grad
      const auto s = sd::shard_of(global, r, group.world_size());
      const auto part = objective(reference, torch::arange(s.begin, s.end), step, global, {});
      for (std::size_t l = 0; l < alignment.size(); ++l) alignment[l] += part.residual_alignment[l] / group.world_size();
    }
    for (auto& p : reference->parameters())
      if (p.grad().defined()) p.mutable_grad().div_(group.world_size());
    reference_optimiser.step();
    reference->update_signs(alignment);
  }
  expect_replicas_match(group, *stack, *reference, tolerance, "the mean of the shards' own losses");
  return 0;
}

int level_signs(const sd::process_group& group) {
  // Different data on each rank, many updates: the per-level tables must stay equal, and equal to one
  // tracker fed the union.
  const std::int64_t levels = 2, noise_levels = 10, per_rank = 7, updates = 60;
  te::ResidualStack stack(te::residual_stack_options{
      .network = {.input_dim = 2, .output_dim = 2, .hidden = 4, .depth = 1}, .levels = levels, .noise_levels = noise_levels});
  scorelift::sign_tracker reference(levels, noise_levels, 0.5);
  const std::int64_t global = per_rank * group.world_size();
  for (std::int64_t u = 0; u < updates; ++u) {
    auto gen = scorelift::torch_backend<double>::make_generator(3000 + static_cast<std::uint64_t>(u));
    const auto all_levels = torch::randint(0, noise_levels, {global}, gen, torch::kInt64);
    const auto all_alignments = torch::randn({levels, global}, gen, torch::kFloat64) + 0.2;
    const auto shard = sd::shard_of(global, group.rank(), group.world_size());
    sd::update_signs(group, stack, all_levels.narrow(0, shard.begin, shard.size()),
                     all_alignments.narrow(1, shard.begin, shard.size()));
    reference.update<scorelift::torch_backend<double>>(host_indices(all_levels), {all_alignments[0], all_alignments[1]});
  }
  expect_identical_across_ranks(group, flat(stack->buffers()), "the per-level signs");
  expect_close(flat(stack->buffers()), torch::tensor(reference.state(), torch::kFloat64), tolerance,
               "per-level signs vs one tracker");
  return 0;
}

/// Checkpoints resume at another world size: 3 steps with 2 processes (global statistics, rank 0
/// writes), then — in a second launch with 1 process — 3 more, against 6 uninterrupted steps of one
/// process. Global statistics make the loss independent of the world size, so the two agree.
struct checkpointed_run {
  static constexpr std::int64_t levels = 2, global = 12, saved_at = 3, total = 6;
  const lifted_step objective{.divergence = false, .dim = 2};

  static te::ResidualStack fresh_stack() { return seeded_stack(14, levels, 2); }
  /// Steps [first, last) of the run on this rank's shard (halves as one process would split them).
  void train(const sd::process_group& group, te::ResidualStack& stack, torch::optim::Adam& optimiser,
             std::int64_t first, std::int64_t last) const {
    auto replicas = sd::data_parallel::of(group, *stack, {.reduction = sd::gradient_reduction::sum});
    const halves layout = halves::of_sizes(group.world_size(), [&](int) { return global / group.world_size(); });
    for (std::int64_t step = first; step < last; ++step) {
      optimiser.zero_grad();
      const auto out = objective(stack, layout.rows_of(group.rank()), step, global, sd::global_lifted_sums(group));
      replicas.synchronise_gradients();
      optimiser.step();
      stack->update_signs(out.residual_alignment);
    }
  }
};

int checkpoint_save(const sd::process_group& group, const std::string& path) {
  checkpointed_run run;
  auto stack = run.fresh_stack();
  torch::optim::Adam optimiser(stack->parameters(), 1e-2);
  run.train(group, stack, optimiser, 0, checkpointed_run::saved_at);
  if (group.is_main()) {
    torch::serialize::OutputArchive archive, model, state;
    stack->save(model);
    optimiser.save(state);
    archive.write("stack", model);
    archive.write("optimiser", state);
    archive.write("step", torch::tensor(checkpointed_run::saved_at));
    archive.save_to(path + ".partial");
    std::filesystem::rename(path + ".partial", path);
  }
  group.barrier("the checkpoint");
  return 0;
}

int checkpoint_resume(const sd::process_group& group, const std::string& path) {
  checkpointed_run run;
  auto stack = run.fresh_stack();
  torch::optim::Adam optimiser(stack->parameters(), 1e-2);
  torch::serialize::InputArchive archive, model, state;
  archive.load_from(path);
  archive.read("stack", model);
  archive.read("optimiser", state);
  stack->load(model);
  optimiser.load(state);
  torch::Tensor step;
  archive.read("step", step);
  run.train(group, stack, optimiser, step.item<std::int64_t>(), checkpointed_run::total);

  const sd::process_group alone;  // the uninterrupted one-process reference
  auto reference = run.fresh_stack();
  torch::optim::Adam reference_optimiser(reference->parameters(), 1e-2);
  run.train(alone, reference, reference_optimiser, 0, checkpointed_run::total);
  expect_replicas_match(group, *stack, *reference, tolerance, "an uninterrupted run");
  return 0;
}

int config_mismatch(const sd::process_group& group) {
  group.require_same_configuration("ResidualStack levels=" + std::to_string(2 + group.rank()) + " objective=ldse");
  return 0;  // not reached with two ranks
}

/// Rank 1 fails in `how` half-way through a gradient synchronisation: it takes part in the first of two
/// buckets' all-reduces, then fails. Rank 0's synchronise_gradients must fail with a distributed_error
/// in time, and leave its local gradients as backward made them (none averaged, the first bucket's
/// reduction not written back).
int peer_fails(const sd::process_group& group, const std::string& how) {
  torch::Tensor t = torch::ones({4}, torch::kFloat64);
  group.all_reduce_sum(t, "a first all-reduce");  // both ranks are up
  const double local = 1.0 + group.rank();
  std::vector<torch::Tensor> parameters;
  for (int i = 0; i < 2; ++i) {
    parameters.push_back(torch::zeros({4}, torch::kFloat64).requires_grad_());
    parameters.back().mutable_grad() = torch::full({4}, local, torch::kFloat64);
  }
  sd::data_parallel replicas(group, parameters, {}, {.bucket_bytes = 4 * sizeof(double)});  // one bucket each
  if (replicas.bucket_count() != 2) {
    std::cout << "rank " << group.rank() << ": expected 2 buckets, got " << replicas.bucket_count() << std::endl;
    return 1;
  }
  if (group.rank() == 1) {
    torch::Tensor first_bucket = parameters[0].grad().clone();
    group.all_reduce_sum(first_bucket, "the gradients");  // rank 0's first bucket
    if (how == "exits") std::_Exit(7);
    if (how == "throws") throw std::runtime_error("rank 1 fails on purpose");
    std::this_thread::sleep_for(group.timeout() + std::chrono::seconds(3));  // hangs past the timeout
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    replicas.synchronise_gradients();
  } catch (const sd::distributed_error& error) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double limit = std::chrono::duration<double>(group.timeout()).count() + 2.0;
    const bool untouched = torch::equal(parameters[0].grad(), torch::full({4}, local, torch::kFloat64)) &&
                           torch::equal(parameters[1].grad(), torch::full({4}, local, torch::kFloat64));
    std::cout << (seconds <= limit ? "fault detected within the timeout" : "fault detected too late") << " ("
              << seconds << " s, timeout " << std::chrono::duration<double>(group.timeout()).count() << " s), "
              << (untouched ? "local gradients untouched" : "local gradients CHANGED") << ": " << error.what()
              << std::endl;
    return 3;
  }
  std::cout << "rank 0: the all-reduce succeeded although rank 1 failed" << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: distributed_worker <scenario> [checkpoint path]\n";
    return 2;
  }
  const std::string scenario = argv[1], path = argc == 3 ? argv[2] : "";
  torch::set_num_threads(1);
  const bool fault = scenario.rfind("peer_", 0) == 0;
  const bool on_cuda = scenario.ends_with("_cuda");
  if (on_cuda && !torch::cuda::is_available()) {
    std::cout << scenario << ": skipped, no CUDA device" << std::endl;
    return 77;  // CTest's SKIP_RETURN_CODE
  }
  // Both ranks on device 0 (an explicit index: one GPU runs the test), collectives through Gloo.
  const torch::Device cuda(torch::kCUDA, 0);
  try {
    const auto group = sd::process_group::from_environment(
        {.timeout = fault ? std::chrono::seconds(4) : std::chrono::seconds(60),
         .backend = sd::communication_backend::gloo,
         .device = on_cuda ? cuda : torch::Device(torch::kCPU)});
    const std::map<std::string, std::function<int()>> scenarios{
        {"module_dsm", [&] { return module_dsm(group); }},
        {"unet_dsm", [&] { return unet_dsm(group); }},
        {"global_lifted", [&] { return global_lifted(group, {.divergence = false, .dim = 2}, 3); }},
        {"global_lse", [&] { return global_lifted(group, {.divergence = true, .dim = 2}, 2); }},
        {"global_ldse_symmetric", [&] { return global_lifted(group, {.divergence = false, .dim = 3, .asymmetric = false}, 1); }},
        {"local_lifted", [&] { return local_lifted(group); }},
        {"level_signs", [&] { return level_signs(group); }},
        {"checkpoint_save", [&] { return checkpoint_save(group, path); }},
        {"checkpoint_resume", [&] { return checkpoint_resume(group, path); }},
        {"config_mismatch", [&] { return config_mismatch(group); }},
        {"peer_exits", [&] { return peer_fails(group, "exits"); }},
        {"peer_throws", [&] { return peer_fails(group, "throws"); }},
        {"peer_hangs", [&] { return peer_fails(group, "hangs"); }},
        {"module_dsm_cuda", [&] { return module_dsm(group, cuda); }},
        {"global_lifted_cuda", [&] { return global_lifted(group, {.divergence = false, .dim = 2, .device = cuda}, 3); }},
    };
    const auto found = scenarios.find(scenario);
    if (found == scenarios.end()) {
      std::cerr << "unknown scenario '" << scenario << "'\n";
      return 2;
    }
    const int status = found->second();
    if (status == 0)
      std::cout << "rank " << group.rank() << " of " << group.world_size() << ": " << scenario << " passed" << std::endl;
    return status;
  } catch (const sd::distributed_error& error) {
    std::cout << error.what() << std::endl;
    return 3;
  } catch (const std::exception& error) {
    std::cout << "error: " << error.what() << std::endl;
    return 1;
  }
}

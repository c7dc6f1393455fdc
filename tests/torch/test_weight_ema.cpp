// weight_ema: the average after given parameter sequences against its closed form, the warm-up decay,
// swapping in and out, checkpoints (round trip; a mismatched archive refused with the average unchanged),
// and bad input.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "scorelift/torch/weight_ema.hpp"

using scorelift::torch_ext::weight_ema;

namespace {
torch::nn::Linear double_linear(std::int64_t in, std::int64_t out) {
  torch::manual_seed(3);
  torch::nn::Linear layer(in, out);
  layer->to(torch::kFloat64);
  return layer;
}
void set_parameters(torch::nn::Linear& layer, double value) {
  torch::NoGradGuard no_grad;
  layer->weight.fill_(value);
  layer->bias.fill_(-value);
}
}  // namespace

TEST_CASE("weight_ema: θ̄_t = β^t θ_0 + (1 − β) Σ_s β^(t−s) θ_s") {
  auto layer = double_linear(3, 2);
  const torch::Tensor w0 = layer->weight.detach().clone();
  const double beta = 0.9;
  weight_ema ema(*layer, {.decay = beta});
  const std::vector<double> values{1.0, -2.0, 0.5, 4.0};
  for (double v : values) {
    set_parameters(layer, v);
    ema.update(*layer);
  }
  const double t = static_cast<double>(values.size());
  double tail = 0.0;
  for (std::size_t s = 0; s < values.size(); ++s) tail += (1 - beta) * std::pow(beta, t - 1 - static_cast<double>(s)) * values[s];
  const torch::Tensor expected = std::pow(beta, t) * w0 + tail;
  CHECK(ema.updates() == 4);
  CHECK((ema.averages()[0] - expected).abs().max().item<double>() < 1e-15);
}

TEST_CASE("weight_ema: the warm-up decay min(β, (1 + t)/(10 + t))") {
  auto layer = double_linear(2, 2);
  weight_ema ema(*layer, {.decay = 0.5, .warmup = true});
  CHECK(ema.current_decay() == doctest::Approx(0.1));  // t = 0: 1/10
  set_parameters(layer, 2.0);
  const torch::Tensor before = ema.averages()[1].clone();
  ema.update(*layer);
  CHECK((ema.averages()[1] - (0.1 * before + 0.9 * -2.0)).abs().max().item<double>() < 1e-15);
  for (int i = 0; i < 20; ++i) ema.update(*layer);
  CHECK(ema.current_decay() == doctest::Approx(0.5));  // (1 + 21)/(10 + 21) > 0.5
}

TEST_CASE("weight_ema: swap_into exchanges the averaged and live parameters, twice restores them") {
  auto layer = double_linear(3, 2);
  weight_ema ema(*layer, {.decay = 0.5});
  set_parameters(layer, 1.0);
  ema.update(*layer);  // average = ½ θ₀ + ½ · 1
  const torch::Tensor average = ema.averages()[0].clone();
  const auto storage = layer->weight.data_ptr();
  ema.swap_into(*layer);
  CHECK(torch::equal(layer->weight, average));
  CHECK(torch::allclose(ema.averages()[0], torch::ones_like(average)));
  CHECK(layer->weight.data_ptr() == storage);  // values copied, storage kept
  ema.swap_into(*layer);
  CHECK(torch::allclose(layer->weight, torch::ones_like(average)));
  CHECK(torch::equal(ema.averages()[0], average));
}

TEST_CASE("weight_ema: save and load round-trip, a mismatched archive is refused and changes nothing") {
  auto layer = double_linear(3, 2);
  weight_ema ema(*layer, {.decay = 0.8});
  set_parameters(layer, 2.0);
  ema.update(*layer);
  std::stringstream stream;
  {
    torch::serialize::OutputArchive archive;
    ema.save(archive);
    archive.save_to(stream);
  }
  auto fresh = double_linear(3, 2);
  weight_ema restored(*fresh, {.decay = 0.8});
  torch::serialize::InputArchive archive;
  archive.load_from(stream);
  restored.load(archive);
  CHECK(restored.updates() == 1);
  for (std::size_t i = 0; i < 2; ++i) CHECK(torch::equal(restored.averages()[i], ema.averages()[i]));

  auto other = double_linear(4, 2);  // weight [2, 4] instead of [2, 3]
  weight_ema mismatched(*other, {.decay = 0.8});
  const torch::Tensor untouched = mismatched.averages()[0].clone();
  stream.clear();
  stream.seekg(0);
  torch::serialize::InputArchive again;
  again.load_from(stream);
  CHECK_THROWS_WITH_AS(mismatched.load(again), doctest::Contains("has shape [2, 3] but the parameter has shape [2, 4]"),
                       scorelift::invalid_argument);
  CHECK(torch::equal(mismatched.averages()[0], untouched));
  CHECK(mismatched.updates() == 0);
}

TEST_CASE("weight_ema: bad decay and a different model are refused naming them") {
  auto layer = double_linear(3, 2);
  for (double bad : {-0.1, 1.0, std::nan("")})
    CHECK_THROWS_WITH_AS(weight_ema(*layer, {.decay = bad}), doctest::Contains("option 'decay'"), scorelift::invalid_argument);
  weight_ema ema(*layer);
  auto other = double_linear(4, 2);
  CHECK_THROWS_WITH_AS(ema.update(*other), doctest::Contains("parameter 0 of 'model' has shape [2, 4]"), scorelift::invalid_argument);
  torch::nn::Sequential two(torch::nn::Linear(3, 2), torch::nn::Linear(2, 2));
  CHECK_THROWS_WITH_AS(ema.swap_into(*two), doctest::Contains("has 4 parameters but the average was started with 2"),
                       scorelift::invalid_argument);
  // A parameter whose dtype changed after the start (here the bias, the second): refused before the
  // first is averaged, so every average and the update count stay as they were.
  auto changed = double_linear(3, 2);
  changed->weight.data().add_(1.0);  // an update would move the weight's average
  changed->bias.set_data(changed->bias.to(torch::kFloat32));
  const torch::Tensor weight_before = ema.averages()[0].clone();
  CHECK_THROWS_WITH_AS(ema.update(*changed), doctest::Contains("parameter 1 of 'model' has shape [2] (float)"),
                       scorelift::invalid_argument);
  CHECK(torch::equal(ema.averages()[0], weight_before));
  CHECK(ema.updates() == 0);
}

// scorelift/diffusion/torch/unet.hpp — a small UNet noise predictor ε̂(x̃, t) for 28×28 images
// (Ho et al. 2020's design, scaled down): residual blocks with GroupNorm + SiLU and a timestep embedding
// added after the first convolution, two stride-2 downsamplings (28 → 14 → 7), nearest-neighbour
// upsampling with skip connections. The output convolution keeps LibTorch's default (non-zero)
// initialisation on purpose: f = 0 is a stationary point of the lifted objective (−c_A c_B + ½ G_A G_B
// has zero gradient there), so a zero-initialised LDSE model would never move.
//   input [B, C, H, W] (H, W divisible by 4), timesteps [B] (float, t/T ∈ [0, 1] or any scalar label)
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "scorelift/backends/torch.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::diffusion::torch_ext {

struct unet_options {
  int64_t in_channels = 1;
  int64_t base_channels = 32;  ///< c at 28×28; 2c at 14×14 and 7×7
  int64_t embedding_dim = 128;
  int64_t groups = 8;          ///< GroupNorm groups (must divide c)
};

/// Sinusoidal embedding of a scalar per sample: [sin(s ω_k), cos(s ω_k)], ω_k = 10000^{−k/(d/2)} · 1000
/// (the 1000 keeps t/T ∈ [0, 1] as distinguishable as DDPM's integer timesteps).
inline torch::Tensor timestep_embedding(const torch::Tensor& s, int64_t dim) {
  const int64_t half = dim / 2;
  const torch::Tensor k = torch::arange(half, s.options()).to(s.scalar_type());
  const torch::Tensor freqs = 1000.0 * torch::exp(-std::log(10000.0) * k / static_cast<double>(half));
  const torch::Tensor angles = s.reshape({-1, 1}) * freqs.reshape({1, -1});
  return torch::cat({torch::sin(angles), torch::cos(angles)}, 1);
}

class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t out, int64_t embedding_dim, int64_t groups)
      : norm1_(torch::nn::GroupNormOptions(std::min(groups, in), in)),
        conv1_(torch::nn::Conv2dOptions(in, out, 3).padding(1)),
        embed_(embedding_dim, out),
        norm2_(torch::nn::GroupNormOptions(groups, out)),
        conv2_(torch::nn::Conv2dOptions(out, out, 3).padding(1)) {
    register_module("norm1", norm1_);
    register_module("conv1", conv1_);
    register_module("embed", embed_);
    register_module("norm2", norm2_);
    register_module("conv2", conv2_);
    if (in != out) skip_ = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& embedding) {
    torch::Tensor h = conv1_(torch::silu(norm1_(x)));
    h = h + embed_(torch::silu(embedding)).unsqueeze(-1).unsqueeze(-1);
    h = conv2_(torch::silu(norm2_(h)));
    return h + (skip_ ? skip_->forward(x) : x);
  }

 private:
  torch::nn::GroupNorm norm1_;
  torch::nn::Conv2d conv1_;
  torch::nn::Linear embed_;
  torch::nn::GroupNorm norm2_;
  torch::nn::Conv2d conv2_;
  torch::nn::Conv2d skip_{nullptr};
};
TORCH_MODULE(ResidualBlock);

class UNetImpl : public torch::nn::Module {
 public:
  explicit UNetImpl(const unet_options& o = {}) : options_(o) {
    const int64_t c = o.base_channels, c2 = 2 * o.base_channels, e = o.embedding_dim;
    scorelift::detail::require(c >= 1 && e >= 2 && e % 2 == 0 && o.groups >= 1 && c % o.groups == 0, "UNet",
                               "options base_channels = ", c, ", embedding_dim = ", e, ", groups = ", o.groups,
                               " need groups | base_channels and an even embedding_dim");
    time_mlp1_ = register_module("time_mlp1", torch::nn::Linear(e, e));
    time_mlp2_ = register_module("time_mlp2", torch::nn::Linear(e, e));
    stem_ = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels, c, 3).padding(1)));
    down1_ = register_module("down1", ResidualBlock(c, c, e, o.groups));
    pool1_ = register_module("pool1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, 3).stride(2).padding(1)));
    down2_ = register_module("down2", ResidualBlock(c, c2, e, o.groups));
    pool2_ = register_module("pool2", torch::nn::Conv2d(torch::nn::Conv2dOptions(c2, c2, 3).stride(2).padding(1)));
    middle_ = register_module("middle", ResidualBlock(c2, c2, e, o.groups));
    up2_ = register_module("up2", ResidualBlock(c2 + c2, c2, e, o.groups));
    up1_ = register_module("up1", ResidualBlock(c2 + c, c, e, o.groups));
    out_norm_ = register_module("out_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.groups, c)));
    out_ = register_module("out", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, o.in_channels, 3).padding(1)));
  }

  /// The options it was built with (a second UNet of the same shape: `UNet(net->options())`).
  const unet_options& options() const { return options_; }

  /// ε̂(x̃, s) for images x [B, C, H, W] and a scalar label s [B] per sample (e.g. t/T).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& s) {
    scorelift::detail::require(x.dim() == 4 && x.size(1) == options_.in_channels && x.size(2) % 4 == 0 &&
                                   x.size(3) % 4 == 0,
                               "UNet::forward", "argument 'x' has shape ", scorelift::detail::tensor_shape_string(x),
                               " but [B, ", options_.in_channels, ", H, W] with H, W divisible by 4 was expected");
    scorelift::detail::require(s.dim() == 1 && s.size(0) == x.size(0), "UNet::forward", "argument 's' has shape ",
                               scorelift::detail::tensor_shape_string(s), " but x has shape ",
                               scorelift::detail::tensor_shape_string(x));
    const torch::Tensor e =
        time_mlp2_(torch::silu(time_mlp1_(timestep_embedding(s.to(x.scalar_type()), options_.embedding_dim))));
    const torch::Tensor h1 = down1_(stem_(x), e);             // c  × H
    const torch::Tensor h2 = down2_(pool1_(h1), e);           // 2c × H/2
    torch::Tensor h = middle_(pool2_(h2), e);                 // 2c × H/4
    h = up2_(torch::cat({upsample(h), h2}, 1), e);            // 2c × H/2
    h = up1_(torch::cat({upsample(h), h1}, 1), e);            // c  × H
    return out_(torch::silu(out_norm_(h)));
  }

 private:
  static torch::Tensor upsample(const torch::Tensor& x) {
    // Nearest-neighbour ×2 without interpolate's option structs (stable across LibTorch 1.13 and 2.x).
    return x.repeat_interleave(2, 2).repeat_interleave(2, 3);
  }

  unet_options options_;
  torch::nn::Linear time_mlp1_{nullptr}, time_mlp2_{nullptr};
  torch::nn::Conv2d stem_{nullptr}, pool1_{nullptr}, pool2_{nullptr}, out_{nullptr};
  ResidualBlock down1_{nullptr}, down2_{nullptr}, middle_{nullptr}, up2_{nullptr}, up1_{nullptr};
  torch::nn::GroupNorm out_norm_{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace scorelift::diffusion::torch_ext

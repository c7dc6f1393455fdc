// scorelift/implicit/torch/autoencoders.hpp — the three latent-variable models of the paper's
// Table 1 (MLP versions for Fashion-MNIST), with a common Bernoulli / squared-error decoder.
//
//   implicit VAE   z = g_θ(x, ε),  ε ~ N(0, I_{D_z})         (an MLP fed [x, ε]; no density)
//   Gaussian VAE   z = μ_θ(x) + σ_θ(x) ⊙ ε                    (the explicit-posterior baseline)
//   WAE            z = μ_θ(x) + σ ε,  σ fixed                  (marginal q(z) is implicit)
//   decoder        logits ℓ_ψ(z) ∈ R^{784};  x̂ = sigmoid(ℓ)
//
// The losses (per image, nats for the VAEs; summed over pixels):
//   −log p_ψ(x | z) = Σ_j BCE(ℓ_j, x_j)     (Bernoulli likelihood on grey levels in [0, 1])
//   −log p(z)       = ½‖z‖² + (D_z/2) log 2π
//   c(x, x̂)        = ‖x − x̂‖²               (the WAE transport cost)
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "scorelift/errors.hpp"
#include "scorelift/torch/mlp.hpp"

namespace scorelift::implicit {

enum class autoencoder_kind { implicit_vae, gaussian_vae, wae };

inline std::string to_string(autoencoder_kind kind) {
  switch (kind) {
    case autoencoder_kind::implicit_vae: return "implicit VAE";
    case autoencoder_kind::gaussian_vae: return "Gaussian VAE";
    case autoencoder_kind::wae: return "WAE";
    default: break;  // a value cast from an integer outside the enumeration
  }
  scorelift::detail::fail("to_string", "argument 'kind' is ", static_cast<int>(kind), " which is not an autoencoder_kind");
}

struct autoencoder_options {
  autoencoder_kind kind = autoencoder_kind::implicit_vae;
  index_t data_dim = 784;
  index_t latent_dim = 8;
  index_t hidden = 256;
  index_t depth = 2;
  double wae_sigma = 0.3;  // the WAE encoder's fixed noise scale σ
};

/// One encoder draw: z, and for the Gaussian VAE the posterior's mean and log standard deviation.
struct encoding {
  torch::Tensor z;
  torch::Tensor mean;     // defined for gaussian_vae only
  torch::Tensor log_std;  // defined for gaussian_vae only
};

class AutoencoderImpl : public torch::nn::Module {
 public:
  explicit AutoencoderImpl(const autoencoder_options& options) : options_(options) {
    scorelift::detail::require(options.latent_dim >= 1 && options.data_dim >= 1 && options.wae_sigma > 0.0, "Autoencoder",
                    "options latent_dim = ", options.latent_dim, ", data_dim = ", options.data_dim,
                    ", wae_sigma = ", options.wae_sigma, " must be positive");
    torch_ext::mlp_options encoder_options{.input_dim = options.data_dim,
                                           .output_dim = options.latent_dim,
                                           .hidden = options.hidden,
                                           .depth = options.depth};
    if (options.kind == autoencoder_kind::implicit_vae) encoder_options.condition_dim = options.latent_dim;
    if (options.kind == autoencoder_kind::gaussian_vae) encoder_options.output_dim = 2 * options.latent_dim;
    encoder_ = register_module("encoder", torch_ext::MLP(encoder_options));
    decoder_ = register_module("decoder", torch_ext::MLP(torch_ext::mlp_options{.input_dim = options.latent_dim,
                                                                                .output_dim = options.data_dim,
                                                                                .hidden = options.hidden,
                                                                                .depth = options.depth}));
  }

  const autoencoder_options& options() const { return options_; }

  /// z for images x [B, data_dim] and noise ε [B, latent_dim] (ε ~ N(0, I)).
  encoding encode(const torch::Tensor& x, const torch::Tensor& noise) {
    scorelift::detail::require(noise.defined() && noise.dim() == 2 && noise.size(0) == x.size(0) &&
                        noise.size(1) == options_.latent_dim,
                    "Autoencoder::encode", "argument 'noise' has shape ", scorelift::detail::tensor_shape_string(noise),
                    " but x has shape ", scorelift::detail::tensor_shape_string(x), " and latent_dim = ", options_.latent_dim);
    switch (options_.kind) {
      case autoencoder_kind::implicit_vae: return {encoder_->forward(x, noise), {}, {}};
      case autoencoder_kind::gaussian_vae: {
        const auto out = encoder_->forward(x);
        const auto mean = out.narrow(1, 0, options_.latent_dim);
        // Clamped so that exp stays finite early in training.
        const auto log_std = out.narrow(1, options_.latent_dim, options_.latent_dim).clamp(-10.0, 5.0);
        return {mean + log_std.exp() * noise, mean, log_std};
      }
      case autoencoder_kind::wae: return {encoder_->forward(x) + options_.wae_sigma * noise, {}, {}};
      default: break;  // a value cast from an integer outside the enumeration
    }
    scorelift::detail::fail("Autoencoder::encode", "options.kind is ", static_cast<int>(options_.kind),
                            " which is not an autoencoder_kind");
  }

  /// The encoder's parameters θ (what the entropy gradient −∇_θ h(q_θ) is taken with respect to).
  std::vector<torch::Tensor> encoder_parameters() const { return encoder_->parameters(); }

  torch::Tensor decode_logits(const torch::Tensor& z) { return decoder_->forward(z); }
  torch::Tensor decode(const torch::Tensor& z) { return torch::sigmoid(decoder_->forward(z)); }

 private:
  autoencoder_options options_;
  torch_ext::MLP encoder_{nullptr};
  torch_ext::MLP decoder_{nullptr};
};
TORCH_MODULE(Autoencoder);

/// −log p_ψ(x | z) per image [B]: Bernoulli cross-entropy summed over pixels.
inline torch::Tensor negative_log_likelihood(const torch::Tensor& logits, const torch::Tensor& x) {
  return torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::None).sum(1);
}

/// −log N(z; 0, I) per sample [B].
inline torch::Tensor negative_log_prior(const torch::Tensor& z) {
  return 0.5 * z.pow(2).sum(1) + 0.5 * static_cast<double>(z.size(1)) * std::log(2.0 * std::numbers::pi);
}

/// ‖x − x̂‖² per image [B].
inline torch::Tensor squared_error(const torch::Tensor& reconstruction, const torch::Tensor& x) {
  return (reconstruction - x).pow(2).sum(1);
}

/// KL(N(μ, diag σ²) ‖ N(0, I)) per sample [B] = ½ Σ_j (μ_j² + σ_j² − 1 − 2 log σ_j).
inline torch::Tensor gaussian_kl_to_standard(const torch::Tensor& mean, const torch::Tensor& log_std) {
  return 0.5 * (mean.pow(2) + (2.0 * log_std).exp() - 1.0 - 2.0 * log_std).sum(1);
}

/// Entropy of N(μ, diag σ²) per sample [B] = Σ_j log σ_j + (D/2) log(2πe).
inline torch::Tensor gaussian_entropy(const torch::Tensor& log_std) {
  return log_std.sum(1) +
         0.5 * static_cast<double>(log_std.size(1)) * std::log(2.0 * std::numbers::pi * std::numbers::e);
}

}  // namespace scorelift::implicit

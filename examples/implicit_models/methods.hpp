// The rows of the table: which model, which latent score estimator, and how to build it.
#pragma once

#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "scorelift/implicit/torch/autoencoders.hpp"
#include "scorelift/implicit/torch/latent_score.hpp"
#include "scorelift/implicit/torch/nonparametric_latent_score.hpp"
#include "scorelift/nonparametric/ssge.hpp"
#include "scorelift/nonparametric/stein.hpp"

namespace im_example {

namespace im = scorelift::implicit;
using scorelift::index_t;

enum class estimator_kind { none, stein, ssge, ssm, lse };

struct method {
  std::string name;   // CLI name
  std::string label;  // table label, as in the paper
  estimator_kind estimator;
  index_t levels;
};

struct run_spec {
  std::string model;  // "vae", "wae" or "gvae" (the Gaussian posterior trained through the estimator)
  im::autoencoder_kind kind;
  std::string method, label;
  estimator_kind estimator;
  index_t levels;
};

inline const std::vector<method>& all_methods() {
  static const std::vector<method> methods = {
      {"gaussian", "Gaussian posterior", estimator_kind::none, 0},
      {"stein", "Stein", estimator_kind::stein, 0},
      {"ssge", "SSGE", estimator_kind::ssge, 0},
      {"ssm-l1", "SSM (L = 1)", estimator_kind::ssm, 1},
      {"ssm-l2", "SSM (L = 2)", estimator_kind::ssm, 2},
      {"ssm-l3", "SSM (L = 3)", estimator_kind::ssm, 3},
      {"lse-l1", "LSE (L = 1)", estimator_kind::lse, 1},
      {"lse-l2", "LSE (L = 2)", estimator_kind::lse, 2},
      {"lse-l3", "LSE (L = 3)", estimator_kind::lse, 3},
  };
  return methods;
}

inline std::string method_names() {
  std::string out;
  for (const auto& m : all_methods()) out += (out.empty() ? "" : ", ") + m.name;
  return out;
}

inline std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

/// The (model, method) pairs to run, in table order; the Gaussian posterior is a VAE-only baseline.
/// "gvae" is the Gaussian-posterior VAE trained through an estimator's entropy gradient, whose exact
/// score makes the gradient's fidelity measurable during training (implicit_trainer).
inline std::vector<run_spec> select(const std::string& models, const std::string& methods) {
  const auto wanted = split(methods);
  for (const auto& w : wanted) {
    bool known = w == "all";
    for (const auto& m : all_methods()) known = known || m.name == w;
    if (!known) throw std::invalid_argument("--methods: unknown method '" + w + "' (known: " + method_names() + ")");
  }
  std::vector<run_spec> runs;
  for (const auto& model : split(models)) {
    if (model != "vae" && model != "wae" && model != "gvae")
      throw std::invalid_argument("--models: unknown model '" + model + "' (known: vae, wae, gvae)");
    for (const auto& m : all_methods()) {
      bool selected = methods == "all";
      for (const auto& w : wanted) selected = selected || w == m.name;
      if (!selected || (model != "vae" && m.estimator == estimator_kind::none)) continue;
      const auto kind = model == "wae" ? im::autoencoder_kind::wae
                        : (model == "gvae" || m.estimator == estimator_kind::none) ? im::autoencoder_kind::gaussian_vae
                                                                                    : im::autoencoder_kind::implicit_vae;
      runs.push_back({model, kind, m.name, m.label, m.estimator, m.levels});
    }
  }
  return runs;
}

/// The latent score estimator of a run (null for the Gaussian posterior with its closed form):
/// conditional s(z | x) for the VAEs, marginal s(z) for the WAE.
inline std::shared_ptr<im::latent_score_estimator> make_estimator(const run_spec& run, index_t latent_dim,
                                                                  index_t hidden, index_t particles,
                                                                  double learning_rate) {
  namespace np = scorelift::nonparametric;
  const bool conditional = run.kind != im::autoencoder_kind::wae;
  // Nonparametric: one fit per image on its K particles (VAE), one on the whole batch (WAE).
  const index_t blocks = conditional ? particles : 0;
  switch (run.estimator) {
    case estimator_kind::none: return nullptr;
    case estimator_kind::stein:
      return std::make_shared<im::nonparametric_latent_score<np::stein_gradient_estimator<>>>(
          [] { return np::stein_gradient_estimator<>(); }, blocks);
    case estimator_kind::ssge:
      return std::make_shared<im::nonparametric_latent_score<np::ssge_estimator<>>>(
          [] { return np::ssge_estimator<>(); }, blocks);
    case estimator_kind::ssm:
    case estimator_kind::lse:
      return std::make_shared<im::parametric_latent_score>(im::parametric_score_options{
          .objective = run.estimator == estimator_kind::lse ? im::score_objective::lse : im::score_objective::ssm_vr,
          .levels = run.levels,
          .latent_dim = latent_dim,
          .context_dim = conditional ? 784 : 0,
          .hidden = hidden,
          .depth = 2,
          .probes = 1,
          .learning_rate = learning_rate,
          .sign_decay = 0.5});
  }
  return nullptr;
}

}  // namespace im_example

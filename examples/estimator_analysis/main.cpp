// estimator_analysis: small-scale analysis on Eigen with exact estimators (no SGD, no Hutchinson noise
// unless a sliced objective asks for it), on targets whose noisy score is exact:
//   1. ISM and bias-corrected DSM on one scale at the optimal model f = s_σ, over a grid of σ and N, with
//      standard errors, against J_ISM = −D/(2(σ_d²+σ²)) and J_DSM = Dσ_d²/(2σ²(σ_d²+σ²)) (Gaussian) or the
//      Monte Carlo reference −½E‖s_σ‖² (mixture); the slope of the DSM variance against σ on log axes;
//   2. the Fisher divergence of the exact DSM minimiser at small σ against the exact ISM minimiser, as N grows;
//   3. the Fisher divergence of the exact minimiser of ISM, SSM-VR, DSM, LSE and LDSE against N (mean ± std
//      over seeds), and the variance of each objective's minibatch gradient at the optimum against B.
//   4. beyond mixtures, targets whose clean score only is known (banana, funnel): the Fisher divergence of the
//      trace objectives' exact minimisers (ISM, SSM-VR, LSE) against N beside the misspecification floor of
//      each feature family (the best model on the held-out sample), so the estimator's own error shows as the
//      gap above the floor.
// Targets: p = N(0, I₂) with affine features φ = (1, x) (the family holds s_σ), and a 3-component mixture in
// 2-D with 25 Gaussian bumps; banana with cubic monomials (which hold its score) and with bumps, funnel with
// bumps and with random Fourier features. Writes <out>/results.json and, through plot.py, PNG figures.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "report.hpp"
#include "scorelift/analysis/estimator_study.hpp"
#include "scorelift/analysis/ism_dsm_study.hpp"
#include "scorelift/analysis/known_score_targets.hpp"
#include "scorelift/analysis/polynomial_features.hpp"
#include "scorelift/analysis/random_fourier_features.hpp"
#include "scorelift/analysis/rbf_features.hpp"

namespace {

namespace sa = scorelift::analysis;
namespace ex = scorelift::examples;
using scorelift::index_t;
using scorelift::mean_estimate;
using gaussian_mixture = scorelift::diffusion::gaussian_mixture;
using json = nlohmann::json;

struct target_case {
  std::string name;
  gaussian_mixture p;
  sa::any_feature_map features;
  double ridge;
  bool closed_form;  // p = N(0, σ_d² I) with σ_d = 1
};

std::vector<target_case> make_targets() {
  gaussian_mixture::matrix means(3, 2);
  means << -2.0, 0.0, 2.0, 0.5, 0.0, -2.0;
  sa::row_matrix centres(25, 2);
  for (index_t i = 0; i < 25; ++i) centres.row(i) << -3.0 + 1.5 * static_cast<double>(i % 5), -3.0 + 1.5 * static_cast<double>(i / 5);
  return {{"gaussian", gaussian_mixture::isotropic(Eigen::VectorXd::Ones(1), gaussian_mixture::matrix::Zero(1, 2), Eigen::VectorXd::Ones(1)),
           sa::polynomial_features(2, 1), 0.0, true},
          {"mixture", gaussian_mixture::isotropic(Eigen::Vector3d(0.5, 0.3, 0.2), means, Eigen::Vector3d(0.6, 0.8, 0.5)),
           sa::rbf_features(centres, 1.0), 1e-3, false}};
}

/// A grid of g × g Gaussian bumps over [lo₁, hi₁] × [lo₂, hi₂], bandwidth one grid step.
sa::rbf_features bump_grid(index_t g, double lo1, double hi1, double lo2, double hi2) {
  sa::row_matrix centres(g * g, 2);
  const double step1 = (hi1 - lo1) / static_cast<double>(g - 1), step2 = (hi2 - lo2) / static_cast<double>(g - 1);
  for (index_t i = 0; i < g * g; ++i)
    centres.row(i) << lo1 + step1 * static_cast<double>(i % g), lo2 + step2 * static_cast<double>(i / g);
  return {centres, std::max(step1, step2)};
}

struct feature_family {
  std::string name;
  sa::any_feature_map phi;
  double ridge;  ///< the estimators' λ (½λ‖W‖² added to every objective)
};

/// Section 4: trace objectives at σ = 0 on a target with only its clean score known. Two references from the
/// held-out sample (misspecification_floor): the floor, the best model of the family (λ = 0: a ridge of 1e-10
/// only against round-off), and the limit, the best model with the estimators' ridge λ — which is where ISM,
/// SSM-VR and LSE all converge as N → ∞ (ISM + ½λ‖W‖² is ½E‖f − s‖² + ½λ‖W‖² up to a constant, and LSE's
/// population minimiser is ± that of SM for any C̄ = C + λI). N-dependence above the limit is estimation error.
template <class Target>
void known_score_section(const std::string& name, const Target& p, const std::vector<feature_family>& families,
                         const std::vector<index_t>& sizes, int seeds, index_t held_out, std::uint64_t& seed, json& out) {
  ex::table table({"features", "ridge", "objective", "N", "Fisher divergence (mean ± std)", "limit at ridge", "floor"});
  for (const feature_family& family : families) {
    const sa::study_settings settings{.sigma = 0.0, .held_out = held_out, .seed = seed++};
    const double floor = sa::misspecification_floor(p, family.phi, settings, 1e-10).mean;
    const double limit = sa::misspecification_floor(p, family.phi, settings, family.ridge).mean;
    json& entry = out[name][family.name];
    entry = {{"floor", floor}, {"limit", limit}, {"ridge", family.ridge}, {"features", family.phi.feature_count()}};
    for (const sa::linear_objective& objective : {sa::linear_objective::ism(family.ridge), sa::linear_objective::ssm_vr(family.ridge),
                                                  sa::linear_objective::lse(family.ridge)}) {
      for (const sa::fisher_point& point : sa::fisher_divergence_against_samples(p, family.phi, objective, sizes, seeds, settings)) {
        table.add({family.name, ex::format_number(family.ridge), objective.name, std::to_string(point.samples),
                   ex::format_mean_std(point.mean, point.std), ex::format_number(limit), ex::format_number(floor)});
        entry["curves"][objective.name].push_back({{"n", point.samples}, {"mean", point.mean}, {"std", point.std}});
      }
    }
  }
  std::cout << "\n== " << name << " (clean score only: sigma = 0, trace objectives; limit = best model at the ridge, "
            << "floor = best model of the family) ==\n";
  table.print();
}

json estimate_json(const mean_estimate& e) {
  return {{"mean", e.mean}, {"standard_error", e.standard_error}, {"variance", e.variance}};
}

std::vector<sa::linear_objective> objectives(double ridge) {
  return {sa::linear_objective::ism(ridge), sa::linear_objective::ssm_vr(ridge), sa::linear_objective::dsm(ridge),
          sa::linear_objective::lse(ridge), sa::linear_objective::ldse(ridge)};
}

int run(int argc, char** argv) {
  CLI::App app{"Exact linear-model estimators on Eigen: ISM vs DSM on one scale, Fisher divergence and gradient variance"};
  bool smoke = false, no_plot = false;
  std::string out_dir = "out/estimator_analysis";
  int seeds = 10;
  app.add_flag("--smoke", smoke, "a few seconds: small grids, 3 seeds");
  app.add_flag("--no-plot", no_plot, "write the JSON only (no matplotlib)");
  app.add_option("--seeds", seeds, "seeds per Fisher-divergence point (mean ± std)")->check(CLI::Range(2, 1000));
  app.add_option("--out", out_dir, "directory for results.json and the plots");
  CLI11_PARSE(app, argc, argv);
  if (smoke) seeds = 3;
  const auto start = std::chrono::steady_clock::now();

  const std::vector<double> sigmas = smoke ? std::vector<double>{0.02, 0.1, 0.5}
                                           : std::vector<double>{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0};
  const std::vector<index_t> grid_sizes = smoke ? std::vector<index_t>{500, 2000} : std::vector<index_t>{1000, 10000};
  const std::vector<index_t> sizes = smoke ? std::vector<index_t>{100, 400} : std::vector<index_t>{100, 300, 1000, 3000, 10000};
  const std::vector<index_t> batches = smoke ? std::vector<index_t>{32, 128} : std::vector<index_t>{32, 128, 512, 2048};
  const int repeats = smoke ? 50 : 200;
  const double small_sigma = 0.05, study_sigma = 0.1, slope_sigma_max = 0.2;
  const index_t held_out = smoke ? 5000 : 20000;

  std::filesystem::create_directories(out_dir);
  json report = {{"config",
                  {{"sigmas", sigmas}, {"grid_sizes", grid_sizes}, {"sizes", sizes}, {"seeds", seeds},
                   {"batches", batches}, {"repeats", repeats}, {"small_sigma", small_sigma},
                   {"study_sigma", study_sigma}, {"slope_sigma_max", slope_sigma_max}, {"smoke", smoke}}}};
  std::uint64_t seed = 1;

  for (const target_case& t : make_targets()) {
    const index_t dim = t.p.dim();
    json& out = report["targets"][t.name];
    std::cout << "\n== " << t.name << " (D = " << dim << ", " << t.features.feature_count() << " features) ==\n";

    // 1. ISM and DSM on one scale at f = s_σ.
    ex::table losses({"sigma", "N", "ISM ± se", "DSM corrected ± se", "J_ISM reference", "DSM ± se", "J_DSM reference"});
    std::vector<double> slope_sigmas, var_dsm, var_ism;
    for (const double sigma : sigmas) {
      mean_estimate reference{};
      if (t.closed_form) {
        reference.mean = sa::gaussian_optimal_ism(dim, 1.0, sigma);
      } else {
        reference = sa::optimal_ism_reference(t.p, sigma, 10 * grid_sizes.back(), seed++);
      }
      const double reference_dsm = reference.mean + static_cast<double>(dim) / (2 * sigma * sigma);
      for (const index_t n : grid_sizes) {
        const sa::ism_dsm_point cell = sa::ism_dsm_at_optimum(t.p, sigma, n, seed++);
        const auto& c = cell.at_optimum;
        losses.add({ex::format_number(sigma), std::to_string(n), ex::format_mean_std(c.ism.mean, c.ism.standard_error),
                    ex::format_mean_std(c.dsm.mean, c.dsm.standard_error), ex::format_mean_std(reference.mean, reference.standard_error),
                    ex::format_mean_std(c.dsm_uncorrected.mean, c.dsm_uncorrected.standard_error), ex::format_number(reference_dsm)});
        out["losses"].push_back({{"sigma", sigma}, {"n", n}, {"ism", estimate_json(c.ism)}, {"dsm", estimate_json(c.dsm)},
                                 {"dsm_uncorrected", estimate_json(c.dsm_uncorrected)}, {"reference_ism", estimate_json(reference)},
                                 {"reference_dsm", reference_dsm}});
        if (n == grid_sizes.back() && sigma <= slope_sigma_max) {
          slope_sigmas.push_back(sigma);
          var_dsm.push_back(c.dsm.variance);
          var_ism.push_back(c.ism.variance);
        }
      }
    }
    losses.print();
    const sa::slope_fit dsm_slope = sa::log_log_slope(slope_sigmas, var_dsm), ism_slope = sa::log_log_slope(slope_sigmas, var_ism);
    std::cout << "DSM variance slope against sigma (log-log, sigma <= " << slope_sigma_max << ", N = " << grid_sizes.back()
              << "): " << ex::format_mean_std(dsm_slope.slope, dsm_slope.standard_error) << " (expected -2); ISM: "
              << ex::format_mean_std(ism_slope.slope, ism_slope.standard_error) << '\n';
    out["variance_slope"] = {{"sigmas", slope_sigmas}, {"dsm_variance", var_dsm}, {"ism_variance", var_ism},
                             {"dsm_slope", dsm_slope.slope}, {"dsm_slope_se", dsm_slope.standard_error},
                             {"dsm_intercept", dsm_slope.intercept}, {"ism_slope", ism_slope.slope},
                             {"ism_slope_se", ism_slope.standard_error}};

    // 2 and 3. Fisher divergence of the exact minimisers against N.
    const auto fisher_table = [&](double sigma, const std::vector<sa::linear_objective>& list, const char* key) {
      ex::table table({"objective", "N", "Fisher divergence (mean ± std over seeds)"});
      for (const sa::linear_objective& objective : list) {
        const auto curve = sa::fisher_divergence_against_samples(
            t.p, t.features, objective, sizes, seeds, {.sigma = sigma, .held_out = held_out, .seed = seed++});
        std::vector<double> n, f;
        for (const auto& point : curve) {
          table.add({objective.name, std::to_string(point.samples), ex::format_mean_std(point.mean, point.std)});
          out[key][objective.name].push_back({{"n", point.samples}, {"mean", point.mean}, {"std", point.std}});
          n.push_back(static_cast<double>(point.samples));
          f.push_back(point.mean);
        }
        out[key + std::string("_slopes")][objective.name] = sa::log_log_slope(n, f).slope;
      }
      table.print();
    };
    std::cout << "\nFisher divergence to s_sigma at small sigma = " << small_sigma << ": exact DSM vs exact ISM minimiser\n";
    fisher_table(small_sigma, {sa::linear_objective::ism(t.ridge), sa::linear_objective::dsm(t.ridge)}, "fisher_small_sigma");
    std::cout << "\nFisher divergence to s_sigma, sigma = " << study_sigma << ", every objective's exact minimiser\n";
    fisher_table(study_sigma, objectives(t.ridge), "fisher");

    ex::table variance({"objective", "B", "total gradient variance at W*", "B × variance", "|mean gradient|"});
    for (const sa::linear_objective& objective : objectives(t.ridge)) {
      const auto points = sa::gradient_variance_at_optimum(t.p, t.features, objective, batches, repeats, 50000,
                                                           {.sigma = study_sigma, .seed = seed++});
      std::vector<double> b, v;
      for (const auto& point : points) {
        variance.add({objective.name, std::to_string(point.batch), ex::format_number(point.total_variance),
                      ex::format_number(static_cast<double>(point.batch) * point.total_variance),
                      ex::format_number(point.gradient_norm)});
        out["gradient_variance"][objective.name].push_back(
            {{"batch", point.batch}, {"total_variance", point.total_variance}, {"mean_gradient_norm", point.gradient_norm}});
        b.push_back(static_cast<double>(point.batch));
        v.push_back(point.total_variance);
      }
      out["gradient_variance_slopes"][objective.name] = sa::log_log_slope(b, v).slope;
    }
    std::cout << "\nMinibatch gradient variance at the optimum (sigma = " << study_sigma << ", " << repeats << " batches each)\n";
    variance.print();
  }

  // 4. Targets with only the clean score known.
  const std::vector<index_t> known_sizes = smoke ? std::vector<index_t>{200, 800} : std::vector<index_t>{100, 300, 1000, 3000, 10000};
  const index_t known_held_out = smoke ? 3000 : 20000;
  // Ridges: against overfitting at N = 100 (36–64 features), small beside each family's Gram matrix (bumps
  // have φ = O(1), Fourier features √(2/K) cos = O(0.2), so their C is ~30× smaller).
  known_score_section("banana", sa::banana_target(2.0, 0.25),
                      {{"cubic monomials", sa::polynomial_features(2, 3), 1e-8}, {"36 bumps", bump_grid(6, -5.0, 5.0, -3.0, 7.0), 1e-4}},
                      known_sizes, seeds, known_held_out, seed, report["known_score"]);
  known_score_section("funnel", sa::funnel_target(2, 1.0),
                      {{"36 bumps", bump_grid(6, -3.0, 3.0, -4.0, 4.0), 1e-4},
                       {"64 Fourier features", sa::random_fourier_features(2, 64, 1.0, 5), 1e-6}},
                      known_sizes, seeds, known_held_out, seed, report["known_score"]);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report["seconds"] = seconds;
  const std::string path = out_dir + "/results.json";
  std::ofstream(path) << report.dump(1);
  std::cout << "\nwrote " << path << " (" << ex::format_number(seconds) << " s)" << std::endl;  // before python prints
  if (!no_plot)
    ex::run_plot_script(std::string(SCORELIFT_SOURCE_DIR) + "/examples/estimator_analysis/plot.py", {path, out_dir});
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return ex::guarded_main(argc, argv, run); }

"""Plots for estimator_analysis: ISM and bias-corrected DSM ± standard error against sigma with the reference;
the per-sample variance against sigma on log axes with the fitted DSM slope; Fisher divergence of the exact
minimisers against N per objective; minibatch gradient variance at the optimum against B; for the targets with
only a clean score (banana, funnel), Fisher divergence against N per feature family beside its floor."""
import json
import sys

import matplotlib.pyplot as plt
import numpy as np

results_path, out_dir = sys.argv[1], sys.argv[2]
with open(results_path) as f:
    results = json.load(f)
config, targets = results["config"], results["targets"]
n_max = max(config["grid_sizes"])


def per_target_figure(filename, panels, height=3.6):
    """One column per target, one row per entry of `panels`: (draw(ax, name, data), xlabel, ylabel, title(name))."""
    fig, axes = plt.subplots(len(panels), len(targets), figsize=(5.2 * len(targets), height * len(panels)),
                             squeeze=False)
    for col, (name, data) in enumerate(targets.items()):
        for row, (draw, xlabel, ylabel, title) in enumerate(panels):
            ax = axes[row, col]
            draw(ax, data)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(title(name), fontsize=8)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/{filename}", dpi=130)
    plt.close(fig)


def losses(ax, data):
    rows = [r for r in data["losses"] if r["n"] == n_max]
    s = np.array([r["sigma"] for r in rows])
    for key, label, shift in (("ism", "ISM", 0.97), ("dsm", "DSM, bias-corrected", 1.03)):
        ax.errorbar(s * shift, [r[key]["mean"] for r in rows], yerr=[r[key]["standard_error"] for r in rows],
                    fmt="o", ms=3, capsize=3, label=f"{label} ± s.e.")
    ax.plot(s, [r["reference_ism"]["mean"] for r in rows], "k-", lw=0.8, label="J_ISM(s_σ) reference")
    ax.set_xscale("log")


def variance_slope(ax, data):
    v = data["variance_slope"]
    s = np.array(v["sigmas"])
    ax.loglog(s, v["dsm_variance"], "o", label="DSM (bias-corrected)")
    ax.loglog(s, v["ism_variance"], "s", label="ISM")
    ax.loglog(s, np.exp(v["dsm_intercept"]) * s ** v["dsm_slope"], "k--", lw=0.8,
              label=f"fit: slope {v['dsm_slope']:.3f} ± {v['dsm_slope_se']:.3f}")


def fisher(key):
    def draw(ax, data):
        for objective, points in data[key].items():
            ax.errorbar([p["n"] for p in points], [p["mean"] for p in points], yerr=[p["std"] for p in points],
                        fmt="o-", ms=3, capsize=2, label=objective)
        ax.set_xscale("log")
        ax.set_yscale("log")
    return draw


def gradient_variance(ax, data):
    for objective, points in data["gradient_variance"].items():
        slope = data["gradient_variance_slopes"][objective]
        ax.loglog([p["batch"] for p in points], [p["total_variance"] for p in points], "o-", ms=3,
                  label=f"{objective} (slope {slope:.2f})")


per_target_figure("loss_vs_sigma.png", [(losses, "σ", "loss at f = s_σ",
                                         lambda n: f"{n}: ISM vs DSM on one scale (N = {n_max})")])
per_target_figure("variance_slope.png", [(variance_slope, "σ", "per-sample variance",
                                          lambda n: f"{n}: variance of the estimators (expected DSM slope −2)")])
per_target_figure("fisher_vs_n.png", [
    (fisher("fisher"), "N", "Fisher divergence to s_σ",
     lambda n: f"{n}, σ = {config['study_sigma']}: every objective (mean ± std over seeds)"),
    (fisher("fisher_small_sigma"), "N", "Fisher divergence to s_σ",
     lambda n: f"{n}, σ = {config['small_sigma']}: DSM vs ISM (mean ± std over seeds)")])
per_target_figure("gradient_variance.png", [(gradient_variance, "batch size B", "total variance of ∇_W J at W*",
                                             lambda n: f"{n}: minibatch gradient variance at the optimum")])


def known_score_figure(filename):
    """One panel per (target, feature family): the trace objectives against N and the family's floor."""
    panels = [(t, family, d) for t, families in results.get("known_score", {}).items() for family, d in families.items()]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.8), squeeze=False)
    for ax, (target, family, d) in zip(axes[0], panels):
        for objective, points in d["curves"].items():
            ax.errorbar([p["n"] for p in points], [p["mean"] for p in points], yerr=[p["std"] for p in points],
                        fmt="o-", ms=3, capsize=2, label=objective)
        ax.axhline(d["limit"], color="k", ls=":", lw=0.8, label=f"limit at ridge {d['ridge']:.0e}: {d['limit']:.3g}")
        if d["floor"] > 1e-12:
            ax.axhline(d["floor"], color="k", ls="--", lw=0.8, label=f"floor (best in family) {d['floor']:.3g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N")
        ax.set_ylabel("Fisher divergence to s")
        ax.set_title(f"{target}, {family} (K = {d['features']})", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/{filename}", dpi=130)
    plt.close(fig)


known_score_figure("fisher_known_score.png")
print(f"plots written to {out_dir}")

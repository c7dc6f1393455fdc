"""Plots for diffusion_mixture: samples per method (first two coordinates), the per-timestep soft signs of
LDSE (L = 2) as in the paper's Figure 1, and the score error against the timestep."""
import json
import sys

import matplotlib.pyplot as plt
import numpy as np

results_path, out_dir = sys.argv[1], sys.argv[2]
with open(results_path) as f:
    results = json.load(f)

for name, target in results["targets"].items():
    methods = list(target["methods"].keys())
    panels = [("truth", np.asarray(target["truth"])), ("exact score (DDIM)", np.asarray(target["exact_score"]["samples"]))]
    panels += [(m, np.asarray(target["methods"][m][0]["samples"])) for m in methods]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.8), sharex=True, sharey=True)
    for ax, (title, xy) in zip(axes, panels):
        ax.scatter(xy[:, 0], xy[:, 1], s=1.5, alpha=0.5)
        ax.set_title(title, fontsize=8)
        ax.set_aspect("equal")
    truth = panels[0][1]
    lim = np.abs(truth).max() * 1.3
    axes[0].set_xlim(-lim, lim)
    axes[0].set_ylim(-lim, lim)
    fig.suptitle(f"{name}: samples (coordinates 1-2), seed 0", fontsize=9)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/samples_{name}.png", dpi=130)
    plt.close(fig)

    lifted = [m for m in methods if "soft_signs" in target["methods"][m][0]]
    T = results["config"]["timesteps"]
    panels = [(m, level) for m in lifted
              for level in range(np.asarray(target["methods"][m][0]["soft_signs"]).reshape(T, -1).shape[1])]
    if panels:
        # One panel per (method, mode), as in the paper's Figure 1: each mode has its own scale.
        fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.9 * len(panels)), squeeze=False)
        for ax, (m, level) in zip(axes[:, 0], panels):
            soft = np.asarray(target["methods"][m][0]["soft_signs"]).reshape(T, -1)[:, level]
            ax.plot(np.arange(1, T + 1), soft, lw=0.6)
            ax.axhline(0.0, color="k", lw=0.5)
            share = np.mean(soft < 0)
            ax.set_title(f"{name} {m}: soft sign A^({level + 1})_t  (kappa = -1 at {100 * share:.0f}% of timesteps)",
                         fontsize=8)
        axes[-1, 0].set_xlabel("timestep t")
        fig.tight_layout()
        fig.savefig(f"{out_dir}/soft_signs_{name}.png", dpi=130)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for m in methods:
        curves = np.asarray([run["score_error_by_t"] for run in target["methods"][m]])
        bins = curves.shape[1]
        t = (np.arange(bins) + 0.5) / bins * results["config"]["timesteps"]
        ax.plot(t, curves.mean(0), label=m)
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel("E ||eps_hat - eps*||^2")
    ax.set_title(f"{name}: score error per timestep (mean over seeds)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{out_dir}/score_error_{name}.png", dpi=130)
    plt.close(fig)
print(f"wrote plots to {out_dir}")

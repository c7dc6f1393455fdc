"""Plots for the known-score suite (run with Debian's /usr/bin/python3: numpy + matplotlib).

usage: plot.py results.json out_dir
  score_fields.png   per 2-D target: true score field, then each method's estimate (seed 0)
  curves_<target>.png  held-out Fisher divergence (log scale, common to all methods) and each
                       method's own training objective, against the training step
"""
import json
import os
import sys

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def score_fields(report, out_dir):
    targets = [t for t in report["targets"] if t["dim"] == 2 and "grid" in t]
    if not targets:
        return
    columns = 5
    blocks = [1 + (len(t["methods"])) // columns for t in targets]  # rows per target: truth + methods
    fig, axes = plt.subplots(sum(blocks), columns, figsize=(2.6 * columns, 2.6 * sum(blocks)), squeeze=False)
    first_row = 0
    for target, rows in zip(targets, blocks):
        grid = np.asarray(target["grid"]).reshape(-1, 2)
        samples = np.asarray(target["samples"]).reshape(-1, 2)
        panels = [("%s: true score" % target["name"], np.asarray(target["true_score"]).reshape(-1, 2))]
        panels += [("%s\nF = %.3g" % (m["name"], m["fisher_mean"]), np.asarray(m["model_score"]).reshape(-1, 2))
                   for m in target["methods"]]
        for k in range(rows * columns):
            ax = axes[first_row + k // columns][k % columns]
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= len(panels):
                ax.axis("off")
                continue
            title, field = panels[k]
            # Arrows of unit length; colour = log10 |s|, so direction and magnitude both read where
            # the score spans orders of magnitude.
            norm = np.linalg.norm(field, axis=1) + 1e-12
            ax.scatter(samples[:, 0], samples[:, 1], s=1, c="0.8")
            ax.quiver(grid[:, 0], grid[:, 1], field[:, 0] / norm, field[:, 1] / norm, np.log10(norm),
                      cmap="viridis", scale=30, width=0.006)
            ax.set_title(title, fontsize=8)
        first_row += rows
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "score_fields.png"), dpi=100)
    plt.close(fig)


def curves(report, out_dir):
    for target in report["targets"]:
        methods = target["methods"]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for m in methods:
            steps = m["log_every"] * (1 + np.arange(len(m["fisher_curve"])))
            axes[0].plot(steps, m["fisher_curve"], label=m["name"])
            losses = np.asarray(m["losses"])
            # Objectives live on different scales (DSM carries D/σ², LSE is quartic in f): plot each
            # relative to its own range so the shapes of the curves compare.
            span = np.ptp(losses) if np.ptp(losses) > 0 else 1.0
            axes[1].plot(steps, (losses - losses.min()) / span, label=m["name"])
        axes[0].set_yscale("log")
        axes[0].set_title("%s: held-out Fisher divergence E||s_hat - s||^2" % target["name"], fontsize=9)
        axes[1].set_title("training objective, rescaled to [0, 1] per method", fontsize=9)
        for ax in axes:
            ax.set_xlabel("step")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "curves_%s.png" % target["name"]), dpi=110)
        plt.close(fig)


def main():
    with open(sys.argv[1]) as handle:
        report = json.load(handle)
    out_dir = sys.argv[2]
    score_fields(report, out_dir)
    curves(report, out_dir)


if __name__ == "__main__":
    main()

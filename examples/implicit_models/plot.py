"""Figures for implicit_models: sample grids per model (one panel per method, seed 0) and the
Fréchet distance per method (mean ± std over seeds). Usage: plot.py <output directory>."""
import json
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

out = sys.argv[1]
with open(os.path.join(out, "results.json")) as f:
    results = json.load(f)
summary = results["summary"]

for model in ("vae", "wae"):
    rows = [s for s in summary if s["model"] == model]
    if not rows:
        continue
    cols = min(len(rows), 5)
    nrows = (len(rows) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(2.6 * cols, 3.3 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, s in zip(axes.flat, rows):
        path = os.path.join(out, f"samples_{model}_{s['method']}.f32")
        if not os.path.exists(path):
            continue
        images = np.fromfile(path, dtype=np.float32).reshape(-1, 28, 28)[:64]
        side = int(np.ceil(np.sqrt(len(images))))
        grid = np.ones((side * 29, side * 29))
        for i, im in enumerate(images):
            r, c = divmod(i, side)
            grid[r * 29:r * 29 + 28, c * 29:c * 29 + 28] = im
        ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{s['label']}\nFD {s['frechet_mean']:.1f} (mean of seeds)", fontsize=9)
    fig.suptitle(f"{model.upper()}: decoded prior samples z ~ N(0, I) (seed 0)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"samples_{model}.png"), dpi=110)
    plt.close(fig)

fig, ax = plt.subplots(figsize=(9, 4))
labels = [f"{s['model'].upper()} {s['label']}" for s in summary]
ax.bar(range(len(summary)), [s["frechet_mean"] for s in summary], yerr=[s["frechet_std"] for s in summary],
       color=["tab:blue" if s["model"] == "vae" else "tab:orange" for s in summary], capsize=3)
ax.set_xticks(range(len(summary)))
ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
ax.set_ylabel("Fréchet distance (classifier features) ↓")
ax.set_title("Sample quality, mean ± std over seeds")
fig.tight_layout()
fig.savefig(os.path.join(out, "frechet.png"), dpi=110)


# Entropy-gradient fidelity during training (gvae runs: the Gaussian posterior trained through each estimator).
tracked = [r for r in results["runs"] if r.get("cosine")]
if tracked:
    fig, (ax_cos, ax_err, ax_score) = plt.subplots(1, 3, figsize=(15, 4))
    colours = {}
    for r in tracked:
        colour = colours.setdefault(r["method"], f"C{len(colours)}")
        label = r["method"] if r["seed"] == 0 else None
        ax_cos.plot(r["fidelity_steps"], r["cosine"], color=colour, alpha=0.7, lw=1, label=label)
        ax_err.semilogy(r["fidelity_steps"], r["relative_error"], color=colour, alpha=0.7, lw=1, label=label)
        if r.get("score_cosine"):
            ax_score.plot(r["fidelity_steps"], r["score_cosine"], color=colour, alpha=0.7, lw=1, label=label)
    ax_cos.set_ylabel("cos(ĝ, g)")
    ax_err.set_ylabel("‖ĝ − g‖ / ‖g‖")
    ax_score.set_ylabel("cos(ŝ, s) (negative: flipped sign)")
    for ax in (ax_cos, ax_err, ax_score):
        ax.set_xlabel("training step")
        ax.legend(fontsize=8)
    fig.suptitle("Entropy gradient from ŝ against the exact one, Gaussian posterior trained through ŝ (each seed a line)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fidelity.png"), dpi=110)
    plt.close(fig)

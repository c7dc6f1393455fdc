"""Plots for fashion_mnist_diffusion: a grid of samples, the training-loss curve and (LDSE) the soft signs
kappa of each mode across noise levels (the paper's Figure 1)."""
import json
import sys

import matplotlib.pyplot as plt
import numpy as np

results_path, out_dir = sys.argv[1], sys.argv[2]
with open(results_path) as f:
    results = json.load(f)
images = np.asarray(results["samples"], dtype=float).reshape(-1, 28, 28)
n = len(images)
cols = int(np.ceil(np.sqrt(n)))
rows = int(np.ceil(n / cols))
fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), squeeze=False)
for ax in axes.flat:
    ax.axis("off")
for ax, image in zip(axes.flat, images):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
cfg = results["config"]
sampler = "Heun" if cfg.get("preconditioning") == "edm" else "DDIM"
fig.suptitle(f"{cfg.get('preconditioning', 'iddpm')} {cfg['objective'].upper()} L={cfg['levels']}, {cfg['steps']} steps, "
             f"{sampler} {cfg['sampling_steps']}")
fig.savefig(f"{out_dir}/samples.png", dpi=100, bbox_inches="tight")

fig, ax = plt.subplots(figsize=(6, 3.5))
losses = np.asarray(results["losses"])
ax.plot(losses, lw=0.5, alpha=0.4)
window = max(1, len(losses) // 50)
ax.plot(np.convolve(losses, np.ones(window) / window, mode="valid"), lw=1.5)
ax.set_xlabel("step")
ax.set_ylabel("loss")
fig.tight_layout()
fig.savefig(f"{out_dir}/loss.png", dpi=120)
written = ["samples.png", "loss.png"]
if "soft_signs" in results:
    # The tracker's state is noise-level major: entry n * L + l is mode l at noise level n.
    levels = cfg["levels"]
    soft = np.asarray(results["soft_signs"], dtype=float).reshape(-1, levels)
    edm = cfg.get("preconditioning") == "edm"
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for l in range(levels):
        ax.plot(np.arange(1, len(soft) + 1), soft[:, l], lw=1.2, label=f"mode {l + 1}")
    ax.axhline(0.0, color="gray", lw=0.5)
    ax.set_xlabel("ln sigma bin (low to high noise)" if edm else "timestep t (low to high noise)")
    ax.set_ylabel("soft sign kappa")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out_dir}/signs.png", dpi=120)
    written.append("signs.png")
print(f"wrote {', '.join(f'{out_dir}/{w}' for w in written)}")

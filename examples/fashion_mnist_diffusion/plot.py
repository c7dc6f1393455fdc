"""Plots for fashion_mnist_diffusion: a grid of DDIM samples and the training-loss curve."""
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
fig.suptitle(f"{cfg['objective'].upper()} L={cfg['levels']}, {cfg['steps']} steps, DDIM {cfg['sampling_steps']}")
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
print(f"wrote {out_dir}/samples.png and loss.png")

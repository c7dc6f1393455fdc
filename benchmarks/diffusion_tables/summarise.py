"""Summarises benchmarks/diffusion_tables/run.sh: mean ± std over seeds of FD and KID per configuration (and the
floor), as a markdown table (tables.md), JSON (tables.json), a sample grid (samples.png, first seed of each
configuration) and the soft signs of the LDSE runs (signs.png). Usage: summarise.py OUT_DIR"""
import glob
import json
import math
import os
import sys

out = sys.argv[1]
runs = {}
for path in sorted(glob.glob(os.path.join(out, "*-seed*", "results.json"))):
    name = os.path.basename(os.path.dirname(path)).rsplit("-seed", 1)[0]
    with open(path) as f:
        runs.setdefault(name, []).append(json.load(f))
if not runs:
    sys.exit(f"summarise.py: no results under {out}")


def stats(values):
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else float("nan")
    return mean, std


order = ["iddpm-dsm-L1", "iddpm-dsm-L2", "iddpm-ldse-L1", "iddpm-ldse-L2", "edm-dsm-L1", "edm-ldse-L1"]
labels = {"iddpm-dsm-L1": "iDDPM, DSM", "iddpm-dsm-L2": "iDDPM, residual DSM L = 2", "iddpm-ldse-L1": "iDDPM, LDSE L = 1",
          "iddpm-ldse-L2": "iDDPM, LDSE L = 2", "edm-dsm-L1": "EDM, regression (DSM)", "edm-ldse-L1": "EDM, LDSE L = 1"}
summary = {}
lines = ["| configuration | seeds | FD | KID × 10³ | train s / run | final loss |", "|---|---|---|---|---|---|"]
floors = []
for name in [n for n in order if n in runs] + [n for n in runs if n not in order]:
    results = runs[name]
    fd = stats([r["metrics"]["frechet"] for r in results])
    kid = stats([1e3 * r["metrics"]["kid"] for r in results])
    seconds = stats([r["train_seconds"] for r in results])
    floors += [r["floor"] for r in results]
    summary[name] = {"seeds": len(results), "frechet": fd, "kid_x1e3": kid, "train_seconds": seconds[0],
                     "config": results[0]["config"]}
    lines.append(f"| {labels.get(name, name)} | {len(results)} | {fd[0]:.3g} ± {fd[1]:.2g} | {kid[0]:.3g} ± {kid[1]:.2g} "
                 f"| {seconds[0]:.0f} | {results[0]['losses'][-1]:.3g} |")
floor_fd, floor_kid = stats([f["frechet"] for f in floors]), stats([1e3 * f["kid"] for f in floors])
lines.append(f"| training images (floor) | {len(floors)} | {floor_fd[0]:.3g} ± {floor_fd[1]:.2g} "
             f"| {floor_kid[0]:.3g} ± {floor_kid[1]:.2g} | – | – |")
summary["floor"] = {"frechet": floor_fd, "kid_x1e3": floor_kid}
table = "\n".join(lines)
print(table)
with open(os.path.join(out, "tables.md"), "w") as f:
    f.write(table + "\n")
with open(os.path.join(out, "tables.json"), "w") as f:
    json.dump(summary, f, indent=1)

import matplotlib  # noqa: E402  (after the table: the numbers do not need matplotlib)
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

names = [n for n in order if n in runs]
fig, axes = plt.subplots(1, len(names), figsize=(2.2 * len(names), 2.6), squeeze=False)
for ax, name in zip(axes[0], names):
    pixels = runs[name][0]["samples"]
    count = len(pixels) // 784
    side = int(math.isqrt(count))
    grid = [[0.0] * (28 * side) for _ in range(28 * side)]
    for k in range(side * side):
        r0, c0 = 28 * (k // side), 28 * (k % side)
        for i in range(28):
            grid[r0 + i][c0:c0 + 28] = pixels[784 * k + 28 * i: 784 * k + 28 * i + 28]
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax.set_title(labels.get(name, name), fontsize=7)
    ax.axis("off")
fig.tight_layout()
fig.savefig(os.path.join(out, "samples.png"), dpi=130)

signed = [n for n in names if "soft_signs" in runs[n][0]]
if signed:
    fig, axes = plt.subplots(1, len(signed), figsize=(3.2 * len(signed), 2.6), squeeze=False)
    for ax, name in zip(axes[0], signed):
        r = runs[name][0]
        levels = r["config"]["levels"]
        soft = r["soft_signs"]
        bins = len(soft) // levels
        for l in range(levels):
            ax.plot(range(1, bins + 1), [soft[n * levels + l] for n in range(bins)], lw=1, label=f"mode {l + 1}")
        ax.axhline(0.0, color="gray", lw=0.5)
        ax.set_title(labels.get(name, name), fontsize=8)
        ax.set_xlabel("ln σ bin" if name.startswith("edm") else "timestep t", fontsize=7)
        ax.set_ylabel("soft sign κ", fontsize=7)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "signs.png"), dpi=130)
print(f"wrote {out}/tables.md, tables.json, samples.png" + (", signs.png" if signed else ""))

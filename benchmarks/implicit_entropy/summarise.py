"""Markdown table of benchmarks/implicit_entropy/score_steps.sh's runs: one row per (score steps, model,
method) with −ELBO, entropy, FD and, for gvae, the entropy-gradient fidelity over the second half of training
(mean ± std over seeds). Usage: /usr/bin/python3 summarise.py <out-dir>"""
import glob
import json
import os
import sys

out = sys.argv[1]


def cell(row, key, digits=3):
    if f"{key}_mean" not in row:
        return "–"
    return f"{row[f'{key}_mean']:.{digits}g} ± {row[f'{key}_std']:.2g}"


print("| score steps | model | method | −ELBO ↓ | entropy (nats) | FD ↓ | cos(g_est, g) | ‖g_est‖/‖g‖ | cos(ŝ, s) | s / run |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for path in sorted(glob.glob(os.path.join(out, "*", "results.json"))):
    with open(path) as f:
        results = json.load(f)
    steps = results["config"]["score_steps"] if "score_steps_" in path else "–"
    for row in results["summary"]:
        print(f"| {steps} | {row['model']} | {row['label']} | {cell(row, 'objective', 4)} | {cell(row, 'entropy')} | "
              f"{cell(row, 'frechet')} | {cell(row, 'cosine', 2)} | {cell(row, 'norm_ratio', 2)} | {cell(row, 'score_cosine', 2)} | "
              f"{row['seconds_per_run']:.0f} |")

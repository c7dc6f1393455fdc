#!/usr/bin/env python3
"""Times the Python reference side of the comparisons in benchmarks/RESULTS.md.

  bench.py training-step --threads N --out file.json   (a), (c): one training step per objective
  bench.py lifted-loss   --threads N --out file.json   (b): lifted loss forward + backward
  bench.py breakdown     --threads N --out file.json   where an LSE (L = 1) step spends its time
  bench.py count-ops     --out file.json                ATen operators dispatched per training step
  bench.py profile       --steps N                      N LSE steps and nothing else (for perf)

The timing protocol is the one benchmarks/training_step/ uses in C++: `warmup` untimed iterations,
then `repeats` timed runs of `iterations` iterations each; a run's figure is its mean time per
iteration, and the reported figure is the median over runs (robust to the other jobs on a shared
machine). Run with Debian's interpreter, /usr/bin/python3 (it has python3-torch).
"""

import argparse
import json
import statistics
import sys
import time

import torch

import reference

# (name, objective, levels) — the same list as benchmarks/training_step/training_step.cpp.
TRAINING_CASES = [("ssm", "ssm", 1), ("dsm", "dsm", 1), ("lse", "lse", 1), ("residual_lse_L2", "lse", 2)]


def time_runs(body, warmup, repeats, iterations):
    """Median over `repeats` runs of the mean seconds per call of body()."""
    for _ in range(warmup):
        body()
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iterations):
            body()
        per_call.append((time.perf_counter() - start) / iterations)
    return {"median_s": statistics.median(per_call), "min_s": min(per_call), "runs_s": per_call}


def training_step(args):
    results = []
    data_generator = torch.Generator().manual_seed(args.seed)
    # A pool of batches drawn once, so that sampling the data is not part of the timed step.
    pool = reference.eight_gaussians(args.batch * 16, data_generator).split(args.batch)
    for name, objective, levels in TRAINING_CASES:
        step = reference.TrainingStep(objective, levels, dim=2, hidden=args.hidden, depth=args.depth,
                                      probes=args.probes, sigma=args.sigma, seed=args.seed)
        counter = iter(range(1 << 62))
        figures = time_runs(lambda: step(pool[next(counter) % len(pool)]), args.warmup, args.repeats,
                            args.iterations)
        results.append({"name": name, "objective": objective, "levels": levels, **figures})
        print(f"  python {name:16s} {figures['median_s'] * 1e3:9.3f} ms/step", file=sys.stderr)
    return results


def lifted_loss(args):
    results = []
    generator = torch.Generator().manual_seed(args.seed)
    for form in ("divergence", "target"):
        for dim in args.dims:
            for levels in (1, 2, 3):
                modes = [torch.randn(args.batch, dim, generator=generator).requires_grad_() for _ in range(levels)]
                inputs = list(modes)
                kwargs = {"signs": [1.0 if l % 2 == 0 else -1.0 for l in range(levels)]}
                if form == "target":
                    kwargs["target"] = torch.randn(args.batch, dim, generator=generator)
                else:
                    kwargs["divergence"] = [torch.randn(args.batch, generator=generator).requires_grad_()
                                            for _ in range(levels)]
                    inputs += kwargs["divergence"]

                def forward_backward():
                    value = reference.lifted_loss(modes, **kwargs)[0]
                    torch.autograd.grad(value, inputs)

                figures = time_runs(forward_backward, args.warmup, args.repeats, args.iterations)
                name = f"{form}/D{dim}/L{levels}"
                results.append({"name": name, "form": form, "dim": dim, "levels": levels, **figures})
                print(f"  python lifted {name:20s} {figures['median_s'] * 1e6:9.1f} us", file=sys.stderr)
    return results


# Cumulative prefixes of an LSE (L = 1) step — the same names as the C++ breakdown.
BREAKDOWN_PHASES = ["forward", "+divergence", "+loss", "+backward", "+adam (full step)"]


def breakdown(args):
    results = []
    x0 = reference.eight_gaussians(args.batch, torch.Generator().manual_seed(args.seed))
    step = reference.TrainingStep("lse", 1, dim=2, hidden=args.hidden, depth=args.depth, probes=args.probes,
                                  seed=args.seed)
    model = step.models[0]

    def prefix(phases):
        x = x0.detach().requires_grad_(True)
        f = model(x)
        if phases == 1:
            return
        divergence = reference.hutchinson_terms(f, x, step.draw(x)[:, 0], create_graph=True)[0].mean(dim=0)
        if phases == 2:
            return
        value = reference.lifted_loss([f], divergence=[divergence], signs=step.signs())[0]
        if phases == 3:
            return
        step.optimizer.zero_grad(set_to_none=True)
        value.backward()

    for phases, name in enumerate(BREAKDOWN_PHASES, start=1):
        body = (lambda: step(x0)) if phases == len(BREAKDOWN_PHASES) else (lambda: prefix(phases))
        figures = time_runs(body, args.warmup, args.repeats, args.iterations)
        results.append({"name": name, **figures})
        print(f"  python breakdown {name:20s} {figures['median_s'] * 1e3:9.3f} ms", file=sys.stderr)
    return results


def count_ops(args):
    """ATen operators ("aten::…" profiler events, nested calls included) per training step, as the C++
    side counts them with a RecordFunction callback."""
    results = []
    x = reference.eight_gaussians(args.batch, torch.Generator().manual_seed(args.seed))
    steps = 10
    for name, objective, levels in TRAINING_CASES:
        step = reference.TrainingStep(objective, levels, dim=2, hidden=args.hidden, depth=args.depth,
                                      probes=args.probes, sigma=args.sigma, seed=args.seed)
        for _ in range(3):
            step(x)
        with torch.autograd.profiler.profile() as profile:
            for _ in range(steps):
                step(x)
        calls = sum(1 for event in profile.function_events if event.name.startswith("aten::"))
        results.append({"name": name, "aten_ops_per_step": calls / steps})
        print(f"  python {name:16s} {calls / steps:7.1f} aten ops/step", file=sys.stderr)
    return results


def profile(args):
    """`steps` LSE (L = 1) training steps and nothing else, for a sampling profiler."""
    x = reference.eight_gaussians(args.batch, torch.Generator().manual_seed(args.seed))
    step = reference.TrainingStep("lse", 1, dim=2, hidden=args.hidden, depth=args.depth, probes=args.probes,
                                  seed=args.seed)
    for _ in range(args.steps):
        step(x)
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["training-step", "lifted-loss", "breakdown", "count-ops", "profile"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--probes", type=int, default=1)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 3072])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1000, help="steps of the profile run")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    results = {"training-step": training_step, "lifted-loss": lifted_loss, "breakdown": breakdown,
               "count-ops": count_ops, "profile": profile}[args.what](args)
    report = {"implementation": "python", "torch": torch.__version__, "threads": torch.get_num_threads(),
              "batch": args.batch, "hidden": args.hidden, "depth": args.depth, "probes": args.probes,
              "warmup": args.warmup, "repeats": args.repeats, "iterations": args.iterations,
              "results": results}
    if args.out:
        with open(args.out, "w") as out:
            json.dump(report, out, indent=1)


if __name__ == "__main__":
    main()

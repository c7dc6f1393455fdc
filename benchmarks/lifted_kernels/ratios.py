#!/usr/bin/python3
"""Summarise lifted_kernels_bench JSON (--benchmark_format=json) as a Markdown table of times and ratios.

usage: /usr/bin/python3 ratios.py results.json
Uses the median aggregate when the run had --benchmark_repetitions, else the single measurement.
"""
import json
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    times = {}  # (impl, L, D) -> real time in microseconds
    for b in data["benchmarks"]:
        aggregate = b.get("aggregate_name")
        if aggregate not in (None, "median"):
            continue
        impl, l_arg, d_arg = b["run_name"].split("/")[:3]
        key = (impl, int(l_arg.split(":")[1]), int(d_arg.split(":")[1]))
        if aggregate == "median" or key not in times:
            times[key] = b["real_time"]  # Unit(kMicrosecond)
    impls = [i for i in ("fused", "fused_thrust", "function", "torch_ops", "dsm_mse", "copy")
             if any(k[0] == i for k in times)]
    shapes = sorted({(k[1], k[2]) for k in times}, key=lambda s: (s[1], s[0]))
    header = ["L", "D"] + [f"{i} µs" for i in impls] + ["fused / dsm_mse", "function / dsm_mse",
                                                          "torch_ops / fused", "copy / fused"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for l, d in shapes:
        t = {i: times.get((i, l, d)) for i in impls}
        ratio = lambda a, b: f"{t[a] / t[b]:.2f}" if t.get(a) and t.get(b) else "–"
        row = [str(l), str(d)] + [f"{t[i]:.1f}" if t[i] else "–" for i in impls]
        row += [ratio("fused", "dsm_mse"), ratio("function", "dsm_mse"), ratio("torch_ops", "fused"),
                ratio("copy", "fused")]
        print("| " + " | ".join(row) + " |")
    context = data.get("context", {})
    print(f"\n{context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs @ {context.get('mhz_per_cpu', '?')} MHz,"
          f" load average {context.get('load_avg', '?')}, {context.get('date', '')}")


if __name__ == "__main__":
    main(sys.argv[1])

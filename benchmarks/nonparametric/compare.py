"""Joins Google Benchmark's JSON (bench_nonparametric) with reference.py's, round by round, and prints per
estimator and N the median C++ and NumPy/SciPy times and the median (min-max) over the rounds of each
round's ratio (NumPy / C++: > 1 means C++ is faster). Both sides of a round ran within the same minutes,
so its ratio is less exposed to the shared machine's drift than a ratio of medians taken apart.
Usage: /usr/bin/python3 compare.py DIR ROUNDS [--markdown]   (DIR holds cpp_K.json and numpy_K.json)"""

import json
import statistics
import sys


def load_cpp(path):
    """Seconds per fit (CPU time) by benchmark name."""
    with open(path) as f:
        return {b["name"]: b["cpu_time"] * {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b["time_unit"]]
                for b in json.load(f)["benchmarks"]}


def load_numpy(path):
    with open(path) as f:
        return json.load(f)


def summarise(cpp_rounds, numpy_rounds):
    """[(name, median C++ ms, median NumPy ms, median ratio, min ratio, max ratio)] in the C++ order."""
    rows = []
    for name in cpp_rounds[0]:
        pairs = [(c[name], r[name]) for c, r in zip(cpp_rounds, numpy_rounds) if name in c and name in r]
        if not pairs:
            continue
        ratios = [r / c for c, r in pairs]
        rows.append((name, statistics.median(c for c, _ in pairs) * 1e3, statistics.median(r for _, r in pairs) * 1e3,
                     statistics.median(ratios), min(ratios), max(ratios)))
    return rows


def main():
    directory, rounds = sys.argv[1], int(sys.argv[2])
    markdown = "--markdown" in sys.argv
    cpp_rounds = [load_cpp(f"{directory}/cpp_{k}.json") for k in range(1, rounds + 1)]
    numpy_rounds = [load_numpy(f"{directory}/numpy_{k}.json") for k in range(1, rounds + 1)]
    rows = summarise(cpp_rounds, numpy_rounds)
    if markdown:
        print(f"Medians of {rounds} round(s); the ratio column is the median (min-max) of the per-round ratios.\n")
        print("| estimator / N | scorelift C++ (ms) | NumPy/SciPy (ms) | NumPy / C++ |")
        print("|---|---:|---:|---:|")
        for name, c, r, ratio, low, high in rows:
            print(f"| {name} | {c:.2f} | {r:.2f} | {ratio:.1f}x ({low:.1f}-{high:.1f}) |")
    else:
        print(f"medians of {rounds} round(s); ratio: median (min-max) of the per-round ratios")
        print(f"{'estimator / N':34s} {'C++ ms':>10s} {'NumPy ms':>10s} {'NumPy/C++':>18s}")
        for name, c, r, ratio, low, high in rows:
            print(f"{name:34s} {c:10.2f} {r:10.2f} {ratio:8.2f}x ({low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()

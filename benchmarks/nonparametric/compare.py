"""Joins Google Benchmark's JSON (bench_nonparametric) with reference.py's and prints, per estimator
and N, the C++ and NumPy/SciPy times and their ratio (NumPy / C++: > 1 means C++ is faster).
Usage: /usr/bin/python3 compare.py cpp.json numpy.json [--markdown]"""

import json
import sys


def main():
    cpp_path, numpy_path = sys.argv[1], sys.argv[2]
    markdown = "--markdown" in sys.argv
    with open(cpp_path) as f:
        cpp = {b["name"]: b["cpu_time"] * {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b["time_unit"]]
               for b in json.load(f)["benchmarks"]}
    with open(numpy_path) as f:
        reference = json.load(f)
    rows = [(name, cpp[name] * 1e3, reference[name] * 1e3, reference[name] / cpp[name])
            for name in cpp if name in reference]
    if markdown:
        print("| estimator / N | scorelift C++ (ms) | NumPy/SciPy (ms) | NumPy / C++ |")
        print("|---|---:|---:|---:|")
        for name, c, r, ratio in rows:
            print(f"| {name} | {c:.2f} | {r:.2f} | {ratio:.1f}x |")
    else:
        print(f"{'estimator / N':34s} {'C++ ms':>10s} {'NumPy ms':>10s} {'NumPy/C++':>10s}")
        for name, c, r, ratio in rows:
            print(f"{name:34s} {c:10.2f} {r:10.2f} {ratio:9.1f}x")


if __name__ == "__main__":
    main()

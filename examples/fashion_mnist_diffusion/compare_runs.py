"""Checks that a resumed fashion_diffusion run equals the uninterrupted one: its losses are the last steps of
the uninterrupted run's, and the samples and soft signs (drawn from the same weights, weight averages and
signs) are identical. Usage: compare_runs.py uninterrupted/results.json resumed/results.json"""
import json
import sys

with open(sys.argv[1]) as f:
    whole = json.load(f)
with open(sys.argv[2]) as f:
    resumed = json.load(f)
failures = []
tail = whole["losses"][-len(resumed["losses"]):] if resumed["losses"] else []
if not resumed["losses"] or tail != resumed["losses"]:
    failures.append(f"losses differ: uninterrupted {tail}, resumed {resumed['losses']}")
difference = max(abs(a - b) for a, b in zip(whole["samples"], resumed["samples"]))
if len(whole["samples"]) != len(resumed["samples"]) or difference != 0.0:
    failures.append(f"samples differ (max |difference| {difference})")
if whole.get("soft_signs") != resumed.get("soft_signs"):
    failures.append("soft signs differ")
if failures:
    print("resumed run differs from the uninterrupted one: " + "; ".join(failures))
    sys.exit(1)
print(f"resumed run equals the uninterrupted one: losses of steps {len(whole['losses']) - len(tail) + 1}.."
      f"{len(whole['losses'])}, {len(whole['samples'])} sample pixels and the soft signs identical")

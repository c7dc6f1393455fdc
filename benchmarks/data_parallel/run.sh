#!/usr/bin/env bash
# run.sh [build-dir] — data_parallel_bench alone and with 2 processes (1 LibTorch thread each, Gloo
# on 127.0.0.1), global and local lifted statistics; prints one line per run and the 2-process
# speed-up (steps/s of the same global batch). Figures: benchmarks/RESULTS.md, "Data-parallel training".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-tests}
bench=$build/benchmarks/data_parallel_bench
[[ -x $bench ]] || { echo "run.sh: $bench not built (cmake --build $build --target data_parallel_bench)" >&2; exit 1; }
out=$(mktemp -d)
lscpu | grep -E "Model name|^CPU\(s\)" | sed 's/  */ /g'
# small: the known-score suite's scale (a few ms per step); large: a compute-bound step (1.07 M parameters).
declare -A configs=(
  [small]="--steps ${SCORELIFT_DP_STEPS:-200} --rounds ${SCORELIFT_DP_ROUNDS:-3}"
  [large]="--steps 30 --warmup 5 --rounds ${SCORELIFT_DP_ROUNDS:-3} --batch 2048 --hidden 512"
)
for config in small large; do
  for statistics in global local; do
    for n in 1 2; do
      # shellcheck disable=SC2086
      "$root/scripts/launch.sh" -n "$n" "$bench" ${configs[$config]} --lifted-statistics "$statistics" \
        --out "$out/$config-$statistics-$n.json" | sed -E "s/^(\\[rank 0\\] )?/$config: /"
    done
    python3 - "$out/$config-$statistics-1.json" "$out/$config-$statistics-2.json" "$config, $statistics" <<'PY'
import json, sys
one, two = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{sys.argv[3]} statistics: 2 processes / 1 process = {two['steps_per_second'] / one['steps_per_second']:.2f}x steps/s "
      f"(all-reduce {two['gradient_allreduce_ms'] + two['lifted_sums_allreduce_ms']:.3f} of {two['ms_per_step']:.3f} ms/step)")
PY
  done
done

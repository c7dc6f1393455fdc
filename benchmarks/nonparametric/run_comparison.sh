#!/usr/bin/env bash
# run_comparison.sh [build-dir] [--markdown] — builds bench_nonparametric, runs it and the NumPy/SciPy
# reference of the same estimators back to back, and prints times and ratios (CPU time per fit).
# Both run single-threaded (OPENBLAS_NUM_THREADS=1; Eigen here uses no threads) so the ratio compares
# the implementations, not the core count. SCORELIFT_BENCH_FILTER restricts both to matching names;
# SCORELIFT_BENCH_ROUNDS (default 3) sets how many times both run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-nonparam}
shift || true
# shellcheck source=scripts/blas-env.sh
source "$root/scripts/blas-env.sh"  # NumPy/SciPy on the OpenBLAS kernels this CPU supports (see the script)
if [[ ! -d "$build" ]]; then
  "$root/scripts/configure.sh" "$build" -DSCORELIFT_WITH_TORCH=OFF -DSCORELIFT_BUILD_BENCHMARKS=ON
fi
cmake --build "$build" --target bench_nonparametric -j2
out=$(mktemp -d)
filter=${SCORELIFT_BENCH_FILTER:-.}
rounds=${SCORELIFT_BENCH_ROUNDS:-3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# Rounds of a C++ run then the NumPy run: on a shared VM one run's times move by 20% between minutes,
# so the ratio of each round (both sides measured within the same minutes) is what compare.py reports,
# as the median and range over the rounds.
for ((round = 1; round <= rounds; ++round)); do
  echo "scorelift: round $round of $rounds" >&2
  "$build/benchmarks/bench_nonparametric" --benchmark_filter="$filter" --benchmark_out="$out/cpp_$round.json" \
    --benchmark_out_format=json >&2
  check=()
  ((round == 1)) && check=(--check)
  /usr/bin/python3 "$here/reference.py" "${check[@]}" --filter "$filter" --out "$out/numpy_$round.json"
done
# Which OpenBLAS kernels both sides ran on (the float factor and SciPy's dpotrf run at their rate, so a table
# means little without it): OpenBLAS's own choice for this CPU, or the one OPENBLAS_CORETYPE forced.
kernels="OpenBLAS kernels: $(scorelift_openblas_core || true)"
[[ -n "${OPENBLAS_CORETYPE:-}" ]] && kernels+=" (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)"
if [[ " $* " == *" --markdown "* ]]; then
  cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | xargs), CPU family $(grep -m1 '^cpu family' /proc/cpuinfo |
    cut -d: -f2 | xargs)"
  printf '%s on %s.\n\n' "$kernels" "$cpu"
else
  echo "$kernels"
fi
/usr/bin/python3 "$here/compare.py" "$out" "$rounds" "$@"

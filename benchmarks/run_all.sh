#!/usr/bin/env bash
# benchmarks/run_all.sh [build-dir] — the one command behind benchmarks/RESULTS.md's side-by-side
# section: builds the benchmark programs (Release), checks that the Python reference computes the
# same values as scorelift, runs every comparison with 1 thread and with all cores, and rewrites
# the generated part of RESULTS.md (the rest of the file is left alone).
#
#   (a) training step (SSM, DSM, LSE, residual LSE L=2): scorelift C++ (both engines of
#       benchmarks/training_step/training_step.hpp: tangent, autograd) vs PyTorch in Python
#   (b) lifted loss forward + backward: scorelift's autograd Function vs the formula in Python
#   (c) overhead of lifting (LSE/SSM, L=2/L=1), from the runs of (a)
#   (d) nonparametric estimators vs NumPy/SciPy (benchmarks/nonparametric/run_comparison.sh)
#   and the fused-kernel benchmark of benchmarks/lifted_kernels/ (when built).
#
# Environment: SCORELIFT_BENCH_QUICK=1 runs fewer repeats (to try the script; figures are noisier),
# SCORELIFT_BENCH_PROFILE=0 skips the callgrind profile of the C++ step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$root/build-bench}")
python=/usr/bin/python3  # Debian's interpreter: python3-torch, numpy, scipy
# shellcheck source=scripts/blas-env.sh
source "$root/scripts/blas-env.sh"  # the same, correct OpenBLAS kernels for the C++ and the Python side
results=$build/benchmark_results
cores=$(nproc)
threads=(1)
((cores > 1)) && threads+=("$cores")

protocol=(--warmup 20 --repeats 15 --iterations 20)
# (a) in rounds, each a C++ run and the Python run right after it: a ratio is taken within a round and
# the table gives the median over rounds (this VM's speed drifts by 20-60% between minutes).
rounds=${SCORELIFT_BENCH_ROUNDS:-5}
if [[ "${SCORELIFT_BENCH_QUICK:-0}" == 1 ]]; then
  protocol=(--warmup 5 --repeats 5 --iterations 10)
  rounds=1
fi

echo "== configure and build ($build)"
"$root/scripts/configure.sh" "$build" -DSCORELIFT_BUILD_TESTS=OFF -DSCORELIFT_BUILD_EXAMPLES=OFF \
  -DSCORELIFT_HEADER_CHECK=OFF -DSCORELIFT_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j"$cores"
bench=$build/benchmarks/training_step_bench
[[ -x "$bench" ]] || { echo "run_all.sh: $bench was not built (LibTorch missing?)" >&2; exit 1; }
rm -rf "$results" && mkdir -p "$results"
cut -d' ' -f1-3 /proc/loadavg >"$results/loadavg.txt"

echo "== agreement: the Python reference computes scorelift's values on fixed inputs"
"$build/benchmarks/python_agreement" --python "$python" --script "$root/benchmarks/python_reference/check.py" \
  --work "$results/agreement"

run_pair() {  # run_pair <what> <threads> [suffix]: the C++ and the Python side of one comparison
  local what=$1 n=$2 file=${1//-/_}
  local tag=t$n${3:-}
  # OpenBLAS keeps its own thread pool, which torch's set_num_threads does not size: left alone, its
  # idle threads spin (sched_yield) against the measured thread on a 2-core machine.
  export OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n
  "$bench" "$what" --threads "$n" "${protocol[@]}" --out "$results/${file}_cpp_$tag.json"
  (cd "$root/benchmarks/python_reference" &&
    "$python" bench.py "$what" --threads "$n" "${protocol[@]}" --out "$results/${file}_py_$tag.json")
}
for n in "${threads[@]}"; do
  for ((round = 1; round <= rounds; ++round)); do
    echo "== (a)+(c) training step, $n thread(s), round $round of $rounds"
    run_pair training-step "$n" "_r$round"
  done
  echo "== (b) lifted loss forward + backward, $n thread(s)"
  run_pair lifted-loss "$n"
  echo "== timing breakdown of the LSE step, $n thread(s)"
  run_pair breakdown "$n"
done

nonparametric=$root/benchmarks/nonparametric/run_comparison.sh
if [[ -x "$nonparametric" ]]; then
  echo "== (d) nonparametric estimators vs NumPy/SciPy ($nonparametric)"
  # Its build step prints to stdout too; keep only the Markdown table. Rounds as in (a): 3, 1 when quick.
  nonparametric_rounds=3
  [[ "${SCORELIFT_BENCH_QUICK:-0}" == 1 ]] && nonparametric_rounds=1
  SCORELIFT_BENCH_ROUNDS=$nonparametric_rounds "$nonparametric" "$build" --markdown |
    grep -v -E '^\[[0-9]+/[0-9]+\]|^ninja:|^scorelift: round' | tee "$results/nonparametric.md"
else
  echo "== (d) skipped: $nonparametric is not there"
fi

kernels=$build/benchmarks/lifted_kernels_bench
if [[ -x "$kernels" ]]; then
  echo "== fused lifted-loss kernels ($kernels, CPU)"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$kernels" --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true --benchmark_out="$results/lifted_kernels.json" \
    --benchmark_out_format=json >"$results/lifted_kernels_console.txt"
  "$python" "$root/benchmarks/lifted_kernels/ratios.py" "$results/lifted_kernels.json" | tee "$results/lifted_kernels.md"
else
  echo "== fused lifted-loss kernels skipped: $kernels was not built (Google Benchmark missing?)"
fi

echo "== ATen operators per training step"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$bench" count-ops --out "$results/count_ops_cpp.json"
(cd "$root/benchmarks/python_reference" && "$python" bench.py count-ops --out "$results/count_ops_py.json")

# Where the time of an LSE step goes, by shared object: what the Python side spends in the
# interpreter and bindings is all that C++ can save on the same ATen work. perf samples with the
# cpu-clock software event (no hardware counters in this VM); callgrind is the fallback.
profile_step() {  # profile_step <label> <command...>
  local label=$1 data=$results/perf_$1.data
  shift
  echo "-- $label: $*"
  if perf record -q -e cpu-clock -F 2000 -o "$data" -- "$@" >/dev/null 2>&1; then
    # (|| true: head closing the pipe early is not a failure)
    perf report -i "$data" --stdio --sort dso 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 10 || true
    echo "   top symbols:"
    perf report -i "$data" --stdio --sort sym 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 12 | cut -c1-150 || true
  else
    valgrind --tool=callgrind --callgrind-out-file="$results/callgrind_$label.out" \
      --toggle-collect='scorelift::benchmarks::training_step::operator()*' "$@" >/dev/null 2>&1
    callgrind_annotate --inclusive=yes "$results/callgrind_$label.out" 2>/dev/null |
      grep -E '^ *[0-9,]+ \(' | head -n 25 | cut -c1-150 || true
  fi
}
if [[ "${SCORELIFT_BENCH_PROFILE:-1}" == 1 ]]; then
  echo "== profile of 1000 LSE steps, 1 thread (tangent and autograd engines, Python; the first ~0.5 s are LibTorch's start-up in each)"
  {
    profile_step scorelift "$bench" profile --threads 1 --steps 1000
    profile_step scorelift-autograd "$bench" profile --engine autograd --threads 1 --steps 1000
    profile_step python "$python" "$root/benchmarks/python_reference/bench.py" profile --threads 1 --steps 1000
  } 2>&1 | tee "$results/profile.txt"
fi

echo "== writing benchmarks/RESULTS.md"
"$python" "$root/benchmarks/python_reference/write_results.py" "$results" "$root/benchmarks/RESULTS.md" \
  --threads "${threads[@]}" --command "benchmarks/run_all.sh${1:+ $1}${SCORELIFT_BENCH_QUICK:+ (SCORELIFT_BENCH_QUICK=$SCORELIFT_BENCH_QUICK)}"

#!/usr/bin/env bash
# Installs what is missing, builds every test and runs them: first the full build with GCC (all
# backends found on this machine), then the project's own code built by Clang under AddressSanitizer
# + UndefinedBehaviorSanitizer (LibTorch off there: its prebuilt library is not instrumented; the BLAS
# off too, so the dense factorisations are tested on their Eigen route there and on the BLAS in the first pass).
# Clang for the second pass: a second compiler's diagnostics (its UBSan caught an out-of-bounds read
# that GCC's missed), and it builds the Eigen-heavy tests in half GCC's time; -g1 (line tables only)
# keeps the sanitizers' stack traces readable (file:line) and halves the build time of -g.
# SCORELIFT_SKIP_SANITIZE=1 skips the second pass.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$root/scripts/install-deps.sh"
# shellcheck source=scripts/blas-env.sh
source "$root/scripts/blas-env.sh"  # OpenBLAS kernels for this CPU (see the script)

"$root/scripts/configure.sh" "$root/build-tests" -DSCORELIFT_BUILD_EXAMPLES=ON -DSCORELIFT_BUILD_BENCHMARKS=ON
cmake --build "$root/build-tests" -j"$jobs"
ctest --test-dir "$root/build-tests" --output-on-failure -j"$jobs"

if [[ "${SCORELIFT_SKIP_SANITIZE:-0}" != 1 ]]; then
  "$root/scripts/configure.sh" "$root/build-sanitize" -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DSCORELIFT_SANITIZE=ON \
    -DSCORELIFT_WITH_TORCH=OFF -DSCORELIFT_WITH_CUDA=OFF -DSCORELIFT_WITH_BLAS=OFF -DSCORELIFT_BUILD_EXAMPLES=OFF \
    -DSCORELIFT_BUILD_BENCHMARKS=OFF -DSCORELIFT_HEADER_CHECK=OFF
  cmake --build "$root/build-sanitize" -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$root/build-sanitize" --output-on-failure -j"$jobs" -E "^package/"
fi
echo "scorelift: all tests passed"

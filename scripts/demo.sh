#!/usr/bin/env bash
# The headline demo: installs what is missing, builds the examples and runs the best one.
# Extra arguments are passed to the demo program (e.g. --full, --device cuda).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
# shellcheck source=scripts/blas-env.sh
source "$root/scripts/blas-env.sh"  # OpenBLAS kernels for this CPU (see the script)
"$root/scripts/configure.sh" "$root/build" -DSCORELIFT_BUILD_TESTS=OFF -DSCORELIFT_BUILD_BENCHMARKS=OFF
demo=$(cat "$root/examples/HEADLINE")
cmake --build "$root/build" --target "$demo" -j"$(nproc)"
cd "$root"
exec "$root/build/examples/$demo" "$@"

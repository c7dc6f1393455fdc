#!/usr/bin/env bash
# configure.sh <build-dir> [extra cmake args...] — one place for the CMake invocation that the
# demo and test commands share. Uses Ninja when present and the CUDA toolkit when nvcc exists.
set -euo pipefail
build_dir=$1
shift
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cuda=()
if [[ -x /usr/local/cuda/bin/nvcc ]] && ! command -v nvcc >/dev/null; then
  cuda=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
fi
cmake -S "$(dirname "$0")/.." -B "$build_dir" "${generator[@]}" "${cuda[@]}" -DCMAKE_BUILD_TYPE=Release "$@"

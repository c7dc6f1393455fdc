#!/usr/bin/env bash
# Score-net lag at 2 000 steps: the implicit VAE (k-NN entropy) and the Gaussian posterior trained through
# the estimator (gvae: exact entropy, entropy-gradient fidelity tracked), SSM-VR and LSE with L = 1, for
# 1, 4 and 8 score-net updates per encoder update; 3 seeds each. The Gaussian-posterior VAE (closed-form
# KL) is the reference. Usage: benchmarks/implicit_entropy/score_steps.sh [build-dir] [out-dir]
# (about 25 min on a 2-core VM); then summarise.py <out-dir> prints the table of benchmarks/RESULTS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
out=${2:-$root/out/score_steps}
# shellcheck source=scripts/blas-env.sh
source "$root/scripts/blas-env.sh"
binary="$build/examples/implicit_vae_wae"
mkdir -p "$out"
"$binary" --models vae --methods gaussian --steps 2000 --seeds 3 --no-plot --out "$out/reference"
for steps in 1 4 8; do
  "$binary" --models vae,gvae --methods ssm-l1,lse-l1 --steps 2000 --seeds 3 --score-steps "$steps" \
    --fidelity-every 50 --no-plot --out "$out/score_steps_$steps"
done

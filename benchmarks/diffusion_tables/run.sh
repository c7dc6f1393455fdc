#!/usr/bin/env bash
# run.sh [--full] [--seeds N] [--build DIR] [-- extra fashion_diffusion flags] — the paper's Tables 2 and 3 in
# kind on Fashion-MNIST: iDDPM with DSM, residual DSM (L = 2), LDSE (L = 1, 2); EDM with its regression (DSM)
# and LDSE (L = 1); each over N seeds (3 by default), then summarise.py prints mean ± std of the Fréchet and
# kernel distances in the shared classifier's features (with the training set's as the floor), writes
# out/diffusion_tables/tables.md, tables.json and samples.png (the first seed's samples per configuration) and
# signs.png (the soft signs of the LDSE runs), all under the git-ignored out/ of the repository.
#
# Default: a CPU budget (about 2 minutes per run on 2 cores): 600 steps, batch 32, 16 channels, 2000 images
# for the metrics (fewer would leave the Fréchet distance dominated by its O(D/N) bias). --full: the GPU
# configuration (--device cuda): 20 000 steps, batch 128 (EDM 512, as in the paper's Table 3), 64 channels,
# 2 000 images for the metrics, 4 000 iDDPM timesteps.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build-tests
seeds=3
full=0
extra=()
while (($#)); do
  case $1 in
    --full) full=1 ;;
    --seeds) seeds=$2; shift ;;
    --build) build=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--full] [--seeds N] [--build DIR] [-- fashion_diffusion flags]" >&2; exit 2 ;;
  esac
  shift
done
program=$build/examples/fashion_diffusion
[[ -x $program ]] || { echo "run.sh: $program not built (cmake --build $build --target fashion_diffusion)" >&2; exit 1; }
out=$root/out/diffusion_tables  # git-ignored
mkdir -p "$out"
if ((full)); then
  common=(--device cuda --steps 20000 --channels 64 --metric-samples 2000 --samples 64 --checkpoint-every 5000)
  iddpm=(--preconditioning iddpm --batch 128 --timesteps 4000)
  edm=(--preconditioning edm --batch 512)
else
  common=(--steps 600 --channels 16 --metric-samples 2000 --samples 36 --threads 2)
  iddpm=(--preconditioning iddpm --batch 32)
  edm=(--preconditioning edm --batch 32)
fi
# name: preconditioning flags, objective, levels
configs=(
  "iddpm-dsm-L1 iddpm dsm 1" "iddpm-dsm-L2 iddpm dsm 2" "iddpm-ldse-L1 iddpm ldse 1" "iddpm-ldse-L2 iddpm ldse 2"
  "edm-dsm-L1 edm dsm 1" "edm-ldse-L1 edm ldse 1"
)
for seed in $(seq 0 $((seeds - 1))); do
  for config in "${configs[@]}"; do
    read -r name preconditioning objective levels <<<"$config"
    run=$out/$name-seed$seed
    if [[ -f $run/results.json ]]; then echo "$name seed $seed: done before ($run)"; continue; fi
    if [[ $preconditioning == edm ]]; then flags=("${edm[@]}"); else flags=("${iddpm[@]}"); fi
    echo "== $name seed $seed"
    "$program" "${common[@]}" "${flags[@]}" --objective "$objective" --levels "$levels" --seed "$seed" \
      --out "$run" --checkpoint "$run/run.pt" "${extra[@]}" 2>&1 | grep -vE "^\[" || { echo "run.sh: $name seed $seed failed" >&2; exit 1; }
  done
done
/usr/bin/python3 "$here/summarise.py" "$out"  # Debian's interpreter: numpy, matplotlib

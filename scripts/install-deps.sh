#!/usr/bin/env bash
# Installs, from Debian's archive, whatever the build, tests, examples and benchmarks need and
# this machine lacks. Safe to run repeatedly: it does nothing when every package is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  clang libomp-dev                # the sanitizer pass of scripts/test.sh builds with Clang
  libeigen3-dev xtensor-dev doctest-dev libcli11-dev nlohmann-json3-dev
  libtorch-dev libthrust-dev libbenchmark-dev
  libgloo-dev                     # the c10d Gloo header of LibTorch includes gloo's (data-parallel training)
  libopenblas0-pthread            # LibTorch runs ~4x faster on OpenBLAS than on the reference BLAS
  libblas-dev                     # cblas.h and the link-time libblas.so of scorelift::blas
  dataset-fashion-mnist zlib1g-dev
  python3-matplotlib python3-numpy python3-scipy python3-torch
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "scorelift: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "scorelift: all dependencies present"
fi

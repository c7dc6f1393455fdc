# Sourced by the demo, test and benchmark scripts: makes OpenBLAS use the kernels this CPU supports.
#
# OpenBLAS picks its kernels from the CPU model (DYNAMIC_ARCH). Debian's OpenBLAS 0.3.21 does not know
# every model: on a VM that reports "Intel(R) Xeon(R) Processor" it falls back to its 2004 Prescott (SSE3)
# kernels, and a 128×128×128 sgemm runs at ~20 GFLOP/s instead of ~120 (measured on this project's 2-core
# AVX-512 VM; benchmarks/RESULTS.md). LibTorch, NumPy and SciPy all go through it. When OpenBLAS reports
# such a fallback core and the CPU has AVX-512 (or AVX2 + FMA), this exports OPENBLAS_CORETYPE for the
# matching kernels; every process started afterwards (C++ and Python alike) uses them. An explicit
# OPENBLAS_CORETYPE is left alone.
scorelift_openblas_core() {
  # OpenBLAS prints "Core: <name>" when loaded with OPENBLAS_VERBOSE=2; any process that loads it will do.
  OPENBLAS_VERBOSE=2 /usr/bin/python3 -c "import ctypes; ctypes.CDLL('libblas.so.3')" 2>&1 |
    sed -n 's/^Core: //p' | head -n 1
}

if [[ -z "${OPENBLAS_CORETYPE:-}" && -x /usr/bin/python3 ]]; then
  scorelift_core=$(scorelift_openblas_core || true)
  case "$scorelift_core" in
    Prescott | Katmai | Coppermine | Northwood | Core2 | Penryn | Dunnington | Nehalem | Sandybridge)
      scorelift_flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
      scorelift_wanted=""
      if [[ " $scorelift_flags " == *" avx512f "* && " $scorelift_flags " == *" avx512bw "* &&
            " $scorelift_flags " == *" avx512vl "* && " $scorelift_flags " == *" avx512dq "* ]]; then
        scorelift_wanted=SkylakeX scorelift_isa=AVX-512
      elif [[ " $scorelift_flags " == *" avx2 "* && " $scorelift_flags " == *" fma "* ]]; then
        scorelift_wanted=Haswell scorelift_isa="AVX2 + FMA"
      fi
      if [[ -n "$scorelift_wanted" ]]; then
        export OPENBLAS_CORETYPE=$scorelift_wanted
        echo "scorelift: OpenBLAS chose its '$scorelift_core' kernels on a CPU with $scorelift_isa (unrecognised CPU model); using OPENBLAS_CORETYPE=$scorelift_wanted"
      fi
      ;;
  esac
  unset scorelift_core scorelift_flags scorelift_wanted scorelift_isa
fi

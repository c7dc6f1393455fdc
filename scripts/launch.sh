#!/usr/bin/env bash
# launch.sh -n N [--port P] [--timeout S] <program> [args...] — starts N local processes of a
# data-parallel job with the variables torchrun sets (MASTER_ADDR=127.0.0.1, MASTER_PORT, RANK,
# WORLD_SIZE, LOCAL_RANK), for users without torchrun; scorelift programs read them through
# scorelift::distributed::process_group::from_environment(). On several machines use torchrun, Slurm
# (srun with the same variables) or set them by hand: the programs need nothing else.
#
# Like torchrun, each process gets OMP_NUM_THREADS=1 unless it is set, and when one process fails the
# others are given --timeout seconds (default 30) to fail
# on their own (their next collective reports the lost peer), then stopped; the exit status is the
# first failure's, 0 when all succeed. Each line of output is prefixed with its rank when N > 1.
set -euo pipefail

usage() { echo "usage: $0 -n N [--port P] [--timeout S] <program> [args...]" >&2; exit 2; }
processes=""
port=""
grace=30
while (($#)); do
  case $1 in
    -n | --nproc-per-node) processes=${2:-}; shift 2 ;;
    --port) port=${2:-}; shift 2 ;;
    --timeout) grace=${2:-}; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
(($# >= 1)) || usage
[[ $processes =~ ^[1-9][0-9]*$ ]] || { echo "$0: -n needs a positive process count (got '$processes')" >&2; exit 2; }
[[ $grace =~ ^[0-9]+$ ]] || { echo "$0: --timeout needs whole seconds (got '$grace')" >&2; exit 2; }
if [[ -z $port ]]; then
  # A free port on the loopback interface, chosen by the kernel (a small race, as with torchrun's).
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

# As torchrun does: N processes on one machine each default to one OpenMP (and OpenBLAS) thread, so that
# they do not oversubscribe the cores; set OMP_NUM_THREADS (OPENBLAS_NUM_THREADS) to choose otherwise.
if ((processes > 1)) && [[ -z ${OMP_NUM_THREADS:-} ]]; then
  echo "launch.sh: OMP_NUM_THREADS=1 for each of the $processes processes (set it to override)" >&2
  export OMP_NUM_THREADS=1
  export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
fi

pids=()
stop_all() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap 'stop_all; exit 130' INT TERM

for ((rank = 0; rank < processes; ++rank)); do
  if ((processes > 1)); then
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=$processes \
      "$@" > >(sed -u "s/^/[rank $rank] /") 2> >(sed -u "s/^/[rank $rank] /" >&2) &
  else
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port RANK=0 LOCAL_RANK=0 WORLD_SIZE=1 "$@" &
  fi
  pids+=($!)
done

# Poll rather than `wait -n`: when two processes end together, `wait -n -p` may return for neither
# (seen: `finished: unbound variable` after both ranks had passed). bash reaps each child as it exits
# and keeps its status, so a pid that `kill -0` no longer finds has a status for `wait <pid>`.
status=0
watchdog=""
running=("${pids[@]}")
while ((${#running[@]})); do
  alive=()
  for pid in "${running[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      alive+=("$pid")
      continue
    fi
    wait "$pid" && code=0 || code=$?
    ((code == 0 || status != 0)) || status=$code
  done
  running=("${alive[@]+"${alive[@]}"}")
  if ((status != 0)) && [[ -z $watchdog ]] && ((${#running[@]})); then
    (sleep "$grace" </dev/null >/dev/null 2>&1
     echo "launch.sh: processes still running ${grace} s after a failure: stopping them" >&2
     kill "${running[@]}" 2>/dev/null) &
    watchdog=$!
  fi
  ((${#running[@]} == 0)) || sleep 0.1
done
[[ -z $watchdog ]] || kill "$watchdog" 2>/dev/null || true
wait 2>/dev/null || true
exit "$status"

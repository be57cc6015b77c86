# shellcheck shell=bash
# shellcheck disable=SC2034 # dgm_sweep and peer_sweep set globals for their callers
# Helpers the benchmark scripts share (sourced). Needs $PYTHON; the build, sweep and
# timing helpers also read ROOT, BUILD_DIR, JOBS, WORK, BENCH, PEER, PEER_TIMEOUT and
# DGM_BLAS_THREADS as the scripts set them.

# Values of "json: " lines: jget FILE KEY=VALUE... FIELD prints FIELD of the last line whose
# keys match.
jget() {
  "$PYTHON" - "$@" <<'EOF'
import json, sys
path, *conds, field = sys.argv[1:]
want = dict(c.split("=", 1) for c in conds)
val = None
for line in open(path):
    if not line.startswith("json: "):
        continue
    d = json.loads(line[6:])
    if all(str(d.get(k)) == v for k, v in want.items()):
        val = d.get(field)
print("" if val is None else val)
EOF
}
calc() { "$PYTHON" -c "print($1)"; }

# The warning the 2-D benchmarks print when the machine is busy (1-minute load at least
# half the cpus).
load_warning() {
  local load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  if (( $(calc "int($load1 >= 0.5 * $(nproc))") )); then
    echo "warning: the 1-minute load is $load1 on $(nproc) cpus: other work on the machine" \
         "will inflate the timings"
  fi
}

# OpenBLAS's kernels: where it falls back to a generic core on a CPU it does not know
# (0.3.21 on Sapphire Rapids: Prescott, SSE3), the dgm command names a better one itself
# (host/thread_policy.h); the peers' torch uses the same OpenBLAS, so this exports
# OPENBLAS_CORETYPE for every program alike (a value the user set is kept; without it a
# peer runs on SSE3 kernels, about 5x slower products: a crippled peer).
openblas_coretype_for_all() {
  [[ -z ${OPENBLAS_CORETYPE:-} ]] || return 0
  local core
  core=$("$PYTHON" - <<'EOF'
import ctypes, re
try:
    f = ctypes.CDLL("libopenblas.so.0").openblas_get_corename
    f.restype = ctypes.c_char_p
    name = f().decode().lower()
except Exception:
    name = ""
m = re.search(r"^flags\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
flags = set(m.group(1).split()) if m else set()
if name in ("prescott", "core2", "katmai", "coppermine", "northwood", "banias", "nehalem", "unknown"):
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        print("SKYLAKEX")
    elif {"avx2", "fma"} <= flags:
        print("HASWELL")
EOF
)
  if [[ -n $core ]]; then
    export OPENBLAS_CORETYPE=$core DGM_BENCH_CORETYPE_SET=1
    echo "OpenBLAS falls back to generic kernels on this CPU: OPENBLAS_CORETYPE=$core for dgm and the peers alike"
  fi
}

# bench_build TARGET...: configures $BUILD_DIR (Release) when it has no cache, then builds
# dgm_cli and the TARGETs with $JOBS jobs (logs in $WORK); on failure prints the build log's
# tail and exits.
bench_build() {
  if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log"
  fi
  cmake --build "$BUILD_DIR" -j"$JOBS" --target dgm_cli "$@" >"$WORK/build.log" ||
    { tail -30 "$WORK/build.log"; exit 1; }
}

# dgm_sweep NAME LABEL FIELD MARGIN ARGS...: runs "$BENCH" ARGS once per value of
# $DGM_BLAS_THREADS as OPENBLAS_NUM_THREADS ("env": the environment as it is), each shown
# under "== LABEL" and logged to $WORK/NAME_obOB.log, and reads FIELD of its "dgm" and
# "floor" JSON lines (dgm's: the median of its timed windows). Sets dgm_s and floor_s (of
# the fastest run by that median; a later setting replaces
# the best only when MARGIN, a fraction, faster), dgm_ob, dgm_blas (its "cpu BLAS:" line)
# and table (a row per setting: threads, dgm, floor, ratio; print_dgm_table shows it).
dgm_sweep() {
  local name=$1 label=$2 field=$3 margin=$4 ob log d f
  shift 4
  dgm_s='' floor_s='' dgm_ob='' dgm_blas='' table=''
  for ob in $DGM_BLAS_THREADS; do
    log=$WORK/${name}_ob$ob.log
    echo
    if [[ $ob = env ]]; then
      echo "== $label"
      "$BENCH" "$@" | tee "$log"
    else
      echo "== $label, OPENBLAS_NUM_THREADS=$ob"
      OPENBLAS_NUM_THREADS=$ob "$BENCH" "$@" | tee "$log"
    fi
    d=$(jget "$log" what=dgm "$field")
    f=$(jget "$log" what=floor "$field")
    [[ -n $d && -n $f ]] ||
      { echo "$(basename "$0"): $name gave no results (BENCH_ARGS=$BENCH_ARGS)" >&2; exit 1; }
    table+=$(printf '%-22s %10.3f %10.3f %8.2f' "$ob" "$d" "$f" "$(calc "$d / $f")")$'\n'
    if [[ -z $dgm_s ]] || (( $(calc "int($d < $dgm_s * (1 - $margin))") )); then
      dgm_s=$d floor_s=$f dgm_ob=$ob dgm_blas=$(sed -n 's/^cpu BLAS: *//p' "$log" | head -1)
    fi
  done
}

print_dgm_table() {
  printf '%-22s %10s %10s %8s\n' "dgm OPENBLAS threads" "dgm s/1k" "floor s/1k" "ratio"
  printf '%s' "$table"
}

# peer_sweep LOG FIELD UNIT MARGIN ARGS...: times the peer ("$PYTHON" "$PEER" ARGS
# --threads T) under torch threads T {1,2} x OPENBLAS_NUM_THREADS {1,2}, each logged to
# $WORK/LOG_tT_obOB.log and skipped when it fails or takes over $PEER_TIMEOUT s; a row per
# setting with FIELD of its "median_window" JSON line (the median of its timed windows, as
# dgm's; UNIT names it in the header) and that line's drift (last window / first). Sets
# peer_s (that median), peer_t and peer_ob (the fastest setting by it; a later setting,
# with more threads, replaces the best only when MARGIN, a fraction, faster) and peer_adam
# (the Adam the peer used).
peer_sweep() {
  local name=$1 field=$2 unit=$3 margin=$4 t ob log s drift flag
  shift 4
  peer_s='' peer_t='' peer_ob='' peer_adam=''
  printf '%-14s %-22s %s\n' "torch threads" "OPENBLAS_NUM_THREADS" "$unit (median window)"
  for t in 1 2; do
    for ob in 1 2; do
      log=$WORK/${name}_t${t}_ob${ob}.log
      if ! OPENBLAS_NUM_THREADS=$ob timeout "$PEER_TIMEOUT" "$PYTHON" "$PEER" "$@" \
           --threads "$t" >"$log"; then
        printf '%-14s %-22s %s\n' "$t" "$ob" "failed or over $PEER_TIMEOUT s: skipped"
        continue
      fi
      s=$(jget "$log" what=median_window "$field")
      [[ -n $s ]] || { printf '%-14s %-22s %s\n' "$t" "$ob" "no median_window line: skipped"; continue; }
      drift=$(jget "$log" what=median_window drift_ratio)
      flag=$(jget "$log" what=median_window drift)
      [[ $flag = True ]] && flag=', DRIFT' || flag=''
      printf '%-14s %-22s %.3f   (last/first window %.2f%s)\n' "$t" "$ob" "$s" "$drift" "$flag"
      peer_adam=$(jget "$log" what=median_window adam)
      if [[ -z $peer_s ]] || (( $(calc "int($s < $peer_s * (1 - $margin))") )); then
        peer_s=$s peer_t=$t peer_ob=$ob
      fi
    done
  done
}

# The arguments of a driver that takes [--quick] [--steps N] [--no-peer] [-h]: sets quick
# (0/1), peer (0/1) and steps ('' unless given); --help prints the script's header.
# bench_steps_args SCRIPT "$@"
bench_steps_args() {
  local script=$1
  shift
  quick=0 peer=1 steps=''
  while (($#)); do
    case $1 in
      --quick) quick=1 ;;
      --no-peer) peer=0 ;;
      --steps) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] ||
                 { echo "$(basename "$script"): --steps needs a positive number" >&2; exit 2; }
               steps=$2; shift ;;
      -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$script"; exit 0 ;;
      *) echo "$(basename "$script"): unknown argument $1" >&2; exit 2 ;;
    esac
    shift
  done
}

# DGM: the dgm binary, $BUILD_DIR/dgm unless DGM is set (then built, unless NO_BUILD=1);
# the script (its name in the message) stops when it is not there. bench_dgm SCRIPT
bench_dgm() {
  if [[ -z ${DGM:-} ]]; then
    DGM=$BUILD_DIR/dgm
    [[ ${NO_BUILD:-0} = 1 ]] || bench_build
  fi
  [[ -x $DGM ]] || { echo "$(basename "$1"): no dgm at $DGM" >&2; exit 1; }
}

#!/usr/bin/env bash
# Runs `dgm info`, `dgm sample` and `dgm eval` of a small checkpoint of every family (and
# the error paths of a truncated and a hostile one) under valgrind's memcheck; exits 1 at
# the first invalid access, use of an uninitialized value, or definite leak.
#
#   scripts/valgrind-check.sh
#
# The CLI is built CPU-only with debug info in build-valgrind/ (the CUDA libraries' own
# start-up, a dozen seconds under valgrind each time, is not dgm's code, and CPU is the
# device without a GPU anyway); the checkpoints are trained natively, then only the
# commands that read them run under valgrind. Run as root on Debian: it installs valgrind
# and the build's packages when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh valgrind dataset-fashion-mnist

dir=build-valgrind
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDGM_CUDA=OFF -DDGM_BUILD_TESTS=OFF \
      -DDGM_BUILD_BENCHMARKS=OFF -DDGM_FUZZ=OFF -DDGM_SANITIZE=OFF >/dev/null
cmake --build "$dir" --target dgm_cli -j"$JOBS" >/dev/null
dgm="$dir/dgm"
work="$dir/runs"
rm -rf "$work"
mkdir -p "$work"

# The CLI re-executes itself once to set libgomp's spin policy and OpenBLAS's kernels
# unless they are set (host/thread_policy.h): set them, so valgrind follows one process
# (its CPU has no AVX-512: any core that OpenBLAS knows does).
export GOMP_SPINCOUNT=5000 OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Prescott}
vg=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 -q
    --suppressions=scripts/valgrind.supp)

checks=0
# Runs the command under valgrind; expects its exit status (0, or 1 for an error path).
under_valgrind() {
  local want=$1 log="$work/valgrind-$checks.log" rc=0
  shift
  checks=$((checks + 1))
  "${vg[@]}" --log-file="$log" "$@" >"$work/out-$checks.txt" 2>&1 || rc=$?
  if [ "$rc" -eq 99 ] || [ -s "$log" ]; then
    echo "valgrind-check: memcheck errors in: ${*#*/dgm}" >&2
    cat "$log" >&2
    exit 1
  fi
  if [ "$rc" -ne "$want" ]; then
    echo "valgrind-check: '$*' exited $rc, expected $want:" >&2
    cat "$work/out-$checks.txt" >&2
    exit 1
  fi
}

# 64 points near the moons' range: eval data small enough for valgrind's pace.
awk 'BEGIN { srand(7); for (i = 0; i < 64; i++) printf "%.4f,%.4f\n", 3 * rand() - 1, 2 * rand() - 1 }' \
  >"$work/points.csv"

families=(
  "gaussian|gaussian --data moons"
  "vae|vae --data moons --decoder gaussian --hidden 8 --latent 2"
  "vae-image|vae --data fashion-mnist --hidden 4 --latent 2 --batch 8"
  "gan|gan --data moons --g-hidden 8 --d-hidden 8"
  "realnvp|realnvp --data moons --couplings 2 --hidden 8"
  "ddpm|ddpm --data moons --hidden 8 --embedding 4 --timesteps 20"
  "fm|fm --data moons --hidden 8 --coupling ot"
  "sde|sde --data moons --hidden 8 --embedding-dim 4 --sample-steps 25"
  "maf|maf --data moons --blocks 2 --hidden 8"
  "cnf|cnf --data moons --hidden 8 --solver-steps 2 --eval-rtol 1e-3 --eval-atol 1e-3"
)
start=$SECONDS
for entry in "${families[@]}"; do
  name=${entry%%|*}
  # shellcheck disable=SC2086
  "$dgm" train ${entry#*|} --steps 5 --device cpu --out "$work/$name" >"$work/$name.train.log" 2>&1 || {
    cat "$work/$name.train.log" >&2
    exit 1
  }
  ck="$work/$name/checkpoint.safetensors"
  under_valgrind 0 "$dgm" info "$ck"
  if [ "$name" = vae-image ]; then
    under_valgrind 0 "$dgm" sample "$ck" -n 4 -o "$work/$name.png" --device cpu
    under_valgrind 0 "$dgm" sample "$ck" -n 4 --reconstruct -o "$work/$name-rec.png" --device cpu
  else
    under_valgrind 0 "$dgm" sample "$ck" -n 16 -o "$work/$name.csv" --device cpu
    under_valgrind 0 "$dgm" eval "$ck" --data "$work/points.csv" --device cpu
  fi
  echo "valgrind-check: $name clean ($((SECONDS - start)) s so far)"
done
# The checkpoint's own data (announced), and the error paths: a truncated checkpoint, one
# claiming a sample size its tensors do not have, data of the wrong width.
under_valgrind 0 "$dgm" eval "$work/gaussian/checkpoint.safetensors" --device cpu
head -c 300 "$work/vae/checkpoint.safetensors" >"$work/truncated.safetensors"
under_valgrind 1 "$dgm" info "$work/truncated.safetensors"
sed 's/"dim":"2 2"/"dim":"9 9"/' "$work/gaussian/checkpoint.safetensors" >"$work/hostile.safetensors"
under_valgrind 1 "$dgm" sample "$work/hostile.safetensors" -n 4 -o "$work/h.csv" --device cpu
printf '1,2,3\n4,5,6\n' >"$work/wide.csv"
under_valgrind 2 "$dgm" eval "$work/realnvp/checkpoint.safetensors" --data "$work/wide.csv" --device cpu
echo "valgrind-check: $checks commands clean under memcheck in $((SECONDS - start)) s"

#!/usr/bin/env bash
# The installed tree, as a program embedding dgm sees it (a ctest test: Install.Embedding):
#   - `cmake --install BUILD` into a temporary prefix;
#   - libdgm.so exports nothing but dgm_ symbols (nm -D);
#   - both examples build against the prefix: with pkg-config (cc / c++) and with
#     find_package(dgm) (CMake), warnings as errors;
#   - the train_c example trains a 2-D RealNVP through the installed trainer;
#   - the installed `dgm` trains two small models (a 2-D RealNVP and a VAE on Fashion-MNIST
#     images), and every example build's samples equal `dgm sample`'s with the same seed,
#     byte for byte;
#   - `cpack -G DEB` makes a package holding the library, headers, command and config files.
# Usage: scripts/test-install.sh [BUILD_DIR]   (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dgm-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
lib=$(find "$prefix" -name libdgm.so | head -1)
[[ -n $lib ]] || { echo "no libdgm.so under $prefix"; exit 1; }
libdir=$(dirname "$lib")
for f in "$prefix/bin/dgm" "$prefix/include/dgm/dgm.h" "$libdir/cmake/dgm/dgmConfig.cmake" \
         "$libdir/cmake/dgm/dgmConfigVersion.cmake" "$libdir/pkgconfig/dgm.pc"; do
  [[ -e $f ]] || { echo "not installed: $f"; exit 1; }
done

others=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^dgm_' || true)
if [[ -n $others ]]; then
  echo "libdgm.so exports symbols without the dgm_ prefix:"
  echo "$others"
  exit 1
fi
echo "libdgm.so: $(nm -D --defined-only "$lib" | wc -l) exported symbols, all dgm_"

export PKG_CONFIG_PATH=$libdir/pkgconfig
# The dgm command picks OpenBLAS's kernels where OpenBLAS falls back to generic ones
# (host/thread_policy.h); the examples do not. One choice for both, so that they compute
# alike: the generic core, which every x86-64 has.
if [ "$(uname -m)" = x86_64 ]; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Prescott}; fi
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror "$root/examples/embed_c/embed.c" $(pkg-config --cflags --libs dgm) \
   -Wl,-rpath,"$libdir" -o "$work/embed_c-pkgconfig"
cc -std=c11 -Wall -Wextra -Werror "$root/examples/embed_c/train.c" $(pkg-config --cflags --libs dgm) \
   -Wl,-rpath,"$libdir" -o "$work/train_c-pkgconfig"
# shellcheck disable=SC2046
c++ -std=c++17 -Wall -Wextra -Werror "$root/examples/embed_cpp/embed.cpp" $(pkg-config --cflags --libs dgm) \
   -Wl,-rpath,"$libdir" -o "$work/embed_cpp-pkgconfig"
for ex in embed_c embed_cpp; do
  cmake -S "$root/examples/$ex" -B "$work/build-$ex" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >"$work/cmake-$ex.log" ||
    { cat "$work/cmake-$ex.log"; exit 1; }
  cmake --build "$work/build-$ex" >>"$work/cmake-$ex.log" || { cat "$work/cmake-$ex.log"; exit 1; }
  cp "$work/build-$ex/$ex" "$work/$ex-find_package"
done
echo "examples built: pkg-config (embed_c, embed_cpp) and find_package (embed_c, embed_cpp)"

dgm=$prefix/bin/dgm
# training from C through the installed library's trainer (examples/embed_c/train.c)
"$work/train_c-pkgconfig" realnvp moons 300 "$work/flow-c" >"$work/train-c.log" ||
  { echo "the train_c example failed"; cat "$work/train-c.log"; exit 1; }
grep -q "^step 300/300" "$work/train-c.log" || { echo "train_c printed no progress"; cat "$work/train-c.log"; exit 1; }
"$dgm" info "$work/flow-c/checkpoint.safetensors" | grep -q "step: 300" ||
  { echo "train_c's checkpoint is not at step 300"; exit 1; }
echo "train_c: trained realnvp on moons for 300 steps through the installed trainer"
"$dgm" train realnvp --data moons --device cpu --steps 200 --couplings 2 --hidden 16 \
  --out "$work/flow" >"$work/train-flow.log"
"$dgm" train vae --data fashion-mnist --device cpu --steps 20 --out "$work/vae" >"$work/train-vae.log"
# the installed command finds its classifier (share/dgm/, found before the source tree's)
fid=$(env -u DGM_CLASSIFIER "$dgm" eval "$work/vae/checkpoint.safetensors" --device cpu --metric fid,is -n 200) ||
  { echo "installed dgm eval --metric fid,is failed"; exit 1; }
echo "installed dgm eval --metric fid,is: $fid"
for model in flow vae; do
  ckpt=$work/$model/checkpoint.safetensors
  "$dgm" sample "$ckpt" -n 300 --seed 7 --device cpu -o "$work/$model-ref.npy" >/dev/null
  for exe in embed_c-pkgconfig embed_cpp-pkgconfig embed_c-find_package embed_cpp-find_package; do
    "$work/$exe" "$ckpt" 300 7 "$work/$model-$exe.npy" >"$work/$model-$exe.log"
    cmp "$work/$model-ref.npy" "$work/$model-$exe.npy" ||
      { echo "$exe on the $model: samples differ from dgm sample's"; cat "$work/$model-$exe.log"; exit 1; }
  done
  echo "$model: the 4 example builds sample what dgm sample does ($(head -1 "$work/$model-embed_c-pkgconfig.log" | cut -c1-60)...)"
done

(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/package" >"$work/cpack.log") ||
  { cat "$work/cpack.log"; exit 1; }
deb=$(find "$work/package" -maxdepth 1 -name 'dgm_*.deb' | head -1)
[[ -n $deb ]] || { echo "cpack made no .deb"; cat "$work/cpack.log"; exit 1; }
dpkg-deb -c "$deb" >"$work/deb.txt"
for f in usr/bin/dgm /libdgm.so usr/include/dgm/dgm.h cmake/dgm/dgmConfig.cmake pkgconfig/dgm.pc \
         share/dgm/fashion-mnist-classifier.safetensors; do
  grep -q "$f" "$work/deb.txt" || { echo "$(basename "$deb") lacks $f"; cat "$work/deb.txt"; exit 1; }
done
echo "cpack: $(basename "$deb"), $(wc -l <"$work/deb.txt") entries"
echo "install test passed"

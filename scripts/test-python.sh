#!/usr/bin/env bash
# The Python bindings (python/dgm, docs/python.md), as a user installs them: as root on
# Debian, installs what the build and the tests need (scripts/install-deps.sh plus Python's
# venv, pip, numpy and pytest), makes the virtual environment build/python-venv (with the
# system's site packages: Debian's numpy and pytest; reused when it is there), installs
# scikit-build-core (PyPI) into it once and runs `pip install --no-build-isolation .`:
# scikit-build-core builds libdgm.so through CMake in build/python-<tag>, incrementally
# after the first time (in pip's build isolation, each run is a new environment and
# scikit-build-core starts that folder afresh: a full build). Then pytest on python/tests.
# Tests that compare with the dgm command use DGM_CLI (default build/dgm) and skip, saying
# so, when it is missing. Exits nonzero when anything fails or no test was collected.
# Usage: scripts/test-python.sh [PYTEST ARGS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh python3-venv python3-pip python3-numpy python3-pytest ninja-build

venv=$root/build/python-venv
py=/usr/bin/python3
if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  rm -rf "$venv"
  "$py" -m venv --system-site-packages "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"$venv/bin/python" -c 'import scikit_build_core' 2>/dev/null || "${pip[@]}" install -q 'scikit-build-core>=0.10'
echo "pip install --no-build-isolation . (log: build/python-install.log)"
if ! "${pip[@]}" install --no-build-isolation -v . >build/python-install.log 2>&1; then
  tail -40 build/python-install.log
  echo "pip install . failed"
  exit 1
fi

# The installed package, not the source folder, must be the one imported.
(cd /tmp && "$venv/bin/python" -c '
import dgm, os, sys
print(f"dgm {dgm.version()}: {dgm.library_path}\n  BLAS {dgm.blas_library()}")
sys.exit(0 if os.path.dirname(dgm.library_path) == os.path.dirname(dgm.__file__) else
         f"dgm loaded {dgm.library_path}, not the libdgm.so of its package")')

# The dgm command picks OpenBLAS's kernels where OpenBLAS falls back to generic ones
# (host/thread_policy.h), a Python process cannot: one choice for both, so that the tests
# that compare them byte for byte compute alike (the generic core, which every x86-64 has).
if [ "$(uname -m)" = x86_64 ]; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Prescott}; fi
export DGM_CLI=${DGM_CLI:-$root/build/dgm}
[[ -x $DGM_CLI ]] || echo "note: no dgm command at $DGM_CLI: the comparisons with it skip"
rc=0
"$venv/bin/python" -m pytest -p no:cacheprovider -ra python/tests "$@" || rc=$?
if ((rc == 5)); then
  echo "pytest collected no tests"
  exit 1
fi
exit "$rc"

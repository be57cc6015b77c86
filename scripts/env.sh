# Sourced by the scripts: puts the CUDA toolkit on PATH where it is installed but not found.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
JOBS=$(nproc 2>/dev/null || echo 2)

"""Fixtures of the Python bindings' tests: the dgm command to compare with, and small models
trained once per session (2-D moons, a few hundred steps: seconds on 2 cores)."""

import dgm  # first: libdgm.so then gets the OpenBLAS the dgm command uses (dgm.blas_library)

import gzip
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def cli():
    """The dgm command (DGM_CLI, default build/dgm of this checkout)."""
    path = os.environ.get("DGM_CLI") or os.path.join(REPO, "build", "dgm")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.skip(f"no dgm command at {path} (build it, or set DGM_CLI)")
    return path


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def _trained(runs, kind):
    """A `kind` trained on moons for 300 steps on the CPU: its checkpoint's path."""
    out = runs / f"{kind}-moons"
    m = dgm.train(kind, "moons", steps=300, out=str(out), device="cpu", seed=0)
    m.close()
    return str(out / "checkpoint.safetensors")


@pytest.fixture(scope="session")
def flow(runs):
    return _trained(runs, "realnvp")


@pytest.fixture(scope="session")
def gaussian_ckpt(runs):
    return _trained(runs, "gaussian")


def fashion_mnist_dir():
    """The folder of Fashion-MNIST's IDX files, or None."""
    for d in (os.environ.get("DGM_DATA_DIR"), "/usr/share/datasets/fashion-mnist"):
        if d and os.path.exists(os.path.join(d, "t10k-images-idx3-ubyte.gz")):
            return d
    return None


def read_idx_images(path, n):
    """The first n images of a gzip'd IDX file as float32 [n, 28, 28] in [0, 1]."""
    with gzip.open(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803
        n = min(n, count)
        x = np.frombuffer(f.read(n * rows * cols), dtype=np.uint8).reshape(n, rows, cols)
    return x.astype(np.float32) / 255.0


def cli_blas(cli):
    """The OpenBLAS file the dgm command loads (by ldd), or ""."""
    if not shutil.which("ldd"):
        return ""
    out = subprocess.run(["ldd", cli], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libopenblas" in line and "=>" in line:
            return os.path.realpath(line.split("=>")[1].split("(")[0].strip())
    return ""

"""dgm: deep generative models in C11 and CUDA, from Python.

A ctypes layer over libdgm.so (shipped inside this package); numpy arrays in and out.

    import dgm
    m = dgm.train("realnvp", "moons", steps=2000, out="runs/flow")   # or a numpy array [n, 2]
    x = m.sample(1000, seed=0)           # float32 [1000, 2]
    m.score(x), m.log_density(x[:5])
    m = dgm.load("runs/flow/checkpoint.safetensors")
    dgm.compare(x, m.sample(1000), metric="w2")

Every failure raises a subclass of dgm.Error (dgm.InvalidArgument, dgm.FileError, ...)
with the library's message. See docs/python.md.
"""

from . import _lib
from ._compare import compare
from ._core import (cuda_available, kinds, metric_names, options, summary, toy_names,
                    train_defaults, version)
from ._model import Model, load, load_bytes
from ._train import Progress, dataset, train
from .errors import (BackendError, BadFormat, Error, FileError, InvalidArgument, NoDevice,
                     NotFinite, OutOfMemory, ShapeMismatch, StateError, Unsupported,
                     WrongDevice)

__version__ = version()
library_path = _lib.PATH
blas_library = _lib.blas_path
blas_core = _lib.blas_core

# OpenBLAS picks its kernels once, when it loads: too late to change here. Say so when it
# fell back to generic ones on a CPU that has better (the dgm command asks for those
# itself): Debian 12's OpenBLAS on a Sapphire Rapids Xeon trained the README's VAE 3x
# slower with them.
if _lib.better_blas_core():
    import warnings as _warnings
    _warnings.warn(f"OpenBLAS runs its generic {_lib.blas_core()} kernels on this CPU (a "
                   f"release older than the CPU): set OPENBLAS_CORETYPE="
                   f"{_lib.better_blas_core()} before Python starts for matrix products "
                   "several times faster", RuntimeWarning, stacklevel=2)

__all__ = ["load", "load_bytes", "train", "compare", "dataset", "Model", "Progress", "kinds", "options", "summary",
           "metric_names", "toy_names", "train_defaults", "version", "cuda_available",
           "library_path", "blas_library", "blas_core", "Error", "InvalidArgument", "ShapeMismatch", "WrongDevice",
           "OutOfMemory", "Unsupported", "NoDevice", "BackendError", "FileError", "BadFormat",
           "NotFinite", "StateError"]

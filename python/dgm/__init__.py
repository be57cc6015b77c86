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
from ._model import Model, load
from ._train import Progress, dataset, train
from .errors import (BackendError, BadFormat, Error, FileError, InvalidArgument, NoDevice,
                     NotFinite, OutOfMemory, ShapeMismatch, StateError, Unsupported,
                     WrongDevice)

__version__ = version()
library_path = _lib.PATH
blas_library = _lib.blas_path

__all__ = ["load", "train", "compare", "dataset", "Model", "Progress", "kinds", "options", "summary",
           "metric_names", "toy_names", "train_defaults", "version", "cuda_available",
           "library_path", "blas_library", "Error", "InvalidArgument", "ShapeMismatch", "WrongDevice",
           "OutOfMemory", "Unsupported", "NoDevice", "BackendError", "FileError", "BadFormat",
           "NotFinite", "StateError"]

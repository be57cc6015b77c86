"""The ctypes layer: libdgm.so, its functions' signatures and the structs Python reads.

The library is loaded with ctypes.CDLL (not PyDLL), so every foreign call releases the GIL
while it runs: other Python threads go on while dgm samples or trains. Callbacks made with
CFUNCTYPE take the GIL back for as long as they run.

Which file: the libdgm.so installed beside this module (`pip install .` puts it there);
when there is none (running from a source checkout), the file named by the environment
variable DGM_LIBRARY (a build tree's, e.g. build/libdgm.so).
"""

import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_double, c_float, c_int,
                    c_int64, c_size_t, c_uint64, c_void_p)

_HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(_HERE, "libdgm.so")


def _find():
    if os.path.exists(BUNDLED):
        return BUNDLED
    env = os.environ.get("DGM_LIBRARY")
    if env:
        if not os.path.exists(env):
            raise ImportError(f"dgm: DGM_LIBRARY={env} does not exist")
        return env
    raise ImportError(
        f"dgm: no libdgm.so in {_HERE} (install the package with `pip install .`) and "
        "DGM_LIBRARY is not set (e.g. DGM_LIBRARY=build/libdgm.so for a build tree)")


def _load(path):
    # libgomp's wait policy, as the dgm command sets it (host/thread_policy.h): with its
    # default, idle OpenMP threads spin 300,000 rounds at every barrier, and when another
    # busy process shares the cores a training runs several times slower (RealNVP on moons,
    # 300 steps on a loaded 2-core machine: 20 s of CPU instead of 1.4). libgomp reads the
    # setting once, when it loads, which is here unless something in this process loaded
    # it before (then its policy stays). A policy the user set is left alone; the variable
    # is removed again afterwards so that child processes see the environment unchanged.
    ours = "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
    if ours:
        os.environ["GOMP_SPINCOUNT"] = "5000"
    try:
        return ctypes.CDLL(path)
    finally:
        if ours:
            os.environ.pop("GOMP_SPINCOUNT", None)


PATH = _find()
lib = _load(PATH)

# ---- statuses, devices ----
OK = 0
STATUS_NAMES = ("OK", "INVALID_ARGUMENT", "SHAPE_MISMATCH", "WRONG_DEVICE", "OOM", "UNSUPPORTED",
                "NO_DEVICE", "BACKEND_ERROR", "IO_ERROR", "BAD_FORMAT", "NOT_FINITE",
                "STATE_ERROR")
DEVICES = {"auto": 0, "cpu": 1, "cuda": 2}
MEMORY_HOST = 0
SPLIT_TRAIN, SPLIT_TEST = 0, 1


class CtxConfig(Structure):
    _fields_ = [("device", c_int), ("cuda_device", c_int), ("seed", c_uint64),
                ("arena_limit", c_size_t), ("keep_denormals", c_bool)]


class ModelOption(Structure):
    _fields_ = [("name", c_char_p), ("default_value", c_char_p), ("help", c_char_p)]


class OptimConfig(Structure):
    _fields_ = [("kind", c_int), ("lr", c_float), ("momentum", c_float), ("dampening", c_float),
                ("nesterov", c_bool), ("beta1", c_float), ("beta2", c_float), ("eps", c_float),
                ("weight_decay", c_float)]


class LrSchedule(Structure):
    _fields_ = [("kind", c_int), ("base_lr", c_float), ("warmup_steps", c_int64),
                ("total_steps", c_int64), ("min_lr", c_float)]


class PlateauRule(Structure):
    _fields_ = [("window", c_int64), ("tol", c_double), ("patience", c_int64),
                ("lr_factor", c_float), ("max_decays", c_int64)]


class TrainDefaults(Structure):
    _fields_ = [("run", c_int), ("length", c_int64), ("converge", PlateauRule), ("batch", c_int64),
                ("optim", OptimConfig), ("schedule", LrSchedule), ("clip", c_float),
                ("log_every", c_int64), ("save_every", c_int64)]


class TrainProgress(Structure):
    _fields_ = [("step", c_int64), ("total", c_int64), ("steps_per_epoch", c_int64),
                ("loss", c_double), ("lr", c_double), ("elapsed_s", c_double), ("logged", c_bool),
                ("model_fields", c_char_p)]


class HistogramOptions(Structure):
    _fields_ = [("bins", c_int), ("extent", POINTER(c_double)), ("pseudo_count", c_double)]


class Divergences(Structure):
    _fields_ = [("kl", c_double), ("js", c_double), ("tv", c_double), ("hellinger2", c_double),
                ("chi2", c_double), ("outside_a", c_int64), ("outside_b", c_int64)]


TRAIN_CALLBACK = CFUNCTYPE(c_int, c_void_p, POINTER(TrainProgress))

P = c_void_p  # opaque handles: dgm_ctx*, dgm_model*, dgm_dataset*, dgm_tensor*, dgm_trainer*
FP = POINTER(c_float)
st = c_int  # dgm_status


def _sig(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


# core.h
_sig("dgm_version", c_char_p)
_sig("dgm_status_name", c_char_p, c_int)
_sig("dgm_cuda_available", c_bool, c_char_p, c_size_t)
_sig("dgm_ctx_config_default", CtxConfig)
_sig("dgm_ctx_create", st, POINTER(CtxConfig), POINTER(P))
_sig("dgm_ctx_free", None, P)
_sig("dgm_ctx_device", c_int, P)
_sig("dgm_device_name", c_char_p, c_int)
_sig("dgm_last_error", c_char_p, P)
_sig("dgm_ctx_step_end", st, P)
_sig("dgm_ctx_seed", st, P, c_uint64)
_sig("dgm_ctx_rng_state", None, P, POINTER(c_uint64), POINTER(c_uint64))
_sig("dgm_ctx_set_rng_state", st, P, c_uint64, c_uint64)
_sig("dgm_ctx_set_grad_enabled", None, P, c_bool)
_sig("dgm_ctx_grad_enabled", c_bool, P)

# tensor.h
_sig("dgm_tensor_from_host", st, P, c_int, POINTER(c_int64), FP, POINTER(P))
_sig("dgm_tensor_to_host", st, P, P, FP)
_sig("dgm_tensor_numel", c_int64, P)

# data.h
_sig("dgm_dataset_from_memory", st, P, c_int64, c_int, POINTER(c_int64), FP, c_void_p, POINTER(P))
_sig("dgm_dataset_free", None, P)
_sig("dgm_dataset_count", c_int64, P)
_sig("dgm_dataset_dim", c_int64, P)
_sig("dgm_dataset_sample_shape", c_int, P, POINTER(c_int64))
_sig("dgm_dataset_data", FP, P)
_sig("dgm_dataset_load", st, P, c_char_p, c_int, c_uint64, POINTER(P))
_sig("dgm_toy_names", POINTER(c_char_p))

# model.h
_sig("dgm_model_kinds", POINTER(c_char_p))
_sig("dgm_model_options", POINTER(ModelOption), c_char_p)
_sig("dgm_model_summary", c_char_p, c_char_p)
_sig("dgm_model_train_defaults_for_data", st, c_char_p, c_char_p, c_int, POINTER(TrainDefaults))
_sig("dgm_optim_kind_name", c_char_p, c_int)
_sig("dgm_model_create", st, P, c_char_p, c_char_p, c_int64, c_int, POINTER(c_int64), POINTER(P))
_sig("dgm_model_free", None, P)
_sig("dgm_model_kind", c_char_p, P)
_sig("dgm_model_config", c_char_p, P)
_sig("dgm_model_dim", c_int64, P)
_sig("dgm_model_sample_shape", c_int, P, POINTER(c_int64))
_sig("dgm_model_warning", c_char_p, P)
_sig("dgm_model_note", c_char_p, P)
_sig("dgm_model_log_density", st, P, P, POINTER(P))
_sig("dgm_model_sample_into", st, P, c_int64, FP, c_int)
_sig("dgm_model_score", st, P, FP, c_int64, c_char_p, POINTER(c_double))
_sig("dgm_model_metric_names", c_char_p, c_char_p)
_sig("dgm_model_save", st, P, c_char_p, c_void_p)
_sig("dgm_model_load_with", st, P, c_char_p, c_char_p, POINTER(P))
_sig("dgm_model_load_memory", st, P, c_char_p, c_size_t, c_char_p, POINTER(P))
_sig("dgm_checkpoint_meta", st, P, c_char_p, c_char_p, POINTER(c_void_p))

# metrics.h
_sig("dgm_wasserstein1", st, P, FP, FP, c_int64, c_int, POINTER(c_double))
_sig("dgm_wasserstein2", st, P, FP, FP, c_int64, c_int, POINTER(c_double))
_sig("dgm_sliced_wasserstein2", st, P, FP, c_int64, FP, c_int64, c_int, c_int, c_uint64,
     POINTER(c_double))
_sig("dgm_mmd2_rbf", st, P, FP, c_int64, FP, c_int64, c_int, c_double, POINTER(c_double),
     POINTER(c_double))
_sig("dgm_energy_distance", st, P, FP, c_int64, FP, c_int64, c_int, POINTER(c_double))
_sig("dgm_histogram_options_default", HistogramOptions)
_sig("dgm_histogram_divergences", st, P, FP, c_int64, FP, c_int64, c_int,
     POINTER(HistogramOptions), POINTER(Divergences))

# train.h
_sig("dgm_train_is_run_option", c_bool, c_char_p)
_sig("dgm_trainer_create_json", st, P, P, c_char_p, TRAIN_CALLBACK, c_void_p, POINTER(P))
_sig("dgm_trainer_run", st, P)
_sig("dgm_trainer_free", None, P)
_sig("dgm_trainer_steps", c_int64, P)
_sig("dgm_trainer_stopped", c_bool, P)
_sig("dgm_trainer_last_loss", c_double, P)
_sig("dgm_trainer_checkpoint_path", c_char_p, P)

# the C library's free(), for the strings dgm_checkpoint_meta mallocs
_libc = ctypes.CDLL(None)
c_free = _libc.free
c_free.restype = None
c_free.argtypes = [c_void_p]


def text(b):
    """A C string (bytes or None) as str."""
    return "" if b is None else b.decode("utf-8", "replace")


def string_list(p):
    """A NULL-terminated const char *const * as a list of str."""
    out = []
    i = 0
    while p[i] is not None:
        out.append(text(p[i]))
        i += 1
    return out


class _DlInfo(Structure):
    _fields_ = [("dli_fname", c_char_p), ("dli_fbase", c_void_p), ("dli_sname", c_char_p),
                ("dli_saddr", c_void_p)]


def blas_core():
    """The core OpenBLAS chose its kernels for (e.g. "SkylakeX", "Haswell"), or "" if unknown."""
    try:
        dlsym = _libc.dlsym
        dlsym.restype = c_void_p
        dlsym.argtypes = [c_void_p, c_char_p]
        addr = dlsym(lib._handle, b"openblas_get_corename")
        if not addr:
            return ""
        return text(ctypes.CFUNCTYPE(c_char_p)(addr)()) or ""
    except (AttributeError, OSError):
        return ""


def better_blas_core():
    """The OpenBLAS core the dgm command would ask for here (host/thread_policy.h): OpenBLAS
    fell back to a generic core (a release older than the CPU) while the CPU has AVX-512
    (SKYLAKEX) or AVX2 and FMA (HASWELL); else "" (the user's OPENBLAS_CORETYPE counts)."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return ""
    if blas_core().lower() not in ("prescott", "core2", "katmai", "coppermine", "northwood",
                                   "banias", "nehalem", "unknown"):
        return ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return ""
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= set(flags):
        return "SKYLAKEX"
    if {"avx2", "fma"} <= set(flags):
        return "HASWELL"
    return ""


def blas_path():
    """The file of the BLAS (cblas_sgemm) that libdgm.so calls, or "" if unknown.

    libdgm.so asks for libopenblas.so.0 and, built where Debian's OpenMP OpenBLAS is
    installed, finds that one first (its RUNPATH) -- unless the process already holds
    another library of that name: numpy imported before dgm loads Debian's default
    (pthread) OpenBLAS, and libdgm.so then shares it. Results stay correct, but matrix
    products may differ in their last bits from the dgm command's."""
    try:
        dlsym = _libc.dlsym
        dlsym.restype = c_void_p
        dlsym.argtypes = [c_void_p, c_char_p]
        dladdr = _libc.dladdr
        dladdr.restype = c_int
        dladdr.argtypes = [c_void_p, POINTER(_DlInfo)]
        addr = dlsym(lib._handle, b"cblas_sgemm")
        info = _DlInfo()
        if not addr or not dladdr(addr, ctypes.byref(info)):
            return ""
        return os.path.realpath(text(info.dli_fname))
    except (AttributeError, OSError):
        return ""

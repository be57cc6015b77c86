"""What the other modules share: contexts, arrays, option values, the kinds and their
options."""

import ctypes
import json
import numbers

import numpy as np

from . import _lib
from .errors import InvalidArgument, ShapeMismatch, make

L = _lib.lib


def version():
    """The version of the libdgm.so loaded ("0.1.0")."""
    return _lib.text(L.dgm_version())


def cuda_available():
    """(True, "") when this build has the CUDA backend and a GPU is usable, else
    (False, the reason)."""
    why = ctypes.create_string_buffer(512)
    ok = bool(L.dgm_cuda_available(why, len(why)))
    return ok, "" if ok else _lib.text(why.value)


def parse_device(device):
    """"auto", "cpu", "cuda" or "cuda:N" -> (enum value, ordinal)."""
    if not isinstance(device, str):
        raise InvalidArgument(f"device={device!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    name, _, ordinal = device.partition(":")
    if name not in _lib.DEVICES or (ordinal and (name != "cuda" or not ordinal.isdigit())):
        raise InvalidArgument(f"device={device!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return _lib.DEVICES[name], int(ordinal or 0)


def check_seed(seed, what="seed"):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise InvalidArgument(f"{what}={seed!r}: expected an integer in [0, 2**64)")
    return int(seed)


def check_count(n, what="n"):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise InvalidArgument(f"{what}={n!r}: expected an integer >= 1")
    return int(n)


def new_ctx(device="auto", seed=0):
    """A dgm_ctx (a c_void_p) on `device` with the generator seeded by `seed`; the caller
    frees it with dgm_ctx_free."""
    dev, ordinal = parse_device(device)
    seed = check_seed(seed)
    cfg = L.dgm_ctx_config_default()
    cfg.device = dev
    cfg.cuda_device = ordinal
    cfg.seed = seed
    ctx = ctypes.c_void_p()
    status = L.dgm_ctx_create(ctypes.byref(cfg), ctypes.byref(ctx))
    if status != _lib.OK:
        msg = _lib.text(L.dgm_last_error(ctx)) if ctx else "out of memory making a context"
        L.dgm_ctx_free(ctx)
        raise make(status, msg)
    return ctx


def option_value(v):
    """A Python option value as the text `dgm train --name VALUE` takes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(option_value(i) for i in v)
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (str, numbers.Number, np.generic)):
        return str(v)
    raise InvalidArgument(f"option value {v!r}: expected a number, a string, a bool or a list of them")


def option_name(name):
    """A Python keyword (kl_warmup) as the command line's option name (kl-warmup)."""
    return name.replace("_", "-")


def options_json(options):
    """{python name: value} as the JSON object of strings dgm_model_create takes."""
    return json.dumps({option_name(k): option_value(v) for k, v in options.items()})


def rows(x, what, dim=None, finite=False):
    """x as a C-contiguous float32 array of n >= 1 rows [n, ...] (x itself when it already
    is one: no copy; a converted or contiguous copy otherwise). dim: the floats a row must
    hold (a 1-D x is n rows of one value). finite: refuse NaN and infinities."""
    try:
        a = np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise InvalidArgument(f"{what}: not an array of numbers ({e})") from None
    if a.dtype.kind not in "biuf":
        raise InvalidArgument(f"{what}: dtype {a.dtype} does not convert to float32 "
                              "(expected real numbers)")
    if a.ndim == 0:
        raise InvalidArgument(f"{what}: a scalar; expected rows [n, ...]")
    a = np.ascontiguousarray(a, dtype=np.float32)
    n = a.shape[0]
    if n < 1:
        raise InvalidArgument(f"{what}: no rows (shape {a.shape})")
    width = int(np.prod(a.shape[1:], dtype=np.int64)) if a.ndim > 1 else 1
    if width < 1:
        raise InvalidArgument(f"{what}: rows of no values (shape {a.shape})")
    if dim is not None and width != dim:
        raise ShapeMismatch(f"{what}: rows of {width} values (shape {a.shape}); "
                            f"the model's samples have {dim}")
    if finite:
        bad = ~np.isfinite(a.reshape(n, width))
        if bad.any():
            r = int(np.argmax(bad.any(axis=1)))
            raise InvalidArgument(f"{what}: row {r} has a NaN or infinite value")
    return a


def fptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def kinds():
    """The model kinds this build knows: ["gaussian", "vae", ...]."""
    return _lib.string_list(L.dgm_model_kinds())


def _kind_bytes(kind):
    if not isinstance(kind, str):
        raise InvalidArgument(f"kind={kind!r}: expected one of {', '.join(kinds())}")
    if kind not in kinds():
        raise InvalidArgument(f"unknown model kind '{kind}' (valid: {', '.join(kinds())})")
    return kind.encode()


def summary(kind):
    """One line describing `kind`."""
    return _lib.text(L.dgm_model_summary(_kind_bytes(kind)))


def options(kind):
    """The model options of `kind`, as `dgm train KIND --help` lists them:
    {"kl-warmup": {"default": "0", "help": "..."}, ...} (defaults as text; pass them to
    dgm.train or dgm.load as kl_warmup=... or **{"kl-warmup": ...})."""
    o = L.dgm_model_options(_kind_bytes(kind))
    out = {}
    i = 0
    while o[i].name is not None:
        out[_lib.text(o[i].name)] = {"default": _lib.text(o[i].default_value),
                                     "help": _lib.text(o[i].help)}
        i += 1
    return out


def metric_names(kind):
    """The metrics Model.score takes for `kind` (["nll", "bpd"] for a realnvp)."""
    names = _lib.text(L.dgm_model_metric_names(_kind_bytes(kind)))
    return [m for m in names.split(",") if m]


def toy_names():
    """The built-in 2-D toy densities ("moons", "ring8", ...) dgm.train takes as data."""
    return _lib.string_list(L.dgm_toy_names())


RUN_KINDS = ("epochs", "steps", "converged")


def _f32(x):
    """A C float as the shortest Python float that reads back as it (1e-3, not
    0.0010000000474974513)."""
    return float(str(np.float32(x)))


def train_defaults(kind, sample_ndim=0, **model_options):
    """How `dgm train KIND` trains `kind` when no run option is given, as a dict: run
    ("epochs", "steps" or "converged"), length, batch, optimizer, lr, betas, eps,
    weight_decay, momentum, clip, log_every, save_every, schedule. sample_ndim: 1 for
    vectors, 2 or 3 for images (some kinds train images differently), 0 for either.
    Model options that change the defaults (a GAN's loss="wgan-gp") may be given."""
    t = _lib.TrainDefaults()
    cfg = options_json(model_options).encode()
    status = L.dgm_model_train_defaults_for_data(_kind_bytes(kind), cfg, int(sample_ndim),
                                                 ctypes.byref(t))
    if status != _lib.OK:
        raise make(status, f"train_defaults({kind!r}, {model_options}): not a valid configuration")
    o = t.optim
    sched = t.schedule
    return {
        "run": RUN_KINDS[t.run] if 0 <= t.run < 3 else t.run,
        "length": t.length,
        "batch": t.batch,
        "optimizer": _lib.text(L.dgm_optim_kind_name(o.kind)),
        "lr": _f32(o.lr),
        "betas": (_f32(o.beta1), _f32(o.beta2)),
        "eps": _f32(o.eps),
        "weight_decay": _f32(o.weight_decay),
        "momentum": _f32(o.momentum),
        "clip": _f32(t.clip),
        "log_every": t.log_every,
        "save_every": t.save_every,
        "schedule": {"kind": "cosine" if sched.kind == 1 else "constant",
                     "warmup_steps": sched.warmup_steps,
                     "min_lr": _f32(sched.min_lr)},
    }



"""dgm.Model: a trained model (a dgm_model on a dgm_ctx of its own), and dgm.load."""

import ctypes
import json
import os
import threading

import numpy as np

from . import _core
from . import _lib
from .errors import InvalidArgument, OutOfMemory, StateError, make

L = _lib.lib

# Rows per dgm_model_log_density call: bounds the step memory for any n (as
# dgm_model_sample_into's chunks do).
LOG_DENSITY_CHUNK = 4096


class Model:
    """A model and the context it computes on, both owned by this object and freed by
    close() (or when it is garbage-collected; `with dgm.load(...) as m:` closes it at the
    end of the block).

    Made by dgm.load and dgm.train. Its calls may come from any thread; calls on one Model
    from several threads take turns (a lock per Model: one dgm context must not run two
    calls at once), while Models of their own run in parallel. Each call releases the GIL
    while dgm computes.
    """

    def __init__(self, ctx, model, rng_offset=None):
        # Takes ownership of both handles (c_void_p); use dgm.load or dgm.train.
        # rng_offset: the generator's offset right after the model was made (default: now).
        self._ctx = ctx
        self._model = model
        self._lock = threading.Lock()
        shape = (ctypes.c_int64 * 3)()
        nd = L.dgm_model_sample_shape(model, shape)
        self._shape = tuple(int(shape[i]) for i in range(nd))
        self._dim = int(L.dgm_model_dim(model))
        self._kind = _lib.text(L.dgm_model_kind(model))
        # Where the generator stands after the model was made (its initialization draws):
        # `dgm sample CKPT --seed S` samples from (S, this offset), so sample(seed=S) does.
        s, off = ctypes.c_uint64(), ctypes.c_uint64()
        L.dgm_ctx_rng_state(ctx, ctypes.byref(s), ctypes.byref(off))
        self._offset0 = off.value if rng_offset is None else rng_offset
        # what dgm.train did (None for a loaded model): steps, stopped, loss, checkpoint
        self.train_result = None

    # ---- lifetime ----

    def close(self):
        """Frees the model and its context. Further calls raise dgm.StateError. Idempotent."""
        with self._lock:
            m, ctx = self._model, self._ctx
            self._model = self._ctx = None
            if m:
                L.dgm_model_free(m)
            if ctx:
                L.dgm_ctx_free(ctx)

    def __del__(self):
        try:
            m, ctx = getattr(self, "_model", None), getattr(self, "_ctx", None)
            self._model = self._ctx = None
            if m and L is not None:
                L.dgm_model_free(m)
            if ctx and L is not None:
                L.dgm_ctx_free(ctx)
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def closed(self):
        return self._model is None

    def _open(self):
        if self._model is None:
            raise StateError(f"this {self._kind} model is closed")
        return self._ctx, self._model

    def _fail(self, status, what):
        """The exception of a failed call, with the context's message (read now, before
        another call on the context replaces it)."""
        msg = _lib.text(L.dgm_last_error(self._ctx)) or f"{what} failed"
        return make(status, msg)

    # ---- what it is ----

    @property
    def kind(self):
        """"vae", "realnvp", ..."""
        return self._kind

    @property
    def dim(self):
        """Floats per sample (the product of shape)."""
        return self._dim

    @property
    def shape(self):
        """The shape of one sample: (2,) for 2-D points, (28, 28) for Fashion-MNIST."""
        return self._shape

    @property
    def config(self):
        """The model's full configuration (every option, defaults filled in), as a dict of
        option name -> value as text (the dgm_model_config JSON)."""
        with self._lock:
            _, m = self._open()
            return json.loads(_lib.text(L.dgm_model_config(m)))

    @property
    def device(self):
        """"cpu" or "cuda": where this model computes."""
        with self._lock:
            ctx, _ = self._open()
            return _lib.text(L.dgm_device_name(L.dgm_ctx_device(ctx)))

    @property
    def metric_names(self):
        """The metrics score() takes, the default first (["elbo", "iwae"] for a VAE)."""
        return _core.metric_names(self._kind)

    @property
    def warning(self):
        """A warning about a legal but dubious configuration ("" when none)."""
        with self._lock:
            _, m = self._open()
            return _lib.text(L.dgm_model_warning(m))

    @property
    def note(self):
        """What the last score() computed on its own that its numbers depend on ("" when
        nothing): an energy-based model's log Z, its grid and box."""
        with self._lock:
            _, m = self._open()
            return _lib.text(L.dgm_model_note(m))

    def __repr__(self):
        state = "closed" if self.closed else f"dim={self._dim}, shape={self._shape}"
        return f"<dgm.Model {self._kind} {state}>"

    # ---- sampling and scoring ----

    def sample(self, n, seed=None):
        """n samples as a float32 array [n, *shape] (images in [0, 1]).

        seed=None draws on from the model's generator (successive calls give new samples);
        seed=S first resets it to where `dgm sample CHECKPOINT --seed S` starts, so
        m.sample(n, seed=S) holds the same numbers as `dgm sample CHECKPOINT -n n --seed S
        -o x.npy` on the same device."""
        n = _core.check_count(n)
        if seed is not None:
            seed = _core.check_seed(seed)
        try:
            out = np.empty((n,) + self._shape, dtype=np.float32)
        except MemoryError:
            raise OutOfMemory(f"sample({n}): no host memory for {n} x {self._dim} floats") from None
        with self._lock:
            ctx, m = self._open()
            if seed is not None:
                status = L.dgm_ctx_set_rng_state(ctx, seed, self._offset0)
                if status:
                    raise self._fail(status, "seeding")
            status = L.dgm_model_sample_into(m, n, _core.fptr(out), _lib.MEMORY_HOST)
            if status:
                raise self._fail(status, "sampling")
        return out

    def log_density(self, x):
        """log p(x) in nats of each row of x ([n, *shape] or [n, dim]; converted to
        contiguous float32 when it is not), as a float32 array [n]. For models with an
        exact density (realnvp on vectors, gaussian); dgm.Unsupported otherwise."""
        a = _core.rows(x, "x", self._dim, finite=True)
        n = a.shape[0]
        flat = a.reshape(n, self._dim)
        out = np.empty(n, dtype=np.float32)
        with self._lock:
            ctx, m = self._open()
            grad = L.dgm_ctx_grad_enabled(ctx)
            L.dgm_ctx_set_grad_enabled(ctx, False)
            try:
                for i in range(0, n, LOG_DENSITY_CHUNK):
                    k = min(LOG_DENSITY_CHUNK, n - i)
                    shape = (ctypes.c_int64 * 2)(k, self._dim)
                    t, r = ctypes.c_void_p(), ctypes.c_void_p()
                    status = L.dgm_tensor_from_host(ctx, 2, shape, _core.fptr(flat[i:i + k]),
                                                    ctypes.byref(t))
                    if not status:
                        status = L.dgm_model_log_density(m, t, ctypes.byref(r))
                    if not status:
                        status = L.dgm_tensor_to_host(ctx, r, _core.fptr(out[i:i + k]))
                    err = self._fail(status, "log_density") if status else None
                    end = L.dgm_ctx_step_end(ctx)
                    if err is None and end:
                        err = self._fail(end, "ending the step")
                    if err is not None:
                        raise err
            finally:
                L.dgm_ctx_set_grad_enabled(ctx, grad)
        return out

    def score(self, x, metric=None):
        """The mean over the rows of x ([n, *shape] or [n, dim]) of one metric (None: the
        kind's default, metric_names[0]) in the units `dgm eval` prints: the same number
        as `dgm eval CHECKPOINT --data x.npy --metric METRIC`."""
        a = _core.rows(x, "x", self._dim, finite=True)
        if metric is not None and not isinstance(metric, str):
            raise InvalidArgument(f"metric={metric!r}: expected a name ({', '.join(self.metric_names)})")
        value = ctypes.c_double()
        with self._lock:
            _, m = self._open()
            status = L.dgm_model_score(m, _core.fptr(a), a.shape[0],
                                       metric.encode() if metric else None, ctypes.byref(value))
            if status:
                raise self._fail(status, "score")
        return value.value

    def save(self, path):
        """Writes the model to a safetensors checkpoint at path (atomically), which
        dgm.load and `dgm sample/eval` open."""
        with self._lock:
            _, m = self._open()
            status = L.dgm_model_save(m, os.fsencode(path), None)
            if status:
                raise self._fail(status, "save")


def load(path, device="auto", seed=0, **overrides):
    """Opens a checkpoint (checkpoint.safetensors of `dgm train` or dgm.train) on `device`
    ("auto": CUDA when a GPU is usable, else the CPU; "cpu"; "cuda" or "cuda:N") with its
    generator seeded by `seed` (as `dgm sample --seed`). overrides: sampling options to
    replace, by their dgm names with '_' for '-' (sampler="ddim", sample_steps=20 for a
    ddpm); options that shape the parameters cannot change. Returns a Model."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise InvalidArgument(f"path={path!r}: expected a file name")
    cfg = _core.options_json(overrides).encode() if overrides else None
    ctx = _core.new_ctx(device, seed)
    m = ctypes.c_void_p()
    status = L.dgm_model_load_with(ctx, os.fsencode(path), cfg, ctypes.byref(m))
    if status:
        err = make(status, _lib.text(L.dgm_last_error(ctx)) or f"loading {path} failed")
        L.dgm_ctx_free(ctx)
        raise err
    return Model(ctx, m)


def load_bytes(data, device="auto", seed=0, **overrides):
    """dgm.load from a checkpoint file's bytes already in memory (bytes or bytearray, e.g.
    read from an archive or a network): the same model, nothing written to disk. A
    checkpoint is untrusted input: any bytes give a Model or a dgm.BadFormat, never a
    crash or an allocation beyond what the bytes hold."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgument(f"data: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    cfg = _core.options_json(overrides).encode() if overrides else None
    ctx = _core.new_ctx(device, seed)
    m = ctypes.c_void_p()
    status = L.dgm_model_load_memory(ctx, data, len(data), cfg, ctypes.byref(m))
    if status:
        err = make(status, _lib.text(L.dgm_last_error(ctx)) or "loading the checkpoint failed")
        L.dgm_ctx_free(ctx)
        raise err
    return Model(ctx, m)

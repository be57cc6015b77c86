"""dgm.train: `dgm train` as a function (dgm/train.h's trainer)."""

import collections
import ctypes
import json
import os

import numpy as np

from . import _core
from . import _lib
from ._model import Model
from .errors import InvalidArgument, make

L = _lib.lib


def _is_run_option(name):
    """The trainer's run options (dgm_train_defaults_override: batch, lr, optimizer, ...);
    every other keyword is a model option."""
    return bool(L.dgm_train_is_run_option(_core.option_name(name).encode()))

Progress = collections.namedtuple(
    "Progress", "step total steps_per_epoch loss lr elapsed_s logged model_fields")
Progress.__doc__ = """What on_step receives: optimizer steps done (1 after the first), the
run's length in steps, batches per epoch, this step's loss, its learning rate, seconds since
the run began, whether a metrics.jsonl line was written for this step, and the model's own
fields of its last metrics line as a dict (a CNF's "nfe", "end_time", "solver_steps",
"step_gap"; empty for most families)."""


def _dataset(ctx, data, seed):
    """A dgm_dataset from a numpy array [n, ...] or a --data name/path; also its label."""
    ds = ctypes.c_void_p()
    if isinstance(data, (str, os.PathLike)):
        spec = os.fspath(data)
        status = L.dgm_dataset_load(ctx, os.fsencode(spec), _lib.SPLIT_TRAIN, seed, ctypes.byref(ds))
        if status:
            raise make(status, _lib.text(L.dgm_last_error(ctx)) or f"loading {spec} failed")
        return ds, spec
    a = _core.rows(data, "data", finite=True)
    shape = a.shape[1:] or (1,)
    if len(shape) > 3:
        raise InvalidArgument(f"data: samples of {len(shape)} dimensions (shape {a.shape}); "
                              "dgm takes 1 to 3 (reshape them)")
    c_shape = (ctypes.c_int64 * 3)(*shape)
    status = L.dgm_dataset_from_memory(ctx, a.shape[0], len(shape), c_shape, _core.fptr(a), None,
                                       ctypes.byref(ds))
    if status:
        raise make(status, _lib.text(L.dgm_last_error(ctx)) or "making the dataset failed")
    return ds, None


def _recorded_seed(ckpt):
    """The seed a run's checkpoint records (its data split and shuffles follow it)."""
    ctx = _core.new_ctx("cpu", 0)
    out = ctypes.c_void_p()
    try:
        status = L.dgm_checkpoint_meta(ctx, os.fsencode(ckpt), b"rng_seed", ctypes.byref(out))
        if status:
            raise make(status, _lib.text(L.dgm_last_error(ctx)))
        text = ctypes.string_at(out.value).decode()
    finally:
        if out.value:
            _lib.c_free(out)
        L.dgm_ctx_free(ctx)
    if not text.isdigit():
        raise InvalidArgument(f"resume=True: {ckpt}: its rng_seed {text!r} is not a number")
    return int(text)


def train(kind, data, *, steps=None, epochs=None, out=None, device="auto", seed=None, resume=False,
          on_step=None, progress_every=None, **options):
    """Trains a model of `kind` on `data` as `dgm train KIND --data DATA` does, and returns
    it as a Model.

    data: a numpy array [n, ...] of samples (float32, or anything that converts; rows of 1
    to 3 dimensions: [n, 2] points, [n, 28, 28] images), or a --data name or path
    ("moons", "fashion-mnist", "x.npy": its training split).
    steps / epochs: the run's length (default: the kind's, dgm.train_defaults(kind)).
    out: a folder for checkpoint.safetensors (at the end, and every save_every steps) and
    metrics.jsonl; None writes nothing. resume=True continues the run in `out` (the model
    options come from its checkpoint). seed: initialization, shuffling and noise (as
    `dgm train --seed`; default 0, or a resumed run's own: another one is refused, as it
    would shuffle other batches). device: "auto", "cpu", "cuda" or "cuda:N".
    Run options: batch, lr, optimizer ("adam", "adamw", "sgd"), betas ((b1, b2)),
    weight_decay, clip, log_every, save_every. Every other keyword is a model option
    (dgm.options(kind)), '_' standing for '-': kl_warmup=1000, hidden=(512, 256).
    on_step(progress): called every progress_every steps (default: at each logged step,
    every log_every) with a dgm.Progress; a true return value stops the run after that
    step (the checkpoint is still written). An exception raised in on_step stops the run
    and is raised again here.
    """
    kind_b = _core._kind_bytes(kind)
    seed = None if seed is None else _core.check_seed(seed)
    if on_step is not None and not callable(on_step):
        raise InvalidArgument(f"on_step={on_step!r}: expected a callable")
    run = {}
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None:
            run[name] = _core.check_count(value, name)
    if steps is not None and epochs is not None:
        raise InvalidArgument("give steps or epochs, not both")
    model_options = {}
    for name, value in options.items():
        if _is_run_option(name):
            run[_core.option_name(name)] = _core.option_value(value)
        else:
            model_options[name] = value
    if resume and out is None:
        raise InvalidArgument("resume=True continues the run in `out`: give out=FOLDER")
    if resume and model_options:
        raise InvalidArgument("resume=True takes the model options from the checkpoint; drop "
                              + ", ".join(sorted(model_options)))
    ckpt = os.path.join(os.fspath(out), "checkpoint.safetensors") if resume else None
    if resume and not os.path.exists(ckpt):
        raise InvalidArgument(f"resume=True: {ckpt} does not exist")
    if resume:
        recorded = _recorded_seed(ckpt)
        if seed is not None and seed != recorded:
            raise InvalidArgument(f"resume=True: the run in {os.fspath(out)} has seed {recorded}, "
                                  f"not seed={seed} (leave seed out to continue it)")
        seed = recorded
    elif seed is None:
        seed = 0
    topts = dict(run)
    topts["seed"] = str(seed)
    if out is not None:
        topts["dir"] = os.fspath(out)
    if resume:
        topts["resume"] = True
    if progress_every is not None:
        topts["progress_every"] = _core.check_count(progress_every, "progress_every")
    if on_step is None:
        # a call now and then all the same: Ctrl-C (KeyboardInterrupt) is seen there
        topts["progress_seconds"] = 0.5
    cfg = _core.options_json(model_options).encode()

    ctx = _core.new_ctx(device, seed)
    ds = model = trainer = None
    caught = []

    def callback(user, p):
        try:
            if on_step is None:
                return 0
            q = p.contents
            fields = json.loads("{" + q.model_fields.decode() + "}") if q.model_fields else {}
            r = on_step(Progress(q.step, q.total, q.steps_per_epoch, q.loss, q.lr, q.elapsed_s,
                                 bool(q.logged), fields))
            return 1 if r else 0
        except BaseException as e:  # noqa: B036 -- KeyboardInterrupt too: stop, raise later
            caught.append(e)
            return 1

    c_callback = _lib.TRAIN_CALLBACK(callback)  # alive until this function returns
    try:
        ds, spec = _dataset(ctx, data, seed)
        if spec is not None:
            topts["data_name"] = spec
        dim = L.dgm_dataset_dim(ds)
        shape = (ctypes.c_int64 * 3)()
        nd = L.dgm_dataset_sample_shape(ds, shape)
        model = ctypes.c_void_p()
        if resume:
            status = L.dgm_model_load_with(ctx, os.fsencode(ckpt), None, ctypes.byref(model))
            if not status and _lib.text(L.dgm_model_kind(model)) != kind:
                raise InvalidArgument(f"resume=True: {ckpt} holds a "
                                      f"{_lib.text(L.dgm_model_kind(model))} model, not {kind}")
        else:
            status = L.dgm_model_create(ctx, kind_b, cfg, dim, nd, shape, ctypes.byref(model))
        if status:
            raise make(status, _lib.text(L.dgm_last_error(ctx)))
        s, offset = ctypes.c_uint64(), ctypes.c_uint64()
        L.dgm_ctx_rng_state(ctx, ctypes.byref(s), ctypes.byref(offset))
        trainer = ctypes.c_void_p()
        status = L.dgm_trainer_create_json(model, ds, json.dumps(topts).encode(), c_callback,
                                           None, ctypes.byref(trainer))
        if status:
            raise make(status, _lib.text(L.dgm_last_error(ctx)))
        L.dgm_dataset_free(ds)  # the trainer needs it only until it is made
        ds = None
        status = L.dgm_trainer_run(trainer)
        if caught:
            raise caught[0]
        if status:
            raise make(status, _lib.text(L.dgm_last_error(ctx)))
        result = {"steps": int(L.dgm_trainer_steps(trainer)),
                  "stopped": bool(L.dgm_trainer_stopped(trainer)),
                  "loss": float(L.dgm_trainer_last_loss(trainer)),
                  "checkpoint": _lib.text(L.dgm_trainer_checkpoint_path(trainer)) or None}
        L.dgm_trainer_free(trainer)
        trainer = None
        m = Model(ctx, model, rng_offset=offset.value)
        m.train_result = result
        ctx = model = None  # the Model owns them now
        return m
    finally:
        if trainer:
            L.dgm_trainer_free(trainer)
        if ds:
            L.dgm_dataset_free(ds)
        if model:
            L.dgm_model_free(model)
        if ctx:
            L.dgm_ctx_free(ctx)




def dataset(spec, split="train", seed=0):
    """The samples of a --data name or path as a float32 array [n, *sample shape]: a toy
    ("moons": 100,000 training points, 10,000 test points drawn from another seed),
    "fashion-mnist" or "mnist" ([n, 28, 28] in [0, 1]), or an .npy, .csv or IDX file, as
    `dgm train --data` (split "train") and `dgm eval --data` (split "test") read it."""
    if not isinstance(spec, (str, os.PathLike)):
        raise InvalidArgument(f"spec={spec!r}: expected a data set name or a file name")
    if split not in ("train", "test"):
        raise InvalidArgument(f"split={split!r}: expected 'train' or 'test'")
    seed = _core.check_seed(seed)
    ctx = _core.new_ctx("cpu", seed)
    ds = ctypes.c_void_p()
    try:
        status = L.dgm_dataset_load(ctx, os.fsencode(os.fspath(spec)),
                                    _lib.SPLIT_TRAIN if split == "train" else _lib.SPLIT_TEST,
                                    seed, ctypes.byref(ds))
        if status:
            raise make(status, _lib.text(L.dgm_last_error(ctx)) or f"loading {spec} failed")
        n = L.dgm_dataset_count(ds)
        shape = (ctypes.c_int64 * 3)()
        nd = L.dgm_dataset_sample_shape(ds, shape)
        dim = L.dgm_dataset_dim(ds)
        flat = np.ctypeslib.as_array(L.dgm_dataset_data(ds), shape=(n, dim))
        return flat.reshape((n,) + tuple(shape[:nd])).copy()
    finally:
        L.dgm_dataset_free(ds)
        L.dgm_ctx_free(ctx)

"""Errors raise the class of their status with dgm's message; threads; the GIL; callbacks;
the ctypes structs against the C headers."""

import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

import dgm
from conftest import REPO


def test_hierarchy():
    for cls in (dgm.InvalidArgument, dgm.ShapeMismatch, dgm.WrongDevice, dgm.OutOfMemory,
                dgm.Unsupported, dgm.NoDevice, dgm.BackendError, dgm.FileError, dgm.BadFormat,
                dgm.NotFinite, dgm.StateError):
        assert issubclass(cls, dgm.Error) and cls.status_name.startswith("DGM_STATUS_")
    assert issubclass(dgm.InvalidArgument, ValueError) and issubclass(dgm.FileError, OSError)
    assert dgm.FileError.status_name == "DGM_STATUS_IO_ERROR"


def test_missing_and_corrupt_files(flow, tmp_path):
    missing = str(tmp_path / "nope.safetensors")
    with pytest.raises(dgm.FileError) as e:
        dgm.load(missing)
    assert missing in str(e.value) and e.value.status == 8
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"this is not a checkpoint at all" * 10)
    with pytest.raises(dgm.BadFormat) as e:
        dgm.load(str(garbage))
    assert str(garbage) in str(e.value)
    data = open(flow, "rb").read()
    cut = tmp_path / "truncated.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(dgm.BadFormat) as e:
        dgm.load(str(cut))
    assert str(cut) in str(e.value)
    with pytest.raises(dgm.InvalidArgument):
        dgm.load(None)


def test_bad_arguments(flow):
    m = dgm.load(flow, device="cpu")
    with pytest.raises(dgm.ShapeMismatch) as e:
        m.score(np.zeros((5, 3), np.float32))
    assert "3 values" in str(e.value) and "2" in str(e.value)
    with pytest.raises(dgm.ShapeMismatch):
        m.log_density(np.zeros(4))
    with pytest.raises(dgm.InvalidArgument) as e:
        m.score(np.array([["a", "b"]]))
    assert "dtype" in str(e.value)
    with pytest.raises(dgm.InvalidArgument):
        m.score(np.zeros((2, 2), np.complex64))
    with pytest.raises(dgm.InvalidArgument):
        m.score(np.zeros((0, 2)))
    with pytest.raises(dgm.InvalidArgument) as e:
        m.score(np.array([[0.0, 1.0], [np.nan, 0.0]]))
    assert "row 1" in str(e.value)
    for n in (0, -1, 2.5, True, "3"):
        with pytest.raises(dgm.InvalidArgument):
            m.sample(n)
    with pytest.raises(dgm.InvalidArgument):
        m.sample(3, seed=-1)
    with pytest.raises(dgm.InvalidArgument) as e:
        m.score(m.sample(10), "elbo")  # dgm's own message lists the metrics
    assert "nll" in str(e.value) and "bpd" in str(e.value)
    with pytest.raises(dgm.InvalidArgument):
        dgm.load(flow, device="tpu")
    if not dgm.cuda_available()[0]:
        with pytest.raises(dgm.NoDevice):
            dgm.load(flow, device="cuda")
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.load(flow, sampler="ddim")  # not a realnvp option
    assert "sampler" in str(e.value)


def test_train_errors(tmp_path):
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.train("nosuchkind", "moons", steps=1)
    assert "realnvp" in str(e.value)
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.train("vae", "moons", steps=1, no_such_option=3)
    assert "no-such-option" in str(e.value) and "kl-warmup" in str(e.value)
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.train("realnvp", "moons", steps=1, lr="fast")
    assert "lr" in str(e.value)
    with pytest.raises(dgm.InvalidArgument):
        dgm.train("realnvp", "moons", steps=10, epochs=1)
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.train("realnvp", "no-such-data-set", steps=1)
    assert "no-such-data-set" in str(e.value)
    with pytest.raises(dgm.InvalidArgument):
        dgm.train("realnvp", np.array([[0.0, np.inf]] * 10), steps=1)
    with pytest.raises(dgm.InvalidArgument):
        dgm.train("realnvp", np.zeros((10, 2, 2, 2, 2)), steps=1)
    with pytest.raises(dgm.InvalidArgument):
        dgm.train("realnvp", "moons", steps=1, resume=True)  # no out
    with pytest.raises(dgm.InvalidArgument):
        dgm.train("realnvp", "moons", steps=1, on_step=3)


def test_compare_errors():
    a = np.zeros((10, 2), np.float32)
    with pytest.raises(dgm.ShapeMismatch):
        dgm.compare(a, np.zeros((10, 3)))
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.compare(a, np.full((10, 2), np.nan))
    assert "row 0" in str(e.value)  # dgm's message names the set and row
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.compare(a, a, metric="nope")
    assert "w2" in str(e.value)
    with pytest.raises(dgm.InvalidArgument) as e:
        dgm.compare(np.zeros((10, 5)), np.ones((10, 5)), metric="kl")
    assert "1..3" in str(e.value)


def test_callback_stop_and_exception():
    seen = []

    def stop_at_30(p):
        seen.append(p)
        return p.step >= 30

    m = dgm.train("realnvp", "moons", steps=500, device="cpu", on_step=stop_at_30,
                  progress_every=10)
    assert [p.step for p in seen] == [10, 20, 30]
    assert seen[-1].total == 500 and np.isfinite(seen[-1].loss) and seen[-1].lr > 0
    assert m.train_result["stopped"] and m.train_result["steps"] == 30

    class Boom(Exception):
        pass

    def boom(p):
        raise Boom(f"at step {p.step}")

    with pytest.raises(Boom, match="at step 5"):
        dgm.train("realnvp", "moons", steps=500, device="cpu", on_step=boom, progress_every=5)


def test_resume_continues_exactly(tmp_path):
    full = dgm.train("realnvp", "moons", steps=80, out=str(tmp_path / "full"), device="cpu",
                     save_every=40)
    part = dgm.train("realnvp", "moons", steps=40, out=str(tmp_path / "part"), device="cpu")
    part.close()
    resumed = dgm.train("realnvp", "moons", steps=80, out=str(tmp_path / "part"), device="cpu",
                        resume=True)
    assert resumed.train_result["steps"] == 80
    assert resumed.sample(100, seed=0).tobytes() == full.sample(100, seed=0).tobytes()


def test_resume_takes_the_runs_seed(tmp_path):
    # a run of seed 7, resumed without a seed, shuffles the batches of seed 7
    full = dgm.train("realnvp", "moons", steps=30, out=str(tmp_path / "full"), device="cpu", seed=7)
    part = dgm.train("realnvp", "moons", steps=12, out=str(tmp_path / "part"), device="cpu", seed=7)
    part.close()
    with pytest.raises(dgm.InvalidArgument, match="seed 7"):
        dgm.train("realnvp", "moons", steps=30, out=str(tmp_path / "part"), device="cpu",
                  resume=True, seed=8)
    resumed = dgm.train("realnvp", "moons", steps=30, out=str(tmp_path / "part"), device="cpu",
                        resume=True)
    assert resumed.sample(100, seed=0).tobytes() == full.sample(100, seed=0).tobytes()


def test_two_threads_two_models(flow, gaussian_ckpt):
    n = 20000
    a, b = dgm.load(flow, device="cpu"), dgm.load(gaussian_ckpt, device="cpu")
    seq = [a.sample(n, seed=1), b.sample(n, seed=2), a.log_density(np.zeros((n, 2)))]
    out = [None, None, None]
    go = threading.Barrier(2)

    def run_a():
        go.wait()
        out[0] = a.sample(n, seed=1)
        out[2] = a.log_density(np.zeros((n, 2)))

    def run_b():
        go.wait()
        out[1] = b.sample(n, seed=2)

    ts = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for s, o in zip(seq, out):
        assert o.tobytes() == s.tobytes()


def test_one_model_two_threads_take_turns(flow):
    m = dgm.load(flow, device="cpu")
    results = []

    def work():
        results.append(m.score(m.sample(3000, seed=9)))

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1


def test_gil_is_released(flow):
    m = dgm.load(flow, device="cpu")
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.05)
        start = time.perf_counter()
        c0 = count[0]
        m.sample(200000, seed=0)  # one foreign call of a few tenths of a second
        c1 = count[0]
        took = time.perf_counter() - start
    finally:
        stop.set()
        t.join()
    assert took > 0.05
    # with the GIL held the counter could not move during the call
    assert c1 - c0 > 1000, (c1 - c0, took)


STRUCT_PROBE = r"""
#include <stddef.h>
#include <stdio.h>
#include "dgm/train.h"
#include "dgm/metrics.h"
#define P(s, f) printf(#s "." #f " %zu\n", offsetof(s, f))
int main(void)
{
    printf("dgm_ctx_config %zu\n", sizeof(dgm_ctx_config));
    printf("dgm_train_defaults %zu\n", sizeof(dgm_train_defaults));
    printf("dgm_train_progress %zu\n", sizeof(dgm_train_progress));
    printf("dgm_histogram_options %zu\n", sizeof(dgm_histogram_options));
    printf("dgm_divergences %zu\n", sizeof(dgm_divergences));
    P(dgm_train_defaults, optim); P(dgm_train_defaults, schedule); P(dgm_train_defaults, clip);
    P(dgm_train_defaults, save_every); P(dgm_train_progress, loss); P(dgm_train_progress, logged);
    return 0;
}
"""


def test_struct_layouts_match_headers(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    include = os.path.join(REPO, "include")
    if not cc or not os.path.exists(os.path.join(include, "dgm", "train.h")):
        pytest.skip("needs a C compiler and the source tree's include/")
    src = tmp_path / "probe.c"
    src.write_text(STRUCT_PROBE)
    exe = tmp_path / "probe"
    subprocess.run([cc, "-std=c11", "-I", include, str(src), "-o", str(exe)], check=True)
    got = dict(line.split() for line in subprocess.run([str(exe)], check=True, capture_output=True,
                                                       text=True).stdout.splitlines())
    from dgm import _lib
    import ctypes
    want = {"dgm_ctx_config": ctypes.sizeof(_lib.CtxConfig),
            "dgm_train_defaults": ctypes.sizeof(_lib.TrainDefaults),
            "dgm_train_progress": ctypes.sizeof(_lib.TrainProgress),
            "dgm_histogram_options": ctypes.sizeof(_lib.HistogramOptions),
            "dgm_divergences": ctypes.sizeof(_lib.Divergences)}
    for s, f in (("dgm_train_defaults", "optim"), ("dgm_train_defaults", "schedule"),
                 ("dgm_train_defaults", "clip"), ("dgm_train_defaults", "save_every"),
                 ("dgm_train_progress", "loss"), ("dgm_train_progress", "logged")):
        cls = _lib.TrainDefaults if s == "dgm_train_defaults" else _lib.TrainProgress
        want[f"{s}.{f}"] = getattr(cls, f).offset
    assert {k: int(v) for k, v in got.items()} == want

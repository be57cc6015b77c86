#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D RealNVP benchmark: `dgm train realnvp --data FILE` in PyTorch.

The model is dgm's default RealNVP for 2-D data (host/models/realnvp.c, host/nn/coupling.c):
8 affine couplings; coupling k conditions on column 0 when k is even, on column 1 when
odd, and maps the other column to y = x·exp(s) + t with [h_s, t] = MLP(conditioning
column), the MLP an nn.Sequential Linear(1,64) -> ReLU -> Linear(64,64) -> ReLU ->
Linear(64,2) (PyTorch's default initialization, the last Linear zeroed so that a fresh
flow is the identity), s = scale·tanh(h_s) with a learned per-column `scale` (starts at 1);
log|det| = Σ s. Base N(0, I); the loss is the batch's mean negative log-likelihood,
−log N(f(x); 0, I) − Σ_k log|det_k|, in nats per sample. No ActNorm (dgm uses it for images
only). Parameter names are dgm's (flow.<k>.net.{0,2,4}.{weight,bias}, flow.<k>.scale), so
a dgm checkpoint's tensors load with load_state_dict.

The loop is dgm train's: batches of 512 from the training file, a fresh permutation per
epoch and no drop_last (20,000 rows: 39 batches of 512 and one of 32), zero_grad
(set_to_none=True), loss.backward(), Adam lr 1e-3 betas (0.9, 0.999) eps 1e-8, the loss
read back (.item()) every 500 steps, as `dgm train` logs it. --adam auto (the default)
takes the implementation fastest on the CPU: fused where torch has a CPU one (2.4 and
later), else foreach (the multi-tensor path): the model has 56 small parameter tensors,
and the single-tensor loop's per-tensor overhead weighs on its step (in Debian's torch
1.13 on a loaded 2-core Zen, one Adam step alone took 2.2-2.5 ms with foreach=True and
3.1-3.4 ms with foreach=False, of a training step of 12-16 ms; torch 1.13's fused Adam is
CUDA-only).

  --data FILE.npy --test FILE.npy   float32 [N, 2] arrays (rows are samples)
  --steps N          training steps (default 15000); the test NLL is printed at the end
  --time-only N      no full run: time W windows (--windows, default 3) of N steps each
                     after --warmup steps (default 100), print seconds per 1,000 steps
                     (JSON "median_window": the median, the headline), then the test NLL
                     at that point if --test is given
  --threads T        torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: set it in the
                     environment; Debian's torch does its GEMMs in OpenBLAS)
  --eval-dgm CKPT    no training: load a dgm realnvp checkpoint (.safetensors, read with
                     numpy) into this model (load_state_dict, strict) and print its test
                     NLL on --test: it must equal `dgm eval CKPT --data TEST`'s "nll" (the
                     same model, to float rounding)

Output: progress lines and JSON lines (prefix "json: "): "window" per timed window of
1,000 steps (of N with --time-only); "median_window", the headline: seconds_per_1k_steps
the windows' median, with "median", "min", "max", "drift_ratio" (the last window's time
over the first's), "drift" (true beyond 1.10 either way) and "seconds_each" (every
window), as dgm's benchmarks report them; "best_window" (seconds_per_1k_steps the best,
the same fields); and "result" with the test NLL (nats per sample), the steps, s/1k steps
over the whole run and the median and best windows.
Run it with Debian's python (/usr/bin/python3, python3-torch, python3-numpy).
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn

from peer_common import Loader, StepTrainer, adam_kwargs, add_adam_arg, add_threads_arg, \
    report_windows, set_threads, timed_windows

BATCH = 512
LR = 1e-3
LOG_2PI = math.log(2.0 * math.pi)


class Coupling(nn.Module):
    """dgm_coupling for D = 2: one conditioning column, one transformed column."""

    def __init__(self, flip, hidden=(64, 64), dim=2):
        super().__init__()
        first = dim // 2
        self.cond = slice(first, dim) if flip else slice(0, first)
        self.other = slice(0, first) if flip else slice(first, dim)
        self.flip = flip
        n_cond = dim - first if flip else first
        n_other = dim - n_cond
        self.n_other = n_other
        layers, w = [], n_cond
        for h in hidden:
            layers += [nn.Linear(w, h), nn.ReLU()]
            w = h
        last = nn.Linear(w, 2 * n_other)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.net = nn.Sequential(*layers)
        self.scale = nn.Parameter(torch.ones(n_other))

    def forward(self, x):
        cond, other = x[:, self.cond], x[:, self.other]
        h = self.net(cond)
        s = self.scale * torch.tanh(h[:, :self.n_other])
        t = h[:, self.n_other:]
        y_other = other * torch.exp(s) + t
        y = torch.cat((y_other, cond) if self.flip else (cond, y_other), dim=1)
        return y, s.sum(dim=1)


class RealNVP2d(nn.Module):
    def __init__(self, couplings=8, hidden=(64, 64), dim=2):
        super().__init__()
        self.dim = dim
        self.flow = nn.ModuleList([Coupling(k % 2 == 1, hidden, dim) for k in range(couplings)])

    def nll(self, x):
        """−log p(x) per row, nats."""
        total = None
        for c in self.flow:
            x, ld = c(x)
            total = ld if total is None else total + ld
        return 0.5 * (x * x).sum(dim=1) + 0.5 * self.dim * LOG_2PI - total


def load_dgm_checkpoint(model, path):
    """A dgm checkpoint's parameters (safetensors: an 8-byte header length, a JSON header,
    the raw tensors) into model, strictly by name and shape."""
    import struct
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.get("__metadata__", {})
    if meta.get("model") != "realnvp":
        raise SystemExit("torch_realnvp2d.py: %s holds a %s model, not realnvp"
                         % (path, meta.get("model")))
    names = set(model.state_dict())
    state = {}
    for name, v in header.items():
        if name not in names:
            continue  # metadata, optimizer state
        if v["dtype"] != "F32":
            raise SystemExit("torch_realnvp2d.py: %s: %s is %s" % (path, name, v["dtype"]))
        a, b = v["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(v["shape"])
        state[name] = torch.from_numpy(arr.copy())
    model.load_state_dict(state, strict=True)
    return meta


def load(path):
    x = np.load(path)
    if x.ndim != 2 or x.shape[1] != 2:
        raise SystemExit("torch_realnvp2d.py: %s: expected an [N, 2] array, got %s"
                         % (path, x.shape))
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class Trainer(StepTrainer):
    prog = "torch_realnvp2d.py"

    def __init__(self, train, seed, adam="auto", batch=BATCH):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.loader = Loader(train, batch, gen)
        self.model = RealNVP2d()
        self.adam, kw = adam_kwargs(adam, "foreach", lr=LR, betas=(0.9, 0.999), eps=1e-8)
        self.opt = torch.optim.Adam(self.model.parameters(), **kw)

    def batch_loss(self, x):
        return self.model.nll(x).mean()

    def test_nll(self, x):
        """Mean −log p over the rows of x, nats (accumulated in double)."""
        with torch.no_grad():
            return float(torch.cat([self.model.nll(x[i:i + 4096]).double()
                                    for i in range(0, x.shape[0], 4096)]).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="training set, float32 [N, 2] .npy")
    ap.add_argument("--test", help="test set, float32 [N, 2] .npy")
    ap.add_argument("--steps", type=int, default=15000, help="training steps")
    ap.add_argument("--batch", type=int, default=BATCH, help="batch size (dgm's: 512)")
    add_threads_arg(ap)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-only", type=int, default=0, metavar="N",
                    help="time --windows windows of N steps instead of a full run")
    ap.add_argument("--windows", type=int, default=3, help="timed windows with --time-only")
    ap.add_argument("--warmup", type=int, default=100, help="untimed steps with --time-only")
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm realnvp checkpoint and print its test NLL (no training)")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()

    info = set_threads(args.threads, batch=args.batch)
    test = load(args.test) if args.test else None
    if args.eval_dgm:
        if test is None:
            raise SystemExit("torch_realnvp2d.py: --eval-dgm needs --test")
        t = Trainer(test, args.seed, "single", args.batch)
        meta = load_dgm_checkpoint(t.model, args.eval_dgm)
        nll = t.test_nll(test)
        print("dgm checkpoint %s (step %s) in the torch model: test NLL %.6f nats per sample"
              % (args.eval_dgm, meta.get("step"), nll))
        print("json: " + json.dumps(dict(bench="flow2d_torch", what="dgm_checkpoint",
                                         checkpoint=args.eval_dgm, step=meta.get("step"),
                                         test_nll=nll, **info)))
        return
    if not args.data:
        raise SystemExit("torch_realnvp2d.py: --data is required (but with --eval-dgm)")
    train = load(args.data)
    t = Trainer(train, args.seed, args.adam, args.batch)
    info["adam"] = t.adam
    info["train_rows"] = train.shape[0]

    def window(w, n, sec_per_k, loss):
        print("window %d: %.3f s per 1k steps (%d steps), loss %.4f at step %d"
              % (w, sec_per_k, n, loss, t.step), flush=True)
        print("json: " + json.dumps(dict(bench="flow2d_torch", what="window", window=w,
                                         seconds_per_1k_steps=sec_per_k, steps=n, loss=loss,
                                         at_step=t.step, **info)), flush=True)

    times = []
    if args.time_only > 0:
        t.run(args.warmup)
        times = timed_windows(t.run, args.time_only, args.windows,
                              lambda w, sec, loss: window(w, args.time_only, sec, loss))
        total_sec = None
    else:
        # The full run in windows of 1,000 steps (the last one shorter), clock stopped only
        # for the window's line.
        total_sec, done = 0.0, 0
        while done < args.steps:
            n = min(1000, args.steps - done)
            t0 = time.perf_counter()
            loss = t.run(n)
            sec = time.perf_counter() - t0
            total_sec += sec
            done += n
            times.append(sec * 1000.0 / n)
            window(len(times), n, times[-1], loss.item())
    sp = report_windows("flow2d_torch", "seconds_per_1k_steps", times, info, windows=len(times))
    median, best = sp.get("median"), sp.get("min")
    res = dict(bench="flow2d_torch", what="result", steps=t.step, median_window_s=median,
               best_window_s=best, data=os.path.basename(args.data), seed=args.seed, **info)
    if total_sec is not None:
        res["seconds_per_1k_steps"] = total_sec * 1000.0 / t.step
        res["seconds_total"] = total_sec
    if test is not None:
        nll = t.test_nll(test)
        res["test_nll"] = nll
        res["test_rows"] = test.shape[0]
        print("test NLL %.4f nats per sample (%d rows) after %d steps" % (nll, test.shape[0], t.step))
    if total_sec is not None:
        print("trained %d steps in %.1f s: %.3f s per 1k steps (median window %.3f, best %.3f)"
              % (t.step, total_sec, res["seconds_per_1k_steps"], median, best))
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

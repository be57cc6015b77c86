#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D MAF benchmark: `dgm train maf --data FILE` in PyTorch.

The model is ikostrikov/pytorch-flows' Masked Autoregressive Flow (Papamakarios et al. 2017)
as its main.py builds it for MOONS: 5 blocks of [MADE, BatchNormFlow, Reverse] in the
normalizing direction x -> u, base N(0, I), the loss the batch's mean negative
log-likelihood, 0.5 |u|^2 + log 2pi - sum log|det|, in nats per sample.
  MADE (pytorch-flows' MADE, mode direct): MaskedLinear(2, 64) -> ReLU -> MaskedLinear(64,
    64) -> ReLU -> MaskedLinear(64, 4), the masks pytorch-flows' get_mask gives (input
    degrees arange(D); hidden degrees arange(H) % (D - 1); output degrees arange(2D) % D - 1;
    a weight is kept where the out degree >= the in degree: for D = 2 every hidden unit
    sees x0 alone, m0 and a0 are biases, m1 and a1 functions of x0); [m, a] = the output's
    halves, u = (x - m) exp(-a), log|det| = -sum a. Its inverse (sampling) takes D passes:
    x = 0; for column i: [m, a] = net(x), x_i = u_i exp(a_i) + m_i.
  BatchNormFlow (pytorch-flows'): y = exp(log_gamma) (x - mean) / sqrt(var) + beta,
    log|det| = sum(log_gamma - 0.5 log var); training: the batch's mean and biased variance
    + eps (1e-5); evaluation: the running statistics. As pytorch-flows' main.py does, the
    running statistics are not averaged during training (its momentum is 0, then 1): before
    each evaluation (test NLL, sampling) one no-grad pass over the whole training set sets
    them to its mean and variance (+ eps). (This script skips pytorch-flows' per-step
    copies into the running buffers, which that pass overwrites anyway: a few tiny ops per
    step less for the peer.)
  Reverse: the columns' order flipped.
Initialization as pytorch-flows' main.py: every masked layer's weight nn.init.orthogonal_,
its bias zero; log_gamma, beta 0. --log-scale-bound B > 0 bounds the log-scale,
a = B tanh(a_raw / B) (dgm's bounded log-scale; default 0: unbounded, pytorch-flows').
Parameter names are dgm's (made.<k>.net.{0,2,4}.{weight,bias}, bn.<k>.{log_gamma, beta,
running_mean, running_var}; the masks are not saved), so a dgm checkpoint's tensors load
by name.

The loop is dgm train's: batches of 256 from the training file, a fresh permutation per
epoch and no drop_last (peer_common.Loader), zero_grad(set_to_none=True), backward, Adam lr
1e-3 betas (0.9, 0.999) eps 1e-8 weight_decay 1e-6 (torch.optim.Adam's L2 decay, added to
the gradient, as pytorch-flows'), the loss read back (.item()) every 500 steps. --adam auto
(the default): fused where torch has a CPU one (2.4 and later), else foreach.

  --data FILE.npy --test FILE.npy   float32 [N, 2] arrays (rows are samples)
  --steps N          training steps (default 20000); the test NLL is printed at the end
  --time-only N      no full run: time W windows (--windows, default 3) of N steps each
                     after --warmup steps (default 100), print seconds per 1,000 steps
                     (JSON "median_window": the median, the headline), then the test NLL
                     at that point if --test is given
  --threads T        torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: set it in the
                     environment; Debian's torch does its GEMMs in OpenBLAS)
  --samples N --samples-out FILE.npy   after training (or with --eval-dgm): N samples,
                     z ~ N(0, I) (generator seeded --seed + 1) through the inverses in
                     reverse order; the seconds they took (sampling alone) are printed
  --keep-denormals   compute in IEEE mode, subnormals included. By default the script calls
                     torch.set_flush_denormal(True) (flush-to-zero, denormals-are-zero), as
                     dgm's CPU backend flushes them in its calls: trained this way (Adam's L2
                     weight decay on the masked-out and dead weights, Adam's moments of
                     zero gradients) the model fills with subnormal weights and moments,
                     and without flushing OpenBLAS's products and Adam's update slow down
                     as training goes (Debian's torch 1.13, one thread, moons, 20,000
                     steps on a busy 2-core machine: 3.8 s per 1k steps in the first
                     window, 7.5-13 after it, 9.7 over the run, and 10,000 samples in 0.30
                     s; flushed, 3.2-3.7 in every window, 3.3 over the run, 0.03 s; the
                     test NLL the same, 1.061)
  --eval-dgm CKPT    no training: load a dgm maf checkpoint (.safetensors, read with numpy;
                     the architecture from its tensors, the log-scale bound from its
                     config's "log-scale-bound", default 10) and print its test NLL on
                     --test: it must equal `dgm eval CKPT --data TEST --metric nll`'s "nll"
                     (to float rounding). dgm's batch
                     norm keeps running averages (momentum 0.1) of the biased variance
                     without eps and evaluates with var = running_var + eps: this mode
                     uses that, and does not recompute the statistics from any training set

Output: progress lines and JSON lines (prefix "json: ", bench "maf2d_torch"): "window" per
timed window of 1,000 steps (of N with --time-only); "median_window", the headline:
seconds_per_1k_steps the windows' median, with "median", "min", "max", "drift_ratio",
"drift" and "seconds_each" as dgm's benchmarks report them; "best_window" (the best); and
"result" with the test NLL (nats per sample), the steps, s/1k steps over the whole run,
the median and best windows and, with --samples, sample_s; with --eval-dgm one
"dgm_checkpoint" line (test_nll, sample_s).
Run it with Debian's python (/usr/bin/python3, python3-torch, python3-numpy).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from peer_common import Loader, StepTrainer, adam_kwargs, add_adam_arg, add_run_args, \
    add_threads_arg, set_threads, train_in_windows

PROG = "torch_maf2d.py"
BENCH = "maf2d_torch"
BATCH = 256
LR = 1e-3
WEIGHT_DECAY = 1e-6
BN_EPS = 1e-5
BLOCKS = 5
HIDDEN = (64, 64)
DGM_LOG_SCALE_BOUND = 10.0
LOG_2PI = math.log(2.0 * math.pi)


def made_masks(dim, hidden):
    """pytorch-flows' get_mask for a MADE of widths dim -> hidden... -> 2 dim: one [out, in]
    float mask per layer. Degrees: the inputs arange(dim); a hidden layer's units
    arange(width) % (dim - 1); the outputs arange(2 dim) % dim - 1 (m and a alike); a weight
    is kept where the out degree >= the in degree."""
    deg_in = torch.arange(dim)
    masks = []
    for h in hidden:
        deg = torch.arange(h) % (dim - 1)
        masks.append((deg[:, None] >= deg_in[None, :]).float())
        deg_in = deg
    deg_out = torch.arange(2 * dim) % dim - 1
    masks.append((deg_out[:, None] >= deg_in[None, :]).float())
    return masks


class MaskedLinear(nn.Linear):
    """nn.Linear whose weight is multiplied by a fixed mask at every use (pytorch-flows'
    MaskedLinear); the mask is not part of the state dict."""

    def __init__(self, n_in, n_out, mask):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    def __init__(self, dim, hidden, log_scale_bound=0.0):
        super().__init__()
        self.dim = dim
        self.bound = float(log_scale_bound)
        masks = made_masks(dim, hidden)
        layers, w = [], dim
        for h, m in zip(list(hidden) + [2 * dim], masks):
            layers += [MaskedLinear(w, h, m), nn.ReLU()]
            w = h
        self.net = nn.Sequential(*layers[:-1])  # net.0, net.2, net.4: dgm's names

    def mean_logscale(self, x):
        m, a = self.net(x).chunk(2, 1)
        if self.bound > 0:
            a = self.bound * torch.tanh(a / self.bound)
        return m, a

    def forward(self, x):
        m, a = self.mean_logscale(x)
        return (x - m) * torch.exp(-a), -a.sum(1)

    def inverse(self, u):
        x = torch.zeros_like(u)
        for i in range(self.dim):
            m, a = self.mean_logscale(x)
            x[:, i] = u[:, i] * torch.exp(a[:, i]) + m[:, i]
        return x


class BatchNormFlow(nn.Module):
    """pytorch-flows' BatchNormFlow. running_var holds the variance as used (eps included):
    set_stats fills it from a full pass, or load_dgm_checkpoint from dgm's (+ eps)."""

    def __init__(self, dim, eps=BN_EPS):
        super().__init__()
        self.eps = eps
        self.log_gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.record = False

    def forward(self, x):
        if self.training:
            mean = x.mean(0)
            d = x - mean
            var = (d * d).mean(0) + self.eps
            if self.record:
                self.running_mean.copy_(mean.detach())
                self.running_var.copy_(var.detach())
        else:
            mean, var = self.running_mean, self.running_var
            d = x - mean
        y = torch.exp(self.log_gamma) * d / var.sqrt() + self.beta
        return y, (self.log_gamma - 0.5 * torch.log(var)).sum()

    def inverse(self, y):
        """Evaluation mode only (the running statistics)."""
        x_hat = (y - self.beta) / torch.exp(self.log_gamma)
        return x_hat * self.running_var.sqrt() + self.running_mean


class MAF(nn.Module):
    def __init__(self, dim=2, blocks=BLOCKS, hidden=HIDDEN, log_scale_bound=0.0, eps=BN_EPS,
                 batch_norm=True):
        super().__init__()
        self.dim = dim
        self.made = nn.ModuleList([MADE(dim, hidden, log_scale_bound) for _ in range(blocks)])
        self.bn = nn.ModuleList([BatchNormFlow(dim, eps) for _ in range(blocks)]
                                if batch_norm else [])
        for mod in self.modules():  # pytorch-flows' main.py
            if isinstance(mod, nn.Linear):
                nn.init.orthogonal_(mod.weight)
                nn.init.zeros_(mod.bias)

    def forward(self, x):
        """x -> (u, log|det| per row)."""
        total = 0.0
        for k, made in enumerate(self.made):
            x, ld = made(x)
            total = total + ld
            if self.bn:
                x, ld = self.bn[k](x)
                total = total + ld
            x = x.flip(1)
        return x, total

    def nll(self, x):
        """-log p(x) per row, nats."""
        u, ld = self(x)
        return 0.5 * (u * u).sum(1) + 0.5 * self.dim * LOG_2PI - ld

    @torch.no_grad()
    def set_stats(self, train):
        """pytorch-flows' step before an evaluation: the batch norms' running statistics
        from one no-grad pass (training mode, momentum 0) over the whole training set."""
        was = self.training
        self.train()
        for bn in self.bn:
            bn.record = True
        try:
            self(train)
        finally:
            for bn in self.bn:
                bn.record = False
            self.train(was)

    @torch.no_grad()
    def sample(self, n, generator=None):
        """n samples: z ~ N(0, I) through the blocks' inverses in reverse order (the
        model in evaluation mode: the running statistics)."""
        x = torch.randn(n, self.dim, generator=generator)
        for k in reversed(range(len(self.made))):
            x = x.flip(1)
            if self.bn:
                x = self.bn[k].inverse(x)
            x = self.made[k].inverse(x)
        return x


def read_safetensors(path):
    """(header dict, {name: float32 array}) of a safetensors file (an 8-byte header length,
    a JSON header, the raw tensors); only F32 tensors are read."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    arrays = {}
    for name, v in header.items():
        if name == "__metadata__" or not isinstance(v, dict) or v.get("dtype") != "F32":
            continue
        a, b = v["data_offsets"]
        arrays[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(v["shape"])
    return header, arrays


def dgm_config(meta):
    """The checkpoint's "config" metadata as a dict ({} when absent or not JSON)."""
    cfg = meta.get("config", {})
    if isinstance(cfg, str):
        try:
            cfg = json.loads(cfg)
        except ValueError:
            cfg = {}
    return cfg if isinstance(cfg, dict) else {}


def load_dgm_checkpoint(path):
    """A dgm maf checkpoint as a MAF in evaluation mode: blocks and widths from its tensors
    (made.<k>.net.<2j>.weight, unmasked: the masks are this script's), the log-scale bound
    from the config's "log-scale-bound" (host/models/maf.c's option; default 10), the batch
    norms' variance dgm's running_var + eps (eps: the config's "bn_eps", default 1e-5, as
    maf.c's BN_EPS). Optimizer state and other entries are ignored; options this model does
    not have (norm actnorm, order random, an activation but relu) are refused. Returns (the
    model, the metadata, the architecture)."""
    header, arrays = read_safetensors(path)
    meta = header.get("__metadata__", {}) or {}
    if meta.get("model") not in (None, "maf"):
        raise SystemExit("%s: %s holds a %s model, not maf" % (PROG, path, meta.get("model")))
    cfg = dgm_config(meta)
    blocks = 0
    while "made.%d.net.0.weight" % blocks in arrays:
        blocks += 1
    if blocks == 0:
        raise SystemExit("%s: %s has no made.0.net.0.weight" % (PROG, path))
    hidden, j = [], 0
    dim = arrays["made.0.net.0.weight"].shape[1]
    while "made.0.net.%d.weight" % (2 * j + 2) in arrays:
        hidden.append(arrays["made.0.net.%d.weight" % (2 * j)].shape[0])
        j += 1
    batch_norm = "bn.0.log_gamma" in arrays
    # dgm's options this model cannot follow (its defaults, "auto" and absent keys pass)
    for key, ok in (("norm", ("batch", "none")), ("order", ("auto", "natural")),
                    ("activation", ("relu",))):
        if str(cfg.get(key, ok[0])) not in ok:
            raise SystemExit("%s: %s: %s %s is not this script's model (it has %s)"
                             % (PROG, path, key, cfg[key], " or ".join(ok)))
    if cfg.get("norm") == "batch" and not batch_norm:
        raise SystemExit("%s: %s: norm batch but no bn.0.log_gamma" % (PROG, path))
    bound = DGM_LOG_SCALE_BOUND
    for key in ("log-scale-bound", "log_scale_bound"):
        if cfg.get(key) is not None:
            bound = float(cfg[key])
    eps = float(cfg.get("bn_eps", BN_EPS))
    for key, have in (("blocks", blocks), ("hidden", hidden)):
        want = cfg.get(key)
        if want is None:
            continue
        if key == "hidden":
            if want == "auto":
                continue
            want = [int(v) for v in (want.split(",") if isinstance(want, str)
                                     else want if isinstance(want, list) else [want])]
        if want != have:
            print("%s: warning: the config's %s is %s, the tensors give %s"
                  % (PROG, key, want, have), file=sys.stderr)
    model = MAF(dim, blocks, tuple(hidden), bound, eps, batch_norm)
    state = {}
    names = set(model.state_dict())
    for name in names:
        if name not in arrays:
            raise SystemExit("%s: %s has no %s" % (PROG, path, name))
        state[name] = torch.from_numpy(arrays[name].copy())
        if name.endswith("running_var"):
            state[name] = state[name] + torch.tensor(eps, dtype=torch.float32)
    model.load_state_dict(state, strict=True)
    model.eval()
    info = dict(blocks=blocks, hidden=hidden, log_scale_bound=bound, bn_eps=eps,
                batch_norm=batch_norm)
    return model, meta, info


def load(path):
    x = np.load(path)
    if x.ndim != 2 or x.shape[1] != 2:
        raise SystemExit("%s: %s: expected an [N, 2] array, got %s" % (PROG, path, x.shape))
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def test_nll(model, x):
    """Mean -log p over the rows of x in evaluation mode, nats (accumulated in double)."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(torch.cat([model.nll(x[i:i + 4096]).double()
                                    for i in range(0, x.shape[0], 4096)]).mean())
    finally:
        model.train(was)


def write_samples(model, n, path, seed):
    """n samples of model (evaluation mode) to path; returns the seconds the sampling took
    (the sampling alone: not the file)."""
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    x = model.sample(n, gen)
    sec = time.perf_counter() - t0
    model.train(was)
    x = x.numpy().astype(np.float32)
    if not np.isfinite(x).all():
        raise SystemExit("%s: non-finite samples" % PROG)
    np.save(path, x)
    print("sampled %d rows to %s in %.3f s" % (n, path, sec), flush=True)
    return sec


class Trainer(StepTrainer):
    prog = PROG

    def __init__(self, train, seed, adam="auto", batch=BATCH, log_scale_bound=0.0):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.train_x = train
        self.loader = Loader(train, batch, gen)
        self.model = MAF(log_scale_bound=log_scale_bound)
        self.model.train()
        self.adam, kw = adam_kwargs(adam, "foreach", lr=LR, betas=(0.9, 0.999), eps=1e-8,
                                    weight_decay=WEIGHT_DECAY)
        self.opt = torch.optim.Adam(self.model.parameters(), **kw)

    def batch_loss(self, x):
        return self.model.nll(x).mean()

    def evaluate(self, x):
        self.model.set_stats(self.train_x)
        return test_nll(self.model, x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="training set, float32 [N, 2] .npy")
    ap.add_argument("--test", help="test set, float32 [N, 2] .npy")
    ap.add_argument("--steps", type=int, default=20000, help="training steps")
    ap.add_argument("--batch", type=int, default=BATCH, help="batch size (dgm's: 256)")
    ap.add_argument("--log-scale-bound", type=float, default=0.0, metavar="B",
                    help="a = B tanh(a_raw / B) when B > 0 (dgm's: 5); default 0, unbounded")
    ap.add_argument("--samples", type=int, default=0, metavar="N",
                    help="after training (or with --eval-dgm): N samples to --samples-out")
    ap.add_argument("--samples-out", metavar="FILE.npy", help="where --samples go")
    add_threads_arg(ap)
    add_run_args(ap)
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm maf checkpoint and print its test NLL (no training)")
    ap.add_argument("--keep-denormals", action="store_true",
                    help="compute with IEEE subnormals (default: torch.set_flush_denormal(True), "
                         "as dgm flushes them)")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()
    if args.samples > 0 and not args.samples_out:
        raise SystemExit("%s: --samples needs --samples-out" % PROG)

    info = set_threads(args.threads, batch=args.batch)
    # dgm's CPU backend flushes subnormals (FTZ/DAZ) in its calls; this is torch's switch for
    # the same (see the docstring: without it this model's step slows down as it trains)
    info["flush_denormal"] = (not args.keep_denormals) and torch.set_flush_denormal(True)
    test = load(args.test) if args.test else None
    if args.eval_dgm:
        if test is None and args.samples <= 0:
            raise SystemExit("%s: --eval-dgm needs --test (or --samples)" % PROG)
        model, meta, arch = load_dgm_checkpoint(args.eval_dgm)
        rec = dict(bench=BENCH, what="dgm_checkpoint", checkpoint=args.eval_dgm,
                   step=meta.get("step"), **arch)
        if test is not None:
            rec["test_nll"] = nll = test_nll(model, test)
            rec["test_rows"] = test.shape[0]
            print("dgm checkpoint %s (step %s; %d blocks, hidden %s, log-scale bound %g) in "
                  "the torch model: test NLL %.6f nats per sample"
                  % (args.eval_dgm, meta.get("step"), arch["blocks"], arch["hidden"],
                     arch["log_scale_bound"], nll))
        if args.samples > 0:
            rec["sample_s"] = write_samples(model, args.samples, args.samples_out, args.seed + 1)
            rec["samples"] = args.samples
        rec.update(info)
        print("json: " + json.dumps(rec))
        return
    if not args.data:
        raise SystemExit("%s: --data is required (but with --eval-dgm)" % PROG)
    train = load(args.data)
    t = Trainer(train, args.seed, args.adam, args.batch, args.log_scale_bound)
    info["adam"] = t.adam
    info["train_rows"] = train.shape[0]
    info["log_scale_bound"] = args.log_scale_bound

    times, sp, total_sec = train_in_windows(t, args, BENCH, info)
    median, best = sp.get("median"), sp.get("min")
    res = dict(bench=BENCH, what="result", steps=t.step, median_window_s=median,
               best_window_s=best, data=os.path.basename(args.data), seed=args.seed, **info)
    if total_sec is not None:
        res["seconds_per_1k_steps"] = total_sec * 1000.0 / t.step
        res["seconds_total"] = total_sec
    if test is not None:
        nll = t.evaluate(test)
        res["test_nll"] = nll
        res["test_rows"] = test.shape[0]
        print("test NLL %.4f nats per sample (%d rows) after %d steps"
              % (nll, test.shape[0], t.step))
    if total_sec is not None:
        print("trained %d steps in %.1f s: %.3f s per 1k steps (median window %.3f, best %.3f)"
              % (t.step, total_sec, res["seconds_per_1k_steps"], median, best))
    if args.samples > 0:
        if test is None:
            t.model.set_stats(train)
        res["sample_s"] = write_samples(t.model, args.samples, args.samples_out, args.seed + 1)
        res["samples"] = args.samples
        res["samples_out"] = args.samples_out
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

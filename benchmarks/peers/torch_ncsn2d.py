#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D NCSN: `dgm train ncsn --data FILE` in PyTorch.

The network is an nn.Sequential "net": Linear(3, 128) -> SiLU -> Linear(128, 128) -> SiLU
-> Linear(128, 128) -> SiLU -> Linear(128, 2) (net.0, net.2, net.4, net.6; PyTorch's
default initialization) of concat[x, log σ]; the score s(x, σ) = net([x, log σ])/σ.

σ ladder: L = 10 levels, σ_i = σ₁·(σ_L/σ₁)^((i − 1)/(L − 1)) (float64, used in float32),
σ_L = 0.01, σ₁ = the largest pairwise Euclidean distance among the first min(N, 2000)
training rows (float64).

Training (denoising score matching): batch 256 (dgm's loader, peer_common.Loader: a fresh
permutation per epoch, no drop_last), a level uniform per row, z ~ N(0, I), x̃ = x + σ·z,
loss = the mean over rows of ½·Σ_d (net([x̃, log σ]) + z)² (= ½·σ²·|s − (−z/σ)|²); Adam lr
1e-3, betas (0.9, 0.999), eps 1e-8; 60,000 steps; an EMA of the parameters, ema = d_k·ema +
(1 − d_k)·w after optimizer step k = 1, 2, ..., d_k = min(0.999, (1 + k)/(10 + k)) (in
float32, dgm's warm-up, as torch_diffusion2d.py), starting at the initial weights. The
loss is read back every 500 steps (peer_common.StepTrainer).

Sampler (annealed Langevin dynamics, from the EMA weights): x uniform on the box (per
coordinate [min − 0.25·(max − min), max + 0.25·(max − min)] of the training data), for each
level i = 1..L: α_i = ε·σ_i²/σ_L², T steps of x ← x + α_i·s(x, σ_i) + √(2α_i)·z, z ~ N(0, I);
then one denoising step x ← x + σ_L²·s(x, σ_L). No clamping. ε = --eps (default 1e-5),
T = --sample-steps (default 100).

  --data FILE.npy    training set, float32 [N, 2]
  --steps N          training steps (default 60000)
  --samples FILE.npy after training, write --n (default 2000) samples there
  --eps E            the sampler's step size ε (default 1e-5)
  --sample-steps T   Langevin steps per level (default 100)
  --weights ema|raw  sample from the EMA (default) or the raw weights
  --time-only N      no full run: time --windows windows (default 3) of N steps after
                     --warmup steps (default 100), print seconds per 1,000 steps
                     (JSON "median_window": the median, the headline)
  --threads T        torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: in the environment)
  --save FILE.pt     after training, save {"net": state_dict, "ema": state_dict} there
  --eval-dgm CKPT    no training: load a dgm ncsn checkpoint (net.* and ema.net.*, strict;
                     or a state this script saved with --save, a .pt file) and write --n
                     samples with this sampler to --samples (--data: the box and σ₁)

Output: progress lines and JSON lines (prefix "json: "): "window", "median_window",
"best_window" (as torch_diffusion2d.py) and "result" (steps, s/1k steps over the whole
run, the last loss, sigma_1, the box). Run it with Debian's python (/usr/bin/python3).
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn

from peer_common import add_run_args, Loader, StepTrainer, adam_kwargs, add_adam_arg, add_threads_arg, train_in_windows, \
    set_threads

PROG = "torch_ncsn2d.py"
STEPS = 60000
BATCH = 256
LR = 1e-3
LEVELS = 10
SIGMA_MIN = 0.01
SIGMA_ROWS = 2000
MARGIN = 0.25
EMA = 0.999


def score_net(hidden=128):
    return nn.Sequential(nn.Linear(3, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2))


def sigma_max(train, rows=SIGMA_ROWS):
    """The largest pairwise Euclidean distance among the first min(N, rows) rows (float64)."""
    x = train[:rows].double().numpy()
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return float(math.sqrt(d2.max()))


def box_of(train):
    x = train.double().numpy()
    mn, mx = x.min(axis=0), x.max(axis=0)
    return mn - MARGIN * (mx - mn), mx + MARGIN * (mx - mn)


class NCSN(nn.Module):
    def __init__(self, sigma1, lo, hi, levels=LEVELS, sigma_min=SIGMA_MIN, decay=EMA):
        super().__init__()
        self.net = score_net()
        self.ema = copy.deepcopy(self.net)
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.sig64 = np.array([sigma1 * (sigma_min / sigma1) ** (i / (levels - 1))
                               for i in range(levels)], dtype=np.float64)
        self.sigmas = torch.from_numpy(self.sig64).float()
        self.log_sigmas = torch.from_numpy(np.log(self.sig64)).float()
        self.lo64, self.hi64 = lo, hi
        self.lo = torch.from_numpy(lo).float()
        self.hi = torch.from_numpy(hi).float()

    def loss(self, x):
        b = x.shape[0]
        k = torch.randint(0, len(self.sig64), (b,))
        z = torch.randn_like(x)
        xt = x + self.sigmas[k][:, None] * z
        out = self.net(torch.cat([xt, self.log_sigmas[k][:, None]], dim=1))
        return 0.5 * (out + z).pow(2).sum(dim=1).mean()

    @torch.no_grad()
    def after_step(self, step):
        warm = float(np.float32(1.0 + step) / np.float32(10.0 + step))
        d = min(float(np.float32(self.decay)), warm)
        for e, w in zip(self.ema.parameters(), self.net.parameters()):
            e.mul_(d).add_(w, alpha=1.0 - d)

    def score(self, net, x, i):
        ls = torch.full((x.shape[0], 1), float(self.log_sigmas[i]))
        return net(torch.cat([x, ls], dim=1)) / float(self.sigmas[i])

    @torch.no_grad()
    def sample(self, n, eps, steps, weights="ema"):
        net = self.ema if weights == "ema" else self.net
        x = self.lo + (self.hi - self.lo) * torch.rand(n, 2)
        s_l2 = self.sig64[-1] ** 2
        for i in range(len(self.sig64)):
            a = eps * self.sig64[i] ** 2 / s_l2
            noise = math.sqrt(2.0 * a)
            for _ in range(steps):
                x = x + a * self.score(net, x, i) + noise * torch.randn_like(x)
        return x + s_l2 * self.score(net, x, len(self.sig64) - 1)


def load(path):
    x = np.load(path)
    if x.ndim != 2 or x.shape[1] != 2:
        raise SystemExit("%s: %s: expected an [N, 2] array, got %s" % (PROG, path, x.shape))
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def make_model(train):
    lo, hi = box_of(train)
    return NCSN(sigma_max(train), lo, hi)


class Trainer(StepTrainer):
    prog = PROG

    def __init__(self, train, seed, adam, batch=BATCH):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.loader = Loader(train, batch, gen)
        self.model = make_model(train)
        self.adam, kw = adam_kwargs(adam, "foreach", lr=LR, betas=(0.9, 0.999), eps=1e-8)
        self.opt = torch.optim.Adam(self.model.net.parameters(), **kw)

    def batch_loss(self, x):
        return self.model.loss(x)

    def after_step(self):
        self.model.after_step(self.step)


def write_samples(model, args):
    torch.manual_seed(args.seed + 1)
    t0 = time.perf_counter()
    x = model.sample(args.n, args.eps, args.sample_steps, args.weights).numpy().astype(np.float32)
    sec = time.perf_counter() - t0
    if not np.isfinite(x).all():
        raise SystemExit("%s: non-finite samples" % PROG)
    np.save(args.samples, x)
    print("wrote %d samples to %s (%s weights, %d levels x %d steps, eps %g; %.1f s)"
          % (args.n, args.samples, args.weights, len(model.sig64), args.sample_steps, args.eps,
             sec))
    return sec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="training set, float32 [N, 2] .npy")
    ap.add_argument("--steps", type=int, default=STEPS, help="training steps")
    ap.add_argument("--samples", help="write --n samples here (.npy)")
    ap.add_argument("-n", "--n", type=int, default=2000, help="samples to write")
    ap.add_argument("--eps", type=float, default=1e-5, help="annealed Langevin step size")
    ap.add_argument("--sample-steps", type=int, default=100, help="Langevin steps per level")
    ap.add_argument("--weights", choices=("ema", "raw"), default="ema",
                    help="sample from the EMA (default) or the raw weights")
    add_threads_arg(ap)
    add_run_args(ap)
    ap.add_argument("--save", metavar="FILE", help="save net and EMA state_dicts after training")
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm ncsn checkpoint (or a --save .pt) and sample it")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()
    bench = "ncsn2d_torch"
    train = load(args.data)
    info = set_threads(args.threads, batch=BATCH, model="ncsn",
                       data=os.path.basename(args.data), seed=args.seed)
    info["train_rows"] = train.shape[0]

    if args.eval_dgm:
        if not args.samples:
            raise SystemExit("%s: --eval-dgm needs --samples" % PROG)
        if args.eval_dgm.endswith(".pt"):
            saved = torch.load(args.eval_dgm)
            meta, net, ema = {}, saved["net"], saved["ema"]
        else:
            from torch_diffusion2d import read_safetensors
            meta, tensors = read_safetensors(args.eval_dgm)
            net = {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}
            ema = {k[len("ema.net."):]: v for k, v in tensors.items()
                   if k.startswith("ema.net.")}
        torch.manual_seed(args.seed)
        model = make_model(train)
        model.net.load_state_dict(net, strict=True)
        model.ema.load_state_dict(ema if ema else net, strict=True)
        if not ema:
            print("%s: %s has no ema.* tensors: sampling its weights" % (PROG, args.eval_dgm))
        sec = write_samples(model, args)
        print("json: " + json.dumps(dict(bench=bench, what="dgm_checkpoint",
                                         checkpoint=args.eval_dgm, step=meta.get("step"),
                                         samples=args.samples, sample_s=sec, has_ema=bool(ema),
                                         **info)))
        return

    t = Trainer(train, args.seed, args.adam)
    info["adam"] = t.adam
    m = t.model
    print("sigma_1 %.5f .. sigma_L %.5f (%d levels); box [%.4f, %.4f] x [%.4f, %.4f]; %d rows"
          % (m.sig64[0], m.sig64[-1], len(m.sig64), m.lo64[0], m.hi64[0], m.lo64[1], m.hi64[1],
             train.shape[0]), flush=True)

    times, sp, total_sec = train_in_windows(t, args, bench, info)
    res = dict(bench=bench, what="result", steps=t.step, median_window_s=sp.get("median"),
               best_window_s=sp.get("min"), sigma_1=m.sig64[0], sigmas=list(m.sig64),
               box=[list(m.lo64), list(m.hi64)], **info)
    if total_sec is not None:
        res.update(seconds_per_1k_steps=total_sec * 1000.0 / t.step, seconds_total=total_sec,
                   last_loss=t.loss)
        print("trained %d steps in %.1f s: %.3f s per 1k steps (median window %.3f, best %.3f)"
              % (t.step, total_sec, res["seconds_per_1k_steps"], sp["median"], sp["min"]))
        if args.save:
            torch.save({"net": m.net.state_dict(), "ema": m.ema.state_dict()}, args.save)
        if args.samples:
            res["sample_s"] = write_samples(m, args)
            res["samples"] = args.samples
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D diffusion benchmark: `dgm train ddpm|fm --data FILE` in PyTorch.

--model ddpm (host/models/ddpm.c, time_net.c, nn/time_embedding.c): T = 1000 steps, β_t
linear from 1e-4 to 0.02 (in double), ᾱ_t = Π(1 − β_s). The noise network is an
nn.Sequential "net": Linear(2 + 128, 128) -> GELU -> Linear(128, 128) -> GELU ->
Linear(128, 128) -> GELU -> Linear(128, 2) (GELU exact, with erf; PyTorch's default
initialization) of concat[x_t, emb(t)], emb the sinusoidal embedding of the integer step t
(include/dgm/nn.h): half = 64 frequencies f_i = exp(−ln(10000)·i/(half − 1)) (double, then
float32), arguments t·f_i in float32, [sin .. , cos ..]. Training: t = ⌊u·T⌋ (u ~ U(0, 1),
clipped to T − 1), ε ~ N(0, I), x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε (coefficients float32 of the
double tables), loss MSE(ε̂, ε) (mean over all values); AdamW lr 1e-3 betas (0.9, 0.999)
eps 1e-8 weight decay 0.01, batch 256, 30,000 steps; an EMA of the parameters, ema = d_k·ema
+ (1 − d_k)·w after optimizer step k = 1, 2, ..., d_k = min(0.999, (1 + k)/(10 + k)) (dgm's
warm-up, host/models/ema_weights.c), starting at the initial weights; it samples. Sampler: ancestral over all T steps from x ~ N(0, I), x_{t−1} = (x_t −
β_t/√(1 − ᾱ_t)·ε̂)/√α_t + √β_t·z (no noise at the last step), no clipping.

--model fm (host/models/flow_matching.c): I-CFM, σ = 0.1: x_0 ~ N(0, I), x_1 = data,
t ~ U(0, 1) per row, x_t = x_0 + t·(x_1 − x_0) + σ·ε, target x_1 − x_0, loss MSE; the
velocity network "net": Linear(3, 64) -> SELU -> Linear(64, 64) -> SELU -> Linear(64, 64)
-> SELU -> Linear(64, 2) of concat[x_t, t]; Adam lr 1e-3, batch 256, 20,000 steps, no EMA.
Sampler: Euler, 100 steps from t = 0 to 1 (t_i = i·h).

Parameter names are dgm's (net.{0,2,4,6}.{weight,bias}; the EMA's ema.net.*), so a dgm
checkpoint loads (--eval-dgm). The loop is dgm train's (peer_common.Loader: a fresh
permutation per epoch, no drop_last), the loss read back every 500 steps.

  --model ddpm|fm
  --data FILE.npy    training set, float32 [N, 2]
  --steps N          training steps (default: the model's, 30000 / 20000)
  --samples FILE.npy after training, write --n (default 2000) samples there
  --time-only N      no full run: time --windows windows (default 3) of N steps after
                     --warmup steps (default 100), print seconds per 1,000 steps
                     (JSON "median_window": the median, the headline)
  --threads T        torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: in the environment)
  --eval-dgm CKPT    no training: load a dgm ddpm/fm checkpoint (.safetensors, read with
                     numpy) into this model (strict, EMA included) and write --n samples
                     from it with this script's sampler to --samples: their W2 to the data
                     must match that of dgm's sampler on the same weights (the same model);
                     --weights raw: ddpm samples from the weights instead of the EMA

Output: progress lines and JSON lines (prefix "json: "): "window" per timed window;
"median_window", the headline: seconds_per_1k_steps the windows' median, with "median",
"min", "max", "drift_ratio" (the last window's time over the first's), "drift" (true
beyond 1.10 either way) and "seconds_each" (every window), as dgm's benchmarks report
them; "best_window" (seconds_per_1k_steps the best, the same fields); and "result" (steps,
s/1k steps over the whole run, the median and best windows, the last loss).
Run it with Debian's python (/usr/bin/python3, python3-torch, python3-numpy).
"""
import argparse
import copy
import json
import math
import os
import struct
import time

import numpy as np
import torch
from torch import nn

from peer_common import add_run_args, Loader, StepTrainer, adam_kwargs, add_adam_arg, add_threads_arg, \
    report_windows, set_threads, timed_windows

DEFAULTS = {  # dgm's 2-D training defaults per model
    "ddpm": dict(steps=30000, batch=256, lr=1e-3, weight_decay=0.01),
    "fm": dict(steps=20000, batch=256, lr=1e-3, weight_decay=0.0),
}


def mlp(widths, act):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class DDPM(nn.Module):
    def __init__(self, T=1000, emb=128, hidden=(128, 128, 128), dim=2, ema=0.999):
        super().__init__()
        self.T, self.emb_dim, self.dim, self.decay = T, emb, dim, ema
        self.net = mlp((dim + emb,) + tuple(hidden) + (dim,), lambda: nn.GELU())
        half = emb // 2
        step = math.log(10000.0) / (half - 1) if half > 1 else 0.0
        self.freqs = torch.tensor([math.exp(-step * i) for i in range(half)],
                                  dtype=torch.float64).float()
        beta = np.array([1e-4 + (0.02 - 1e-4) * t / (T - 1) if T > 1 else 1e-4
                         for t in range(T)], dtype=np.float64)
        self.beta = beta
        self.alpha_bar = np.cumprod(1.0 - beta)
        self.sqrt_ab = torch.from_numpy(np.sqrt(self.alpha_bar)).float()
        self.sqrt_1mab = torch.from_numpy(np.sqrt(1.0 - self.alpha_bar)).float()
        self.ema = copy.deepcopy(self.net) if ema > 0 else None
        if self.ema is not None:
            for p in self.ema.parameters():
                p.requires_grad_(False)

    def embed(self, t):
        """t: [B] float (step indices) -> [B, emb]."""
        args = t[:, None] * self.freqs[None, :]
        e = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
        if self.emb_dim % 2:
            e = torch.cat([e, torch.zeros(t.shape[0], 1)], dim=1)
        return e

    def eps(self, net, x, t):
        return net(torch.cat([x, self.embed(t)], dim=1))

    def loss(self, x0):
        b = x0.shape[0]
        u = torch.rand(b)
        k = (u * self.T).long().clamp(0, self.T - 1)
        eps = torch.randn_like(x0)
        xt = x0 * self.sqrt_ab[k][:, None] + eps * self.sqrt_1mab[k][:, None]
        return nn.functional.mse_loss(self.eps(self.net, xt, k.float()), eps)

    @torch.no_grad()
    def after_step(self, step):
        """After optimizer step `step` (1, 2, ...): dgm_ema_weights_decay's warm-up, in
        float32 as dgm computes it."""
        if self.ema is None:
            return
        warm = float(np.float32(1.0 + step) / np.float32(10.0 + step))
        d = min(float(np.float32(self.decay)), warm)
        for e, w in zip(self.ema.parameters(), self.net.parameters()):
            e.mul_(d).add_(w, alpha=1.0 - d)

    @torch.no_grad()
    def sample(self, n):
        net = self.ema if self.ema is not None else self.net
        x = torch.randn(n, self.dim)
        for t in range(self.T - 1, -1, -1):
            e = self.eps(net, x, torch.full((n,), float(t)))
            beta, ab = self.beta[t], self.alpha_bar[t]
            alpha = 1.0 - beta
            x = (1.0 / math.sqrt(alpha)) * x - (beta / (math.sqrt(1.0 - ab) * math.sqrt(alpha))) * e
            if t > 0:
                x = x + math.sqrt(beta) * torch.randn(n, self.dim)
        return x

    def dgm_state(self, tensors):
        """A dgm checkpoint's tensors -> (net's state, the EMA's)."""
        net = {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}
        ema = {k[len("ema.net."):]: v for k, v in tensors.items() if k.startswith("ema.net.")}
        return net, ema


class CFM(nn.Module):
    def __init__(self, hidden=(64, 64, 64), dim=2, sigma=0.1, steps=100):
        super().__init__()
        self.dim, self.sigma, self.steps = dim, sigma, steps
        self.net = mlp((dim + 1,) + tuple(hidden) + (dim,), lambda: nn.SELU())
        self.ema = None

    def loss(self, x1):
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0], 1)
        u = x1 - x0
        xt = x0 + u * t
        if self.sigma > 0:
            xt = xt + self.sigma * torch.randn_like(x1)
        return nn.functional.mse_loss(self.net(torch.cat([xt, t], dim=1)), u)

    def after_step(self, step):
        pass

    @torch.no_grad()
    def sample(self, n):
        x = torch.randn(n, self.dim)
        h = 1.0 / self.steps
        for i in range(self.steps):
            t = float(np.float32(h * i))
            x = x + float(np.float32(h)) * self.net(torch.cat([x, torch.full((n, 1), t)], dim=1))
        return x

    def dgm_state(self, tensors):
        return {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}, None


def read_safetensors(path):
    """(metadata, {name: tensor}) of a .safetensors file: an 8-byte header length, a JSON
    header, the raw tensors."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, v in header.items():
        if v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(v["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return meta, out


def load_dgm_checkpoint(model, kind, path, weights="ema"):
    """The checkpoint's tensors into model (strict); weights "raw": the EMA takes the
    weights instead of the file's average (as `dgm sample` samples today)."""
    meta, tensors = read_safetensors(path)
    if meta.get("model") != kind:
        raise SystemExit("torch_diffusion2d.py: %s holds a %s model, not %s"
                         % (path, meta.get("model"), kind))
    net, ema = model.dgm_state(tensors)
    model.net.load_state_dict(net, strict=True)
    if model.ema is not None:
        if not ema:
            raise SystemExit("torch_diffusion2d.py: %s has no ema.* tensors" % path)
        model.ema.load_state_dict(net if weights == "raw" else ema, strict=True)
    return meta


def make_model(kind):
    return DDPM() if kind == "ddpm" else CFM()


def load(path):
    x = np.load(path)
    if x.ndim != 2 or x.shape[1] != 2:
        raise SystemExit("torch_diffusion2d.py: %s: expected an [N, 2] array, got %s"
                         % (path, x.shape))
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class Trainer(StepTrainer):
    prog = "torch_diffusion2d.py"

    def __init__(self, kind, train, seed, adam, batch):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.loader = Loader(train, batch, gen)
        self.model = make_model(kind)
        d = DEFAULTS[kind]
        if kind == "ddpm":
            self.adam, kw = adam_kwargs(adam, "foreach", lr=d["lr"], betas=(0.9, 0.999),
                                        eps=1e-8, weight_decay=d["weight_decay"])
            self.opt = torch.optim.AdamW(self.model.net.parameters(), **kw)
        else:
            self.adam, kw = adam_kwargs(adam, "foreach", lr=d["lr"], betas=(0.9, 0.999),
                                        eps=1e-8)
            self.opt = torch.optim.Adam(self.model.net.parameters(), **kw)

    def batch_loss(self, x):
        return self.model.loss(x)

    def after_step(self):
        self.model.after_step(self.step)


def write_samples(model, n, path):
    t0 = time.perf_counter()
    x = model.sample(n).numpy().astype(np.float32)
    sec = time.perf_counter() - t0
    if not np.isfinite(x).all():
        raise SystemExit("torch_diffusion2d.py: non-finite samples")
    np.save(path, x)
    print("wrote %d samples to %s (%.1f s)" % (n, path, sec))
    return sec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=("ddpm", "fm"), required=True)
    ap.add_argument("--data", help="training set, float32 [N, 2] .npy")
    ap.add_argument("--steps", type=int, default=0, help="training steps (0: the model's)")
    ap.add_argument("--batch", type=int, default=256, help="batch size (dgm's: 256)")
    ap.add_argument("--samples", help="write --n samples here (.npy)")
    ap.add_argument("--n", type=int, default=2000, help="samples to write")
    add_threads_arg(ap)
    add_run_args(ap)
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm checkpoint and sample it with this sampler (no training)")
    ap.add_argument("--weights", choices=("ema", "raw"), default="ema",
                    help="with --eval-dgm: ddpm samples from the file's EMA (ema) or from "
                         "the weights (raw)")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()
    kind = args.model
    bench = "diffusion2d_torch_" + kind
    info = set_threads(args.threads, batch=args.batch, model=kind)

    if args.eval_dgm:
        if not args.samples:
            raise SystemExit("torch_diffusion2d.py: --eval-dgm needs --samples")
        torch.manual_seed(args.seed)
        model = make_model(kind)
        meta = load_dgm_checkpoint(model, kind, args.eval_dgm, args.weights)
        torch.manual_seed(args.seed + 1)
        sec = write_samples(model, args.n, args.samples)
        print("json: " + json.dumps(dict(bench=bench, what="dgm_checkpoint",
                                         checkpoint=args.eval_dgm, step=meta.get("step"),
                                         samples=args.samples, sample_s=sec,
                                         weights=args.weights, **info)))
        return
    if not args.data:
        raise SystemExit("torch_diffusion2d.py: --data is required (but with --eval-dgm)")
    train = load(args.data)
    steps = args.steps or DEFAULTS[kind]["steps"]
    t = Trainer(kind, train, args.seed, args.adam, args.batch)
    info["adam"] = t.adam
    info["train_rows"] = train.shape[0]

    def window(w, n, sec_per_k, loss):
        print("window %d: %.3f s per 1k steps (%d steps), loss %.4f at step %d"
              % (w, sec_per_k, n, loss, t.step), flush=True)
        print("json: " + json.dumps(dict(bench=bench, what="window", window=w,
                                         seconds_per_1k_steps=sec_per_k, steps=n, loss=loss,
                                         at_step=t.step, **info)), flush=True)

    times = []
    if args.time_only > 0:
        t.run(args.warmup)
        times = timed_windows(t.run, args.time_only, args.windows,
                              lambda w, sec, loss: window(w, args.time_only, sec, loss))
        total_sec = None
    else:
        total_sec, done, loss = 0.0, 0, None
        while done < steps:
            n = min(1000, steps - done)
            t0 = time.perf_counter()
            loss = t.run(n)
            sec = time.perf_counter() - t0
            total_sec += sec
            done += n
            times.append(sec * 1000.0 / n)
            window(len(times), n, times[-1], loss.item())
    sp = report_windows(bench, "seconds_per_1k_steps", times, info, windows=len(times))
    median, best = sp.get("median"), sp.get("min")
    res = dict(bench=bench, what="result", steps=t.step, median_window_s=median,
               best_window_s=best, data=os.path.basename(args.data), seed=args.seed, **info)
    if total_sec is not None:
        res["seconds_per_1k_steps"] = total_sec * 1000.0 / t.step
        res["seconds_total"] = total_sec
        res["last_loss"] = t.loss
        print("trained %d steps in %.1f s: %.3f s per 1k steps (median window %.3f, best %.3f)"
              % (t.step, total_sec, res["seconds_per_1k_steps"], median, best))
    if args.samples:
        torch.manual_seed(args.seed + 1)
        res["sample_s"] = write_samples(t.model, args.n, args.samples)
        res["samples"] = args.samples
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

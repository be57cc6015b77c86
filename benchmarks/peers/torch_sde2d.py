#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D score SDE: `dgm train sde --data FILE` in PyTorch.

Song et al. 2021 (yang-song/score_sde_pytorch), the VP SDE: β(t) = β₀ + t·(β₁ − β₀), β₀ = 0.1,
β₁ = 20, T = 1; log_mean_coeff(t) = −¼t²(β₁ − β₀) − ½tβ₀, the perturbation kernel
N(e^lmc·x, σ(t)²I), σ(t) = √(1 − e^(2·lmc)) (coefficients computed in float64, σ through
expm1, then used in float32); drift f = −½β(t)·x, diffusion g = √β(t); prior N(0, I).

The network is an nn.Sequential "net": Linear(2 + 32, 128) -> SiLU -> Linear(128, 128) ->
SiLU -> Linear(128, 128) -> SiLU -> Linear(128, 2) (net.0, net.2, net.4, net.6; PyTorch's
default initialization) of concat[x, emb(999·t)], emb the DDPM reference sinusoidal
embedding: half = 16 frequencies f_i = exp(−ln(10000)·i/(half − 1)) (double, then float32),
[sin(τf_0..τf_15), cos(τf_0..τf_15)], τ = 999·t in float32. It predicts the noise ε̂; the
score s(x, t) = −ε̂/σ(t).

Training (denoising score matching, λ = σ²): batch 256 (dgm's loader, peer_common.Loader),
t ~ U(1e-5, 1) per row, z ~ N(0, I), x_t = e^lmc·x + σ(t)·z, loss = the mean over rows of
½·Σ_d (ε̂ − z)²; Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8, the gradient's global norm
clipped to 1 (clip_grad_norm_ over every parameter); 60,000 steps; an EMA of the parameters
with dgm's warm-up, d_k = min(0.999, (1 + k)/(10 + k)) after optimizer step k, starting at
the initial weights (as torch_ncsn2d.py). Sampling and the NLL use the EMA weights.

Samplers (--sampler), from x ~ N(0, I):
  pc   score_sde's predictor-corrector: N = --sample-steps (default 1000) times t on
       linspace(1, 1e-3, N) (float32), b = linspace(β₀/N, β₁/N, N), i = ⌊t·(N − 1)⌋ (in
       float32, as score_sde's `(t * (sde.N - 1) / sde.T).long()`); per time first one
       Langevin corrector step (snr --snr, default 0.16): g = s(x, t), ξ ~ N(0, I),
       ε = (snr·mean‖ξ_row‖/mean‖g_row‖)²·2·(1 − b_i), x ← x + ε·g + √(2ε)·ξ; then the
       reverse-diffusion predictor: x̄ = x − ((√(1 − b_i) − 1)·x − b_i·s(x, t)),
       x ← x̄ + √b_i·z; the result is the last x̄ (the denoising step).
  ode  the probability-flow ODE dx/dt = −½β(t)·x − ½β(t)·s(x, t) from t = 1 to 1e-3 by
       scipy.integrate.solve_ivp (RK45, rtol = atol = 1e-5), the whole batch flattened into
       one system (float64 state, the network in float32); nfev reported.
NLL (--nll FILE): per point, the same ODE from t = 1e-5 to 1 on the state [x, Δ], dΔ/dt =
div(drift) computed exactly (one autograd pass per dimension), solve_ivp RK45 rtol = atol
= 1e-5, --nll-batch rows (default 1,000) per solve; log p(x) = log N(x(1); 0, I) + Δ(1); the
mean NLL in nats, the seconds the whole file took and the function evaluations.

  --data FILE.npy     training set, float32 [N, 2] (not needed with --eval-dgm)
  --steps N           training steps (default 60000)
  --samples FILE.npy  after training, write --n (default 2000) samples of --sampler there
  --sampler pc|ode    the sampler of --samples (default pc)
  --ode-samples FILE  also write --n samples of the ODE sampler there (pc in --samples and
                      ode here from one run; each sampler reseeded with --seed + 1)
  --sample-steps N    the PC sampler's steps (default 1000)
  --snr R             the corrector's signal-to-noise ratio (default 0.16)
  --nll FILE.npy      after training, the mean NLL of FILE's rows (float32 [M, 2]), timed
  --nll-batch B       rows per ODE solve of --nll (default 1000)
  --weights ema|raw   sample and evaluate the EMA (default) or the raw weights
  --time-only N       no full run: time --windows windows (default 3) of N steps after
                      --warmup steps (default 100), print seconds per 1,000 steps
                      (JSON "median_window": the median, the headline)
  --threads T         torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: in the environment)
  --seed S            training seed (default 0); the samplers draw from seed S + 1
  --save FILE.pt      after training, save {"net": state_dict, "ema": state_dict} there
  --eval-dgm CKPT     no training: load a dgm sde checkpoint (net.* and ema.net.*, strict;
                      or a state this script saved with --save, a .pt file) and run
                      --samples, --ode-samples and --nll on it

Output: progress lines and JSON lines (prefix "json: "): "window", "median_window",
"best_window" (as torch_ncsn2d.py) and "result" (steps, s/1k steps over the whole run, the
last loss, and per output: pc_s, ode_s, ode_nfev, nll, nll_s, nll_rows, nll_nfev); with
--eval-dgm "dgm_checkpoint" (the same output fields). Run it with Debian's python
(/usr/bin/python3, python3-torch, python3-numpy, python3-scipy).
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import nn

from peer_common import add_run_args, Loader, StepTrainer, adam_kwargs, add_adam_arg, add_threads_arg, train_in_windows, \
    set_threads
from torch_diffusion2d import DDPM, mlp, read_safetensors
from torch_ncsn2d import load

PROG = "torch_sde2d.py"
STEPS = 60000
BATCH = 256
LR = 1e-3
CLIP = 1.0
EMA = 0.999
EMB = 32
HIDDEN = 128
BETA_MIN, BETA_MAX = 0.1, 20.0
TRAIN_EPS = 1e-5  # the smallest training time and the NLL's start
SAMPLE_EPS = 1e-3  # where the samplers stop
TOL = 1e-5  # solve_ivp's rtol and atol
SNR = 0.16


class VPSDE(nn.Module):
    def __init__(self, decay=EMA):
        super().__init__()
        self.net = mlp((2 + EMB, HIDDEN, HIDDEN, HIDDEN, 2), nn.SiLU)
        self.ema = copy.deepcopy(self.net)
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay = decay
        half = EMB // 2
        step = math.log(10000.0) / (half - 1)
        self.freqs = torch.tensor([math.exp(-step * i) for i in range(half)],
                                  dtype=torch.float64).float()

    # dgm's EMA warm-up in float32 and its checkpoint names (net.*, ema.net.*), as ddpm's
    after_step = DDPM.after_step
    dgm_state = DDPM.dgm_state

    @staticmethod
    def coefficients(t):
        """t: [B] float32 -> (β(t), e^lmc, σ(t)), each [B] float32 (computed in float64)."""
        t = t.double()
        lmc = -0.25 * t ** 2 * (BETA_MAX - BETA_MIN) - 0.5 * t * BETA_MIN
        sigma = torch.sqrt(-torch.expm1(2.0 * lmc))
        return (BETA_MIN + t * (BETA_MAX - BETA_MIN)).float(), torch.exp(lmc).float(), sigma.float()

    def eps_hat(self, net, x, t):
        """The network's noise estimate at x [B, 2], times t [B] (float32)."""
        a = (999.0 * t)[:, None] * self.freqs[None, :]
        return net(torch.cat([x, torch.sin(a), torch.cos(a)], dim=1))

    def score(self, net, x, t):
        return -self.eps_hat(net, x, t) / self.coefficients(t)[2][:, None]

    def drift(self, net, x, t):
        """The probability-flow ODE's drift −½β(t)·(x + s(x, t)) at the scalar time t."""
        tt = torch.full((x.shape[0],), t, dtype=torch.float32)
        beta = self.coefficients(tt)[0][:, None]
        return -0.5 * beta * (x + self.score(net, x, tt))

    def loss(self, x):
        t = torch.rand(x.shape[0]) * (1.0 - TRAIN_EPS) + TRAIN_EPS
        _, mean, sigma = self.coefficients(t)
        z = torch.randn_like(x)
        xt = mean[:, None] * x + sigma[:, None] * z
        return 0.5 * (self.eps_hat(self.net, xt, t) - z).pow(2).sum(dim=1).mean()

    @torch.no_grad()
    def sample_pc(self, net, n, steps, snr=SNR):
        b = torch.linspace(BETA_MIN / steps, BETA_MAX / steps, steps)
        x = torch.randn(n, 2)
        x_mean = x
        for t in torch.linspace(1.0, SAMPLE_EPS, steps):
            i = int((t * (steps - 1)).long())
            tt = t.expand(n)
            # the Langevin corrector
            grad = self.score(net, x, tt)
            noise = torch.randn_like(x)
            ratio = snr * noise.norm(dim=1).mean() / grad.norm(dim=1).mean()
            eps = ratio * ratio * 2.0 * (1.0 - b[i])
            x = x + eps * grad + torch.sqrt(2.0 * eps) * noise
            # the reverse-diffusion predictor
            f, g = (torch.sqrt(1.0 - b[i]) - 1.0) * x, torch.sqrt(b[i])
            x_mean = x - (f - g * g * self.score(net, x, tt))
            x = x_mean + g * torch.randn_like(x)
        return x_mean, 2 * steps

    def sample_ode(self, net, n):
        x = torch.randn(n, 2)

        def f(t, y):
            with torch.no_grad():
                xs = torch.from_numpy(y.reshape(n, 2)).float()
                return self.drift(net, xs, t).double().numpy().ravel()

        sol = solve_ivp(f, (1.0, SAMPLE_EPS), x.double().numpy().ravel(), method="RK45",
                        rtol=TOL, atol=TOL)
        if not sol.success:
            raise SystemExit("%s: the ODE sampler failed: %s" % (PROG, sol.message))
        return torch.from_numpy(sol.y[:, -1].reshape(n, 2)).float(), sol.nfev

    def nll(self, net, x, batch):
        """Per-row −log p(x) by the probability-flow ODE from TRAIN_EPS to 1 with the exact
        divergence; returns (the NLLs, float64 [M], the function evaluations of all
        solves)."""
        out, nfev = [], 0
        for lo in range(0, x.shape[0], batch):
            xb = x[lo:lo + batch].double().numpy()
            m = xb.shape[0]

            def f(t, y):
                xs = torch.from_numpy(y[:2 * m].reshape(m, 2)).float().requires_grad_(True)
                with torch.enable_grad():
                    d = self.drift(net, xs, t)
                    div = sum(torch.autograd.grad(d[:, k].sum(), xs, retain_graph=k == 0)[0][:, k]
                              for k in range(2))
                return np.concatenate([d.detach().double().numpy().ravel(), div.double().numpy()])

            sol = solve_ivp(f, (TRAIN_EPS, 1.0), np.concatenate([xb.ravel(), np.zeros(m)]),
                            method="RK45", rtol=TOL, atol=TOL)
            if not sol.success:
                raise SystemExit("%s: the NLL's ODE failed: %s" % (PROG, sol.message))
            nfev += sol.nfev
            z, delta = sol.y[:2 * m, -1].reshape(m, 2), sol.y[2 * m:, -1]
            out.append(math.log(2.0 * math.pi) + 0.5 * (z ** 2).sum(axis=1) - delta)
        return np.concatenate(out), nfev


class Trainer(StepTrainer):
    prog = PROG

    def __init__(self, train, seed, adam, batch=BATCH):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.loader = Loader(train, batch, gen)
        self.model = VPSDE()
        self.adam, kw = adam_kwargs(adam, "foreach", lr=LR, betas=(0.9, 0.999), eps=1e-8)
        self.opt = torch.optim.Adam(self.model.net.parameters(), **kw)

    def batch_loss(self, x):
        return self.model.loss(x)

    def before_step(self):
        nn.utils.clip_grad_norm_(self.model.net.parameters(), CLIP)

    def after_step(self):
        self.model.after_step(self.step)


def write_samples(model, args, sampler, path):
    """--n samples of `sampler` to path; their fields for the JSON line."""
    net = model.ema if args.weights == "ema" else model.net
    torch.manual_seed(args.seed + 1)
    t0 = time.perf_counter()
    if sampler == "pc":
        x, nfev = model.sample_pc(net, args.n, args.sample_steps, args.snr)
    else:
        x, nfev = model.sample_ode(net, args.n)
    sec = time.perf_counter() - t0
    x = x.numpy().astype(np.float32)
    if not np.isfinite(x).all():
        raise SystemExit("%s: non-finite %s samples" % (PROG, sampler))
    np.save(path, x)
    what = ("%d steps, snr %g" % (args.sample_steps, args.snr) if sampler == "pc"
            else "RK45, rtol = atol = %g" % TOL)
    print("wrote %d %s samples to %s (%s weights, %s; %d network passes; %.1f s)"
          % (args.n, sampler, path, args.weights, what, nfev, sec), flush=True)
    return {sampler + "_samples": path, sampler + "_s": sec, sampler + "_nfev": nfev}


def outputs(model, args):
    """--samples, --ode-samples and --nll of a trained or loaded model: their JSON fields."""
    res = {}
    if args.samples:
        res.update(write_samples(model, args, args.sampler, args.samples))
        res.update(samples=args.samples, sample_s=res[args.sampler + "_s"])
    if args.ode_samples:
        res.update(write_samples(model, args, "ode", args.ode_samples))
    if args.nll:
        x = load(args.nll)
        net = model.ema if args.weights == "ema" else model.net
        t0 = time.perf_counter()
        nll, nfev = model.nll(net, x, args.nll_batch)
        sec = time.perf_counter() - t0
        if not np.isfinite(nll).all():
            raise SystemExit("%s: non-finite NLL" % PROG)
        print("NLL of %s: %.4f nats (mean of %d rows; %s weights, %d rows per solve, %d "
              "function evaluations in all; %.2f s, %.3f s per 1,000 rows)"
              % (args.nll, nll.mean(), len(nll), args.weights, args.nll_batch, nfev, sec,
                 sec * 1000.0 / len(nll)), flush=True)
        res.update(nll=float(nll.mean()), nll_s=sec, nll_rows=len(nll), nll_nfev=nfev,
                   nll_batch=args.nll_batch, nll_file=args.nll)
    return res


def load_checkpoint(model, path, weights):
    """A dgm checkpoint (.safetensors) or a --save state (.pt) into model, strict; returns
    its metadata."""
    if path.endswith(".pt"):
        saved = torch.load(path)
        meta, net, ema = {}, saved["net"], saved["ema"]
    else:
        meta, tensors = read_safetensors(path)
        if meta.get("model") not in (None, "sde"):
            print("%s: note: %s says its model is %s" % (PROG, path, meta.get("model")))
        net, ema = model.dgm_state(tensors)
    if not ema:
        raise SystemExit("%s: %s has no ema.* tensors" % (PROG, path))
    model.net.load_state_dict(net, strict=True)
    model.ema.load_state_dict(net if weights == "raw" else ema, strict=True)
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="training set, float32 [N, 2] .npy")
    ap.add_argument("--steps", type=int, default=STEPS, help="training steps")
    ap.add_argument("--samples", help="write --n samples of --sampler here (.npy)")
    ap.add_argument("--sampler", choices=("pc", "ode"), default="pc",
                    help="the sampler of --samples (default pc)")
    ap.add_argument("--ode-samples", metavar="FILE", help="also write --n ODE samples here")
    ap.add_argument("-n", "--n", type=int, default=2000, help="samples to write")
    ap.add_argument("--sample-steps", type=int, default=1000, help="the PC sampler's steps")
    ap.add_argument("--snr", type=float, default=SNR, help="the corrector's snr")
    ap.add_argument("--nll", metavar="FILE", help="the mean NLL of FILE's rows (.npy), timed")
    ap.add_argument("--nll-batch", type=int, default=1000, help="rows per ODE solve of --nll")
    ap.add_argument("--weights", choices=("ema", "raw"), default="ema",
                    help="sample and evaluate the EMA (default) or the raw weights")
    add_threads_arg(ap)
    add_run_args(ap)
    ap.add_argument("--save", metavar="FILE", help="save net and EMA state_dicts after training")
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm sde checkpoint (or a --save .pt) and sample / evaluate it")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()
    if args.sample_steps < 2 or args.nll_batch < 1 or args.n < 1:
        raise SystemExit("%s: --sample-steps needs 2 or more, --nll-batch and -n 1 or more"
                         % PROG)
    bench = "sde2d_torch"
    info = set_threads(args.threads, batch=BATCH, model="sde", seed=args.seed,
                       data=args.data and os.path.basename(args.data))

    if args.eval_dgm:
        if not (args.samples or args.ode_samples or args.nll):
            raise SystemExit("%s: --eval-dgm needs --samples, --ode-samples or --nll" % PROG)
        torch.manual_seed(args.seed)
        model = VPSDE()
        meta = load_checkpoint(model, args.eval_dgm, args.weights)
        res = outputs(model, args)
        print("json: " + json.dumps(dict(bench=bench, what="dgm_checkpoint",
                                         checkpoint=args.eval_dgm, step=meta.get("step"),
                                         weights=args.weights, **res, **info)))
        return
    if not args.data:
        raise SystemExit("%s: --data is required (but with --eval-dgm)" % PROG)
    train = load(args.data)
    info["train_rows"] = train.shape[0]
    t = Trainer(train, args.seed, args.adam)
    info["adam"] = t.adam
    print("VP SDE, beta %g..%g; t ~ U(%g, 1); %d training rows"
          % (BETA_MIN, BETA_MAX, TRAIN_EPS, train.shape[0]), flush=True)

    times, sp, total_sec = train_in_windows(t, args, bench, info)
    res = dict(bench=bench, what="result", steps=t.step, median_window_s=sp.get("median"),
               best_window_s=sp.get("min"), **info)
    if total_sec is not None:
        res.update(seconds_per_1k_steps=total_sec * 1000.0 / t.step, seconds_total=total_sec,
                   last_loss=t.loss)
        print("trained %d steps in %.1f s: %.3f s per 1k steps (median window %.3f, best %.3f)"
              % (t.step, total_sec, res["seconds_per_1k_steps"], sp["median"], sp["min"]))
        if args.save:
            torch.save({"net": t.model.net.state_dict(), "ema": t.model.ema.state_dict()},
                       args.save)
        res.update(outputs(t.model, args))
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D GAN benchmark: `dgm train gan --data grid25` in PyTorch.

The model is dgm's default GAN for 2-D data (host/models/gan.c), PacGAN's 2-D setup:
generator nn.Sequential Linear(2,400) -> BatchNorm1d(400) -> ReLU (x4) -> Linear(400,2);
discriminator nn.Sequential Linear(2,200) -> LeakyReLU(0.2) (x3) -> Linear(200,1); both
with PyTorch's default initialization, which dgm's layers use too, under the names dgm's
checkpoints use (generator.net.0.weight, ...). The non-saturating loss as BCE with logits:
D minimizes BCE(D(x), 1) + BCE(D(G(z)), 0) = mean softplus(-D(x)) + mean softplus(D(G(z))),
G minimizes BCE(D(G(z)), 1) = mean softplus(-D(G(z))). Per iteration, as dgm: one D step
on a fresh data batch of 100 and 100 fakes (the generator in train mode, no grad; D run
on the two batches separately), then one G step on 100 fresh z ~ N(0, I) (2-D), the
gradient flowing back through D, whose weight gradients are computed too (as dgm does; the
usual PyTorch GAN loop does the same; --freeze-d turns them off to show what they cost).
Adam lr 1e-4, betas (0.8, 0.999), one per player, zero_grad(set_to_none=True); --adam auto
(the default) takes the implementation that is fastest on the CPU: fused where torch has a
CPU one (2.4 and later), else the single-tensor loop (foreach=False): in torch 1.13,
Debian's, fused Adam is CUDA-only and foreach's CPU path (the generic fallback, which
allocates its intermediates) measured ~20 % slower per iteration here.
The loss is read back (.item()) every 500 iterations, as `dgm train` logs it.

The data are sampled as dgm's grid25 toy: 100,000 training samples, a mixture component
k uniform in 0..24 and (-4 + 2 (k mod 5), -4 + 2 floor(k / 5)) + 0.05 N(0, I) (torch's
generator, not dgm's: the same distribution, not the same numbers); batches are gathered
from the in-memory tensor with a fresh torch.randperm each epoch (1,000 batches), as dgm's
loader serves them.

  --iters N --windows W   time W windows of N iterations (default 3 of 1000) after 100
                          warm-up ones; prints seconds per 1,000 iterations (JSON lines:
                          "window" each, "median_window" their median, the headline, with
                          min, max, drift_ratio = last window / first, drift (beyond 1.10
                          either way) and seconds_each; "best_window" the best, same fields)
  --threads T             torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: set it in the
                          environment; Debian's torch does its GEMMs in OpenBLAS)
  --eval                  train the full 20,000 iterations from --seed, then print the mode
                          coverage of 2,500 samples (generator in eval mode) as dgm eval
                          reports it (host/metrics/mode_coverage.c): "modes" captured (of
                          25), "high_quality" share within 3 std (0.15) of the nearest
                          centre, "reverse_kl" of the captured modes' histogram to uniform

Run it with Debian's python (/usr/bin/python3, python3-torch).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from peer_common import Loader, adam_kwargs, add_adam_arg, add_threads_arg, report_windows, \
    set_threads, timed_windows

BATCH = 100
LOG_EVERY = 500
TRAIN_COUNT = 100000
GRID_STD = 0.05
TOTAL_ITERS = 20000  # dgm's default run for the gan (ns loss)
EVAL_SAMPLES = 2500


def grid25_centres():
    return torch.tensor([[-4.0 + 2.0 * (k % 5), -4.0 + 2.0 * (k // 5)] for k in range(25)],
                        dtype=torch.float64)


def grid25(n, generator):
    """n samples of dgm's grid25 toy (host/data/toy.c)."""
    k = torch.randint(0, 25, (n,), generator=generator)
    centres = grid25_centres().float()[k]
    return centres + GRID_STD * torch.randn(n, 2, generator=generator)


class Generator(nn.Module):
    def __init__(self, latent=2, hidden=(400, 400, 400, 400), out=2):
        super().__init__()
        layers, w = [], latent
        for h in hidden:
            layers += [nn.Linear(w, h), nn.BatchNorm1d(h), nn.ReLU()]
            w = h
        layers.append(nn.Linear(w, out))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, inp=2, hidden=(200, 200, 200)):
        super().__init__()
        layers, w = [], inp
        for h in hidden:
            layers += [nn.Linear(w, h), nn.LeakyReLU(0.2)]
            w = h
        layers.append(nn.Linear(w, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class GAN(nn.Module):
    """Both players under dgm's checkpoint names (generator.net.*, discriminator.net.*)."""

    def __init__(self):
        super().__init__()
        self.generator = Generator()
        self.discriminator = Discriminator()


class Trainer:
    def __init__(self, seed, adam="auto", freeze_d=False):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        # dgm's loader (100,000 / 100 leaves no partial batch)
        self.loader = Loader(grid25(TRAIN_COUNT, gen), BATCH, gen)
        self.model = GAN()
        self.g, self.d = self.model.generator, self.model.discriminator
        self.adam, kw = adam_kwargs(adam, "single", lr=1e-4, betas=(0.8, 0.999))
        self.d_opt = torch.optim.Adam(self.d.parameters(), **kw)
        self.g_opt = torch.optim.Adam(self.g.parameters(), **kw)
        self.freeze_d = freeze_d
        self.step = 0
        self.loss = float("nan")
        self.model.train()

    def iteration(self):
        g, d = self.g, self.d
        # D step: a data batch and as many fakes (G in train mode, no grad).
        real = self.loader.next()
        with torch.no_grad():
            fake = g(torch.randn(real.shape[0], 2))
        vr, vf = d(real), d(fake)
        d_loss = (F.binary_cross_entropy_with_logits(vr, torch.ones_like(vr)) +
                  F.binary_cross_entropy_with_logits(vf, torch.zeros_like(vf)))
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()
        # G step: fresh z, the gradient through D into G.
        if self.freeze_d:
            for p in d.parameters():
                p.requires_grad_(False)
        vf = d(g(torch.randn(BATCH, 2)))
        g_loss = F.binary_cross_entropy_with_logits(vf, torch.ones_like(vf))
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        if self.freeze_d:
            for p in d.parameters():
                p.requires_grad_(True)
        self.step += 1
        if self.step % LOG_EVERY == 0:
            self.loss = g_loss.item()
            if not math.isfinite(self.loss):
                raise SystemExit("torch_gan2d.py: the loss is not finite at iteration %d"
                                 % self.step)
        return g_loss

    def run(self, n):
        g_loss = None
        for _ in range(n):
            g_loss = self.iteration()
        return g_loss


def mode_coverage(samples, centres, std):
    """dgm_mode_coverage_compute: nearest centre within 3 std counts as a hit."""
    x = samples.double()
    d2 = torch.cdist(x, centres) ** 2
    best_d2, best = d2.min(dim=1)
    good = best_d2 <= 9.0 * std * std
    n_good = int(good.sum())
    hits = torch.bincount(best[good], minlength=centres.shape[0]).double()
    k = centres.shape[0]
    rkl = float("nan")
    if n_good:
        h = hits[hits > 0] / n_good
        rkl = float((h * torch.log(h * k)).sum())
    return {"modes": int((hits > 0).sum()), "total_modes": k,
            "high_quality": n_good / samples.shape[0], "reverse_kl": rkl}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=1000, help="iterations per timed window")
    ap.add_argument("--windows", type=int, default=3, help="timed windows (the median reported)")
    ap.add_argument("--warmup", type=int, default=100, help="untimed iterations first")
    add_threads_arg(ap)
    add_adam_arg(ap, "single")
    ap.add_argument("--freeze-d", action="store_true",
                    help="no D weight gradients in the G step (dgm computes them)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval", action="store_true",
                    help="train %d iterations, print mode coverage" % TOTAL_ITERS)
    ap.add_argument("--eval-iters", type=int, default=TOTAL_ITERS, help=argparse.SUPPRESS)
    args = ap.parse_args()

    info = set_threads(args.threads, freeze_d=args.freeze_d)
    t = Trainer(args.seed, args.adam, args.freeze_d)
    info["adam"] = t.adam

    if args.eval:
        t0 = time.perf_counter()
        g_loss = t.run(args.eval_iters)
        sec = time.perf_counter() - t0
        t.model.eval()
        with torch.no_grad():
            x = t.g(torch.randn(EVAL_SAMPLES, 2))
        mc = mode_coverage(x, grid25_centres(), GRID_STD)
        print("trained %d iterations in %.1f s (seed %d), final G loss %.4f: %d/%d modes, "
              "%.1f%% high quality, reverse KL %.4f"
              % (args.eval_iters, sec, args.seed, g_loss.item(), mc["modes"], mc["total_modes"],
                 100 * mc["high_quality"], mc["reverse_kl"]))
        print("json: " + json.dumps(dict(bench="gan2d_torch", what="eval", seed=args.seed,
                                         iters=args.eval_iters, seconds=sec,
                                         g_loss=g_loss.item(), **mc, **info)))
        return

    def window(w, sec, loss):  # loss: read after the clock (the window's own reads: every 500)
        print("window %d: %.3f s per 1k iterations (%d iterations), G loss %.4f at iteration %d"
              % (w, sec, args.iters, loss, t.step), flush=True)
        print("json: " + json.dumps(dict(bench="gan2d_torch", what="window", window=w,
                                         seconds_per_1k_iters=sec, iters=args.iters,
                                         g_loss=loss, **info)), flush=True)

    t.run(args.warmup)
    times = timed_windows(t.run, args.iters, args.windows, window)
    report_windows("gan2d_torch", "seconds_per_1k_iters", times, info, unit="s/1k it",
                   windows=args.windows, iters=args.iters)


if __name__ == "__main__":
    main()

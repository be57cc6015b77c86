#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D energy-based model: `dgm train ebm --data FILE` in PyTorch.

The energy E(x) is an nn.Sequential "net": Linear(2, 128) -> SiLU -> Linear(128, 128) ->
SiLU -> Linear(128, 128) -> SiLU -> Linear(128, 1) (net.0, net.2, net.4, net.6; PyTorch's
default initialization); the model's density is exp(−E(x))/Z on a box.

Box: per coordinate [min − 0.25·(max − min), max + 0.25·(max − min)] of the training data
(float64, used in float32). Noise scale η (--eta, default auto = 0.045·s, s = sqrt(the
mean over the coordinates of the training data's variance), float64, population variance:
≈ 0.03 on moons, ≈ 0.09 on gauss8). A Langevin step: x ← clamp_to_box(x − (η²/2)·∇ₓE(x)
+ η·ξ), ξ ~ N(0, I), ∇ₓE by torch.autograd.grad of E(x).sum() (no gradient to the
parameters).

Training (persistent contrastive divergence with a replay buffer): a buffer of 10,000
chains, uniform on the box at the start. Each step: a batch of 256 data rows x⁺ (dgm's
loader, peer_common.Loader: a fresh permutation per epoch, no drop_last, so an epoch's last
batch holds the 32 rows left of 20,000); 256 buffer indices drawn uniformly with
replacement; each of those chains restarted uniformly on the box with probability 0.05;
K = 20 Langevin steps; the chains written back (an index drawn twice: the later row
wins); loss = mean E(x⁺) − mean E(x⁻) + α·(mean E(x⁺)² + mean E(x⁻)²), α = 0.1 (E of
x⁺ and x⁻ in one forward pass of the concatenated rows); Adam lr 3e-4 betas (0.0, 0.999)
eps 1e-8; 18,000 steps. The loss is read back every 500 steps (dgm train's loop,
peer_common.StepTrainer).

Samples (--samples): --n rows (default 2000), x uniform on the box, --sample-steps
(default 1000) Langevin steps with the same η, clamped to the box.

Test NLL (--test): log Z = log ∫_box exp(−E) by the midpoint rule on a G×G grid over the
box (cell centres lo + (i + ½)·h), energies in float32, logsumexp in float64; G = 128, then
doubled until log Z changes by less than 0.005 nats (at most 2048); NLL = the mean over
the test rows of E(x) + log Z (nats per sample; rows outside the box are counted and
reported, their E used as it is).

  --data FILE.npy    training set, float32 [N, 2]
  --steps N          training steps (default 18000)
  --test FILE.npy    after training, the test NLL (grid log Z)
  --samples FILE.npy after training, write --n (default 2000) samples there
  --eta E|auto       the Langevin noise scale (default auto)
  --sample-steps N   Langevin steps of the sampler (default 1000)
  --time-only N      no full run: time --windows windows (default 3) of N steps after
                     --warmup steps (default 100), print seconds per 1,000 steps
                     (JSON "median_window": the median, the headline)
  --threads T        torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: in the environment)
  --save FILE.pt     after training, save the energy network's state_dict there
  --eval-dgm CKPT    no training: load a dgm ebm checkpoint's net.* tensors (strict) into
                     this model (or a state this script saved with --save, a .pt file);
                     --data (for the box and η), then --test and --samples as after training

Output: progress lines and JSON lines (prefix "json: "): "window" per timed window (or per
1,000 training steps), "median_window" / "best_window" (peer_common.report_windows), and
"result" (steps, s/1k steps over the whole run, the last loss, box, eta, and with --test:
log_z, grid, test_nll). Run it with Debian's python (/usr/bin/python3).
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn

from peer_common import add_run_args, Loader, StepTrainer, adam_kwargs, add_adam_arg, add_threads_arg, train_in_windows, \
    set_threads

PROG = "torch_ebm2d.py"
STEPS = 18000
BATCH = 256
BUFFER = 10000
REINIT = 0.05
K = 20
ALPHA = 0.1
LR = 3e-4
BETAS = (0.0, 0.999)
ETA_FACTOR = 0.045
MARGIN = 0.25
GRID0, GRID_MAX, GRID_TOL = 128, 2048, 0.005


def energy_net(hidden=128):
    return nn.Sequential(nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))


def box_of(train):
    """(lo, hi), float64 numpy [2]: the data's range widened by MARGIN of it each side."""
    x = train.double().numpy()
    mn, mx = x.min(axis=0), x.max(axis=0)
    return mn - MARGIN * (mx - mn), mx + MARGIN * (mx - mn)


def auto_eta(train):
    """0.045 · sqrt(mean over coordinates of the (population) variance), float64."""
    return ETA_FACTOR * math.sqrt(float(train.double().numpy().var(axis=0).mean()))


class EBM(nn.Module):
    def __init__(self, lo, hi, eta):
        super().__init__()
        self.net = energy_net()
        self.lo64, self.hi64, self.eta = lo, hi, float(eta)
        self.lo = torch.from_numpy(lo).float()
        self.hi = torch.from_numpy(hi).float()
        self.half_eta2 = 0.5 * self.eta * self.eta

    def energy(self, x):
        return self.net(x).squeeze(1)

    def uniform(self, n):
        return self.lo + (self.hi - self.lo) * torch.rand(n, 2)

    def clamp(self, x):
        return torch.max(torch.min(x, self.hi), self.lo)

    def langevin(self, x, steps):
        """`steps` Langevin steps from x (no graph kept, no parameter gradients)."""
        x = x.detach()
        for _ in range(steps):
            x.requires_grad_(True)
            g, = torch.autograd.grad(self.net(x).sum(), x)
            with torch.no_grad():
                x = self.clamp(x - self.half_eta2 * g + self.eta * torch.randn_like(x))
        return x

    def sample(self, n, steps):
        return self.langevin(self.uniform(n), steps)

    @torch.no_grad()
    def energies(self, x, chunk=1 << 16):
        """E of the rows of x (float32 [M, 2]) as float64 numpy, in chunks."""
        out = [self.energy(x[i:i + chunk]).double().numpy() for i in range(0, x.shape[0], chunk)]
        return np.concatenate(out)

    def log_z(self, g):
        """log ∫_box exp(−E) by the midpoint rule on a g×g grid (float64 logsumexp)."""
        h = (self.hi64 - self.lo64) / g
        cx = self.lo64[0] + (np.arange(g) + 0.5) * h[0]
        cy = self.lo64[1] + (np.arange(g) + 0.5) * h[1]
        pts = np.stack(np.meshgrid(cx, cy, indexing="ij"), -1).reshape(-1, 2)
        a = -self.energies(torch.from_numpy(pts.astype(np.float32)))
        m = a.max()
        return float(m + math.log(np.exp(a - m).sum()) + math.log(h[0] * h[1]))

    def test_nll(self, test):
        """(NLL, log Z, G, converged, rows outside the box, [(G, log Z), ...])."""
        g, lz = GRID0, self.log_z(GRID0)
        trail, converged = [(g, lz)], False
        while g < GRID_MAX:
            g2 = 2 * g
            lz2 = self.log_z(g2)
            trail.append((g2, lz2))
            done = abs(lz2 - lz) < GRID_TOL
            g, lz = g2, lz2
            if done:
                converged = True
                break
        e = self.energies(test)
        x = test.double().numpy()
        outside = int((~((x >= self.lo64) & (x <= self.hi64)).all(axis=1)).sum())
        return float(e.mean()) + lz, lz, g, converged, outside, trail


def load(path):
    x = np.load(path)
    if x.ndim != 2 or x.shape[1] != 2:
        raise SystemExit("%s: %s: expected an [N, 2] array, got %s" % (PROG, path, x.shape))
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class Trainer(StepTrainer):
    prog = PROG

    def __init__(self, train, seed, adam, eta, batch=BATCH):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.loader = Loader(train, batch, gen)
        lo, hi = box_of(train)
        self.model = EBM(lo, hi, eta)
        self.adam, kw = adam_kwargs(adam, "foreach", lr=LR, betas=BETAS, eps=1e-8)
        self.opt = torch.optim.Adam(self.model.net.parameters(), **kw)
        self.buffer = self.model.uniform(BUFFER)
        self.batch = batch
        self.e_pos = self.e_neg = float("nan")

    def batch_loss(self, xp):
        m = self.model
        idx = torch.randint(0, BUFFER, (self.batch,))
        x = self.buffer[idx]
        restart = torch.rand(self.batch) < REINIT
        x = torch.where(restart[:, None], m.uniform(self.batch), x)
        x = m.langevin(x, K)
        self.buffer[idx] = x
        e = m.energy(torch.cat([xp, x]))
        ep, en = e[:xp.shape[0]], e[xp.shape[0]:]
        self._e = (ep, en)
        return ep.mean() - en.mean() + ALPHA * (ep.pow(2).mean() + en.pow(2).mean())

    def logged(self):
        ep, en = self._e
        self.e_pos, self.e_neg = ep.mean().item(), en.mean().item()


def write_samples(model, n, steps, path):
    t0 = time.perf_counter()
    x = model.sample(n, steps).numpy().astype(np.float32)
    sec = time.perf_counter() - t0
    if not np.isfinite(x).all():
        raise SystemExit("%s: non-finite samples" % PROG)
    np.save(path, x)
    print("wrote %d samples to %s (%d Langevin steps, %.1f s)" % (n, path, steps, sec))
    return sec


def evaluate(model, args, res):
    """--test and --samples after training (or on a dgm checkpoint); fills res."""
    if args.test:
        t0 = time.perf_counter()
        nll, lz, g, conv, outside, trail = model.test_nll(load(args.test))
        sec = time.perf_counter() - t0
        print("box [%.4f, %.4f] x [%.4f, %.4f], eta %.5f; log Z %.5f on a %dx%d grid (%s; %s)"
              % (model.lo64[0], model.hi64[0], model.lo64[1], model.hi64[1], model.eta, lz,
                 g, g, "converged" if conv else "NOT converged at the cap",
                 ", ".join("G %d: %.5f" % t for t in trail)))
        print("test NLL %.4f nats per sample (%s; %d rows outside the box; %.1f s)"
              % (nll, os.path.basename(args.test), outside, sec))
        res.update(test_nll=nll, log_z=lz, grid=g, grid_converged=conv, test_outside_box=outside,
                   log_z_trail=trail, nll_s=sec)
    if args.samples:
        torch.manual_seed(args.seed + 1)
        res["sample_s"] = write_samples(model, args.n, args.sample_steps, args.samples)
        res["samples"] = args.samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="training set, float32 [N, 2] .npy")
    ap.add_argument("--steps", type=int, default=STEPS, help="training steps")
    ap.add_argument("--test", help="the test NLL on this file (.npy) after training")
    ap.add_argument("--samples", help="write --n samples here (.npy)")
    ap.add_argument("-n", "--n", type=int, default=2000, help="samples to write")
    ap.add_argument("--eta", default="auto", help="Langevin noise scale (auto: 0.045 * data std)")
    ap.add_argument("--sample-steps", type=int, default=1000, help="Langevin steps of the sampler")
    add_threads_arg(ap)
    add_run_args(ap)
    ap.add_argument("--save", metavar="FILE", help="save the network's state_dict after training")
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm ebm checkpoint (net.*; or a --save .pt) instead of training")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()
    bench = "ebm2d_torch"
    train = load(args.data)
    eta = auto_eta(train) if args.eta == "auto" else float(args.eta)
    info = set_threads(args.threads, batch=BATCH, model="ebm", eta=eta,
                       data=os.path.basename(args.data), seed=args.seed)
    info["train_rows"] = train.shape[0]

    if args.eval_dgm:
        if args.eval_dgm.endswith(".pt"):
            meta, net = {}, torch.load(args.eval_dgm)
        else:
            from torch_diffusion2d import read_safetensors
            meta, tensors = read_safetensors(args.eval_dgm)
            net = {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}
        torch.manual_seed(args.seed)
        lo, hi = box_of(train)
        model = EBM(lo, hi, eta)
        model.net.load_state_dict(net, strict=True)
        res = dict(bench=bench, what="dgm_checkpoint", checkpoint=args.eval_dgm,
                   step=meta.get("step"), box=[list(lo), list(hi)], **info)
        evaluate(model, args, res)
        print("json: " + json.dumps(res))
        return

    t = Trainer(train, args.seed, args.adam, eta)
    info["adam"] = t.adam
    m = t.model
    print("box [%.4f, %.4f] x [%.4f, %.4f], eta %.5f (%s), %d train rows"
          % (m.lo64[0], m.hi64[0], m.lo64[1], m.hi64[1], eta, args.eta, train.shape[0]),
          flush=True)

    times, sp, total_sec = train_in_windows(t, args, bench, info, extra=lambda: ", E+ %.4f, E- %.4f" % (t.e_pos, t.e_neg))
    res = dict(bench=bench, what="result", steps=t.step, median_window_s=sp.get("median"),
               best_window_s=sp.get("min"), box=[list(m.lo64), list(m.hi64)], **info)
    if total_sec is not None:
        res.update(seconds_per_1k_steps=total_sec * 1000.0 / t.step, seconds_total=total_sec,
                   last_loss=t.loss)
        print("trained %d steps in %.1f s: %.3f s per 1k steps (median window %.3f, best %.3f)"
              % (t.step, total_sec, res["seconds_per_1k_steps"], sp["median"], sp["min"]))
        if args.save:
            torch.save(m.net.state_dict(), args.save)
        evaluate(m, args, res)
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

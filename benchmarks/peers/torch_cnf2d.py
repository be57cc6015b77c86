#!/usr/bin/python3
"""PyTorch peer of dgm's 2-D continuous normalizing flow: `dgm train cnf --data FILE`.

FFJORD (Grathwohl et al. 2019; rtqichen/ffjord train_toy.py's defaults), written out here
(torchdiffeq is not used). The dynamics f(z, t) are an ODEnet "net" of ConcatSquashLinear
layers 2 -> 64 -> 64 -> 64 -> 2 (net.layers.0..3), tanh between them, none after the last;
ConcatSquashLinear(in, out) holds _layer = Linear(in, out), _hyper_bias = Linear(1, out,
bias=False), _hyper_gate = Linear(1, out) and gives _layer(x)·sigmoid(_hyper_gate(t)) +
_hyper_bias(t), t the one scalar time of every row (ffjord: t.view(1, 1)); PyTorch's default
initialization. The integration time is T = sqrt_end_time², sqrt_end_time a parameter
starting at √0.5 (ffjord's train_T); the data lives at t = 0, the base N(0, I) at t = T, and
    log p(x) = log N(z(T); 0, I) + ∫_0^T tr(∂f/∂z)(z(t), t) dt,
the divergence exact (ffjord's brute force: one autograd.grad per dimension).

Training (discretize-then-optimize): the ODE over s in [0, 1], t = T·s, dz/ds = T·f(z, T·s)
and d(logdet)/ds = T·tr(∂f/∂z) (T's gradient flows through both), classic RK4 in
--solver-steps equal steps (default 8), backpropagated through (create_graph=True in the
divergence). Loss: the batch's mean −log p(x), nats. Adam lr 1e-3, betas (0.9, 0.999), eps
1e-8, weight_decay 1e-5 (every parameter, sqrt_end_time too, as ffjord's optim.Adam);
batch 100 from dgm's loader (peer_common.Loader); 4,000 steps.

Test NLL: never the training discretization. scipy.integrate.solve_ivp(RK45, rtol = atol =
1e-5) over t in [0, T] on the flattened augmented state [z, logdet] of --nll-batch rows at a
time (default 1,000; 0: the whole file in one solve), float64 state, f and its exact
divergence in float32 by torch (no create_graph); the function evaluations are reported.
For comparison the RK4 NLL at the training's N steps and at 2N (a coarse training solver can
fit its own discretization: its NLL may fall below the true density's entropy, which the
adaptive NLL cannot).
Samples: z ~ N(0, I) (seed --seed + 1) from t = T back to 0 by the same adaptive solver.

  --data FILE.npy       training set, float32 [N, 2] (not needed with --eval-dgm)
  --test FILE.npy       test set: its adaptive NLL (and RK4 NLLs) after training
  --steps N             training steps (default 4000)
  --solver-steps N      RK4 steps of the training ODE (default 8)
  --nll-batch B         rows per adaptive solve of the test NLL (default 1000; 0: all)
  --samples N --samples-out F.npy   write N samples there (timed)
  --time-only N         no full run: time --windows windows (default 3) of N steps after
                        --warmup steps (default 100), seconds per 1,000 steps (JSON
                        "median_window": the median, the headline)
  --threads T           torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: in the environment)
  --seed S              training seed (default 0)
  --eval-dgm CKPT       no training: load a dgm cnf checkpoint (net.layers.<i>.* and
                        sqrt_end_time, strict; other entries ignored) and print its test NLL
                        (--test, the same adaptive solver; dgm eval's should agree to ~1e-3),
                        and --samples
  --adam                Adam implementation (peer_common)

Output: progress lines and JSON lines (prefix "json: "): "window", "median_window",
"best_window" (as the other 2-D peers), "result" (steps, T, s/1k steps over the whole run,
test_nll (adaptive), nfe, rk4_nll_N and rk4_nll_2N with their N, the NLL's seconds, the
samples' seconds); with --eval-dgm "dgm_checkpoint" (the same output fields). Run it with
Debian's python (/usr/bin/python3, python3-torch, python3-numpy, python3-scipy).
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import nn

from peer_common import Loader, StepTrainer, adam_kwargs, add_adam_arg, add_run_args, \
    add_threads_arg, set_threads, train_in_windows
from torch_diffusion2d import read_safetensors

PROG = "torch_cnf2d.py"
STEPS = 4000
BATCH = 100
LR = 1e-3
WEIGHT_DECAY = 1e-5
HIDDEN = (64, 64, 64)
T0 = 0.5  # ffjord's time_length: sqrt_end_time starts at sqrt(T0)
SOLVER_STEPS = 8
TOL = 1e-5  # solve_ivp's rtol and atol
LOG_2PI = math.log(2.0 * math.pi)


class ConcatSquashLinear(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self._layer = nn.Linear(dim_in, dim_out)
        self._hyper_bias = nn.Linear(1, dim_out, bias=False)
        self._hyper_gate = nn.Linear(1, dim_out)

    def forward(self, t, x):
        """t: [1, 1], x: [B, in]."""
        return self._layer(x) * torch.sigmoid(self._hyper_gate(t)) + self._hyper_bias(t)


class ODEnet(nn.Module):
    def __init__(self, dim=2, hidden=HIDDEN):
        super().__init__()
        widths = (dim,) + tuple(hidden) + (dim,)
        self.layers = nn.ModuleList([ConcatSquashLinear(a, b)
                                     for a, b in zip(widths[:-1], widths[1:])])

    def forward(self, t, x):
        t = t.reshape(1, 1)
        for i, layer in enumerate(self.layers):
            x = layer(t, x)
            if i < len(self.layers) - 1:
                x = torch.tanh(x)
        return x


def divergence(f, z, create_graph):
    """tr(∂f/∂z) per row, exactly: one autograd pass per dimension (ffjord's divergence_bf)."""
    d = f.shape[1]
    return sum(torch.autograd.grad(f[:, k].sum(), z, create_graph=create_graph,
                                   retain_graph=create_graph or k < d - 1)[0][:, k]
               for k in range(d))


def log_normal(z):
    """log N(z; 0, I) per row."""
    return -0.5 * (z * z).sum(dim=1) - 0.5 * z.shape[1] * LOG_2PI


class CNF(nn.Module):
    def __init__(self, dim=2, hidden=HIDDEN):
        super().__init__()
        self.dim = dim
        self.net = ODEnet(dim, hidden)
        self.sqrt_end_time = nn.Parameter(torch.tensor([math.sqrt(T0)]))

    def end_time(self):
        return self.sqrt_end_time * self.sqrt_end_time

    # ---- the training discretization: RK4 over s in [0, 1] ----
    def dynamics_s(self, s, z, T, create_graph):
        """(dz/ds, d logdet/ds) = T·(f, tr ∂f/∂z) at (z, t = T·s)."""
        with torch.enable_grad():
            if not z.requires_grad:
                z = z.requires_grad_(True)
            f = self.net(T * s, z)
            div = divergence(f, z, create_graph)
        return T * f, T * div

    def rk4_log_prob(self, x, steps, create_graph=True):
        """log p(x) per row by `steps` classic RK4 steps (create_graph: for training; else
        the state is detached after each step)."""
        T = self.end_time()
        z, logdet = x, torch.zeros(x.shape[0], dtype=x.dtype)
        h = 1.0 / steps
        for i in range(steps):
            s = i * h
            if not create_graph:
                z = z.detach()
            k1, d1 = self.dynamics_s(s, z, T, create_graph)
            k2, d2 = self.dynamics_s(s + 0.5 * h, z + 0.5 * h * k1, T, create_graph)
            k3, d3 = self.dynamics_s(s + 0.5 * h, z + 0.5 * h * k2, T, create_graph)
            k4, d4 = self.dynamics_s(s + h, z + h * k3, T, create_graph)
            z = z + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            logdet = logdet + (h / 6.0) * (d1 + 2.0 * d2 + 2.0 * d3 + d4)
            if not create_graph:
                z, logdet = z.detach(), logdet.detach()
        return log_normal(z) + logdet

    def rk4_nll(self, x, steps, batch=1000):
        """Mean −log p over the rows of x by RK4 in `steps` steps (accumulated in double)."""
        out = [-self.rk4_log_prob(x[i:i + batch], steps, create_graph=False).double()
               for i in range(0, x.shape[0], batch)]
        return float(torch.cat(out).mean())

    # ---- the adaptive solver (scipy RK45), over t in [0, T] ----
    def adaptive_nll(self, x, batch):
        """Per-row −log p(x) by solve_ivp RK45 (rtol = atol = TOL) on [z, logdet] from t = 0
        to T; returns (the NLLs, float64 [M], the function evaluations of all solves)."""
        T = float(self.end_time().detach())
        batch = batch if batch > 0 else x.shape[0]
        out, nfev = [], 0
        for lo in range(0, x.shape[0], batch):
            xb = x[lo:lo + batch].double().numpy()
            m = xb.shape[0]

            def rhs(t, y):
                z = torch.from_numpy(y[:2 * m].reshape(m, 2)).float().requires_grad_(True)
                tt = torch.tensor([[t]], dtype=torch.float32)
                with torch.enable_grad():
                    f = self.net(tt, z)
                    div = divergence(f, z, False)
                return np.concatenate([f.detach().double().numpy().ravel(),
                                       div.double().numpy()])

            sol = solve_ivp(rhs, (0.0, T), np.concatenate([xb.ravel(), np.zeros(m)]),
                            method="RK45", rtol=TOL, atol=TOL)
            if not sol.success:
                raise SystemExit("%s: the NLL's ODE failed: %s" % (PROG, sol.message))
            nfev += sol.nfev
            z, logdet = sol.y[:2 * m, -1].reshape(m, 2), sol.y[2 * m:, -1]
            out.append(0.5 * (z ** 2).sum(axis=1) + LOG_2PI - logdet)
        return np.concatenate(out), nfev

    def sample(self, n):
        """n samples: z ~ N(0, I) from t = T back to 0 by solve_ivp RK45; (x, nfev)."""
        T = float(self.end_time().detach())
        z = torch.randn(n, 2)

        def rhs(t, y):
            with torch.no_grad():
                f = self.net(torch.tensor([[t]], dtype=torch.float32),
                             torch.from_numpy(y.reshape(n, 2)).float())
            return f.double().numpy().ravel()

        sol = solve_ivp(rhs, (T, 0.0), z.double().numpy().ravel(), method="RK45",
                        rtol=TOL, atol=TOL)
        if not sol.success:
            raise SystemExit("%s: the sampler's ODE failed: %s" % (PROG, sol.message))
        return sol.y[:, -1].reshape(n, 2).astype(np.float32), sol.nfev


def load(path):
    x = np.load(path)
    if x.ndim != 2 or x.shape[1] != 2:
        raise SystemExit("%s: %s: expected an [N, 2] array, got %s" % (PROG, path, x.shape))
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def load_dgm_checkpoint(model, path):
    """A dgm cnf checkpoint's net.* and sqrt_end_time into model (strict on those; other
    entries ignored); returns its metadata."""
    meta, tensors = read_safetensors(path)
    if meta.get("model") not in (None, "cnf"):
        print("%s: note: %s says its model is %s" % (PROG, path, meta.get("model")))
    names = set(model.state_dict())
    state = {k: v for k, v in tensors.items() if k in names}
    if "sqrt_end_time" in state:
        state["sqrt_end_time"] = state["sqrt_end_time"].reshape(1)
    model.load_state_dict(state, strict=True)
    return meta


class Trainer(StepTrainer):
    prog = PROG

    def __init__(self, train, seed, adam, solver_steps, batch=BATCH):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.loader = Loader(train, batch, gen)
        self.model = CNF()
        self.solver_steps = solver_steps
        self.adam, kw = adam_kwargs(adam, "foreach", lr=LR, betas=(0.9, 0.999), eps=1e-8,
                                    weight_decay=WEIGHT_DECAY)
        self.opt = torch.optim.Adam(self.model.parameters(), **kw)

    def batch_loss(self, x):
        return -self.model.rk4_log_prob(x, self.solver_steps).mean()


def outputs(model, args, solver_steps):
    """--test's NLLs (adaptive, RK4 at N and 2N) and --samples of a trained or loaded model:
    their JSON fields."""
    res = dict(T=float(model.end_time().detach()))
    if args.test:
        x = load(args.test)
        t0 = time.perf_counter()
        nll, nfev = model.adaptive_nll(x, args.nll_batch)
        sec = time.perf_counter() - t0
        if not np.isfinite(nll).all():
            raise SystemExit("%s: non-finite NLL" % PROG)
        n1, n2 = solver_steps, 2 * solver_steps
        t1 = time.perf_counter()
        r1 = model.rk4_nll(x, n1)
        r2 = model.rk4_nll(x, n2)
        rk_sec = time.perf_counter() - t1
        print("test NLL %.4f nats per sample (%d rows; RK45 rtol = atol = %g, %d rows per "
              "solve, %d function evaluations in all; %.2f s); RK4 NLL %.4f at %d steps, "
              "%.4f at %d (%.2f s); T %.4f"
              % (nll.mean(), len(nll), TOL, args.nll_batch or len(nll), nfev, sec, r1, n1,
                 r2, n2, rk_sec, res["T"]), flush=True)
        res.update(test_nll=float(nll.mean()), nfe=nfev, nll_s=sec, test_rows=len(nll),
                   nll_batch=args.nll_batch, rk4_steps=n1, rk4_nll_N=r1, rk4_nll_2N=r2,
                   test=os.path.basename(args.test))
    if args.samples > 0:
        if not args.samples_out:
            raise SystemExit("%s: --samples needs --samples-out" % PROG)
        torch.manual_seed(args.seed + 1)
        t0 = time.perf_counter()
        xs, nfev = model.sample(args.samples)
        sec = time.perf_counter() - t0
        if not np.isfinite(xs).all():
            raise SystemExit("%s: non-finite samples" % PROG)
        np.save(args.samples_out, xs)
        print("wrote %d samples to %s (RK45, rtol = atol = %g; %d function evaluations; "
              "%.2f s)" % (args.samples, args.samples_out, TOL, nfev, sec), flush=True)
        res.update(samples=args.samples, samples_out=args.samples_out, sample_s=sec,
                   sample_nfe=nfev)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="training set, float32 [N, 2] .npy")
    ap.add_argument("--test", help="test set, float32 [N, 2] .npy: its NLL")
    ap.add_argument("--steps", type=int, default=STEPS, help="training steps")
    ap.add_argument("--solver-steps", type=int, default=SOLVER_STEPS,
                    help="RK4 steps of the training ODE (default %d)" % SOLVER_STEPS)
    ap.add_argument("--batch", type=int, default=BATCH, help="batch size (default %d)" % BATCH)
    ap.add_argument("--nll-batch", type=int, default=1000,
                    help="rows per adaptive solve of the test NLL (0: all)")
    ap.add_argument("--samples", type=int, default=0, metavar="N", help="samples to write")
    ap.add_argument("--samples-out", metavar="FILE", help="where --samples go (.npy)")
    add_threads_arg(ap)
    add_run_args(ap)
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm cnf checkpoint and print its test NLL (no training)")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()
    if args.solver_steps < 1 or args.nll_batch < 0 or args.batch < 1:
        raise SystemExit("%s: --solver-steps and --batch need 1 or more, --nll-batch 0 or more"
                         % PROG)
    bench = "cnf2d_torch"
    info = set_threads(args.threads, batch=args.batch, model="cnf", seed=args.seed,
                       solver_steps=args.solver_steps,
                       data=args.data and os.path.basename(args.data))

    if args.eval_dgm:
        if not (args.test or args.samples):
            raise SystemExit("%s: --eval-dgm needs --test or --samples" % PROG)
        model = CNF()
        meta = load_dgm_checkpoint(model, args.eval_dgm)
        print("dgm checkpoint %s (step %s): T %.4f"
              % (args.eval_dgm, meta.get("step"), float(model.end_time().detach())))
        res = outputs(model, args, args.solver_steps)
        print("json: " + json.dumps(dict(bench=bench, what="dgm_checkpoint",
                                         checkpoint=args.eval_dgm, step=meta.get("step"),
                                         **res, **info)))
        return
    if not args.data:
        raise SystemExit("%s: --data is required (but with --eval-dgm)" % PROG)
    train = load(args.data)
    info["train_rows"] = train.shape[0]
    t = Trainer(train, args.seed, args.adam, args.solver_steps, args.batch)
    info["adam"] = t.adam
    print("FFJORD CNF, concatsquash %s tanh, T %.3f learned, exact divergence, RK4 %d steps; "
          "%d training rows, batch %d"
          % ("-".join(map(str, HIDDEN)), T0, args.solver_steps, train.shape[0], args.batch),
          flush=True)

    times, sp, total_sec = train_in_windows(
        t, args, bench, info, lambda: ", T %.4f" % float(t.model.end_time().detach()))
    res = dict(bench=bench, what="result", steps=t.step, median_window_s=sp.get("median"),
               best_window_s=sp.get("min"), **info)
    if total_sec is not None:
        res.update(seconds_per_1k_steps=total_sec * 1000.0 / t.step, seconds_total=total_sec,
                   last_loss=t.loss)
        print("trained %d steps in %.1f s: %.3f s per 1k steps (median window %.3f, best %.3f)"
              % (t.step, total_sec, res["seconds_per_1k_steps"], sp["median"], sp["min"]))
    res.update(outputs(t.model, args, args.solver_steps))
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

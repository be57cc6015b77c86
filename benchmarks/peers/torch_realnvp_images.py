#!/usr/bin/python3
"""PyTorch peer of dgm's RealNVP on images: `dgm train realnvp --data fashion-mnist` in PyTorch.

The model is dgm's RealNVP for images (host/models/realnvp.c, host/nn/coupling.c,
host/nn/actnorm.c) with a fixed random permutation of the columns before each coupling,
for x in [0, 1]^D, D = 784 (Fashion-MNIST's 28x28 pixels / 255):

1. Dequantization and logit: y = (255·x + u)/256, u ~ U(0, 1) per pixel (in training and
   in the test NLL: one draw), p = α + (1 − 2α)·y with α = 0.05, w = log p − log(1 − p);
   log|det| = Σ_pixels [log(1 − 2α) − log p − log(1 − p)].
2. For k = 0..K−1 (K = --couplings, default 8):
   a. ActNorm k: h = (h + bias)·exp(logs) per column, log|det| = Σ logs. Initialized from
      the data once, before training: the first min(N, 1000) training images (file order)
      go through step 1 (one dequantization draw) and the layers; at ActNorm k,
      bias = −mean, logs = −log(std + 1e-6) over those rows (std: population, ddof 0,
      as dgm_actnorm_init_data computes it), then on through permutation and coupling k
      (fresh couplings are the identity).
   b. A fixed permutation: h'[:, i] = h[:, order_k[i]], order_k a Fisher-Yates shuffle of
      0..D−1 driven by splitmix64 from the seed k + 64 (dgm_permutation, permutation.c);
      log|det| = 0.
   c. Affine coupling k (flip = k odd), dgm_coupling: with d = D // 2 the conditioning
      columns are [0, d) and the transformed ones [d, D), or the reverse when flip;
      [h_s, t] = MLP(conditioning), the MLP an nn.Sequential Linear(cond, H1) -> ReLU ->
      Linear(H1, H2) -> ReLU -> Linear(H2, 2·other) (--hidden H1,H2; PyTorch's default
      initialization, the last Linear zeroed, weight and bias, so that a fresh coupling is
      the identity), s = scale·tanh(h_s) with a learned per-column `scale` (starts at 1);
      transformed·exp(s) + t, the columns back in their order; log|det| = Σ s.
3. −log p per image, nats: ½Σz² + (D/2)·log 2π − Σ log|det| + D·log 256 (the bound on the
   discrete pixels); bits per dimension = that / (D·ln 2). The loss is its batch mean.

Parameter names are dgm's (actnorm.<k>.bias, actnorm.<k>.logs, flow.<k>.net.{0,2,4}.
{weight,bias}, flow.<k>.scale; the permutations are fixed, not parameters), so a dgm
checkpoint's tensors load with load_state_dict (the coupling module and the checkpoint
reader are torch_realnvp2d.py's, the IDX reader torch_vae.py's).

The loop is dgm train's: batches from the 60,000 training images, a fresh permutation per
epoch and no drop_last (batch 64: 937 batches of 64 and one of 32), a new dequantization
draw per batch, zero_grad(set_to_none=True), loss.backward(), Adam lr 1e-3 betas
(0.9, 0.999) eps 1e-8 (--adam auto: fused from torch 2.4, else foreach), dgm's linear
warm-up lr·(step + 1)/N over the first N = 200 steps (--lr-warmup N; 0: none), then
constant; the loss read back (.item()) and printed every 500 steps (--log-every), as
`dgm train` logs it. The defaults are dgm's for images (3000 steps, batch 64).

  --data-dir DIR     train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz (IDX, read
                     with gzip + numpy; default /usr/share/datasets/fashion-mnist)
  --steps N          training steps (default 3000); --batch (64), --lr (1e-3),
                     --couplings (8), --hidden (1024,1024), --seed (0)
  --test-rows N      the test bpd on the first N test images (default 10000; 0: none),
                     batches of 500, one dequantization draw (its own generator, --seed)
  --time-only N      no full run: time W windows (--windows, default 3) of N steps each
                     after --warmup steps (default 100), print seconds per 1,000 steps
                     (JSON "median_window": the median, the headline), then the test
                     bpd at that point
  --threads T        torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: set it in the
                     environment; Debian's torch does its GEMMs in OpenBLAS)
  --eval-dgm CKPT    no training: load a dgm realnvp checkpoint (.safetensors, read with
                     numpy; --couplings and --hidden from its config, which must
                     have ActNorm and random permutations, no LU, ReLU) into this model
                     (load_state_dict, strict) and print its test bpd and NLL; it should
                     equal `dgm eval CKPT --data fashion-mnist --metric bpd,nll` to within
                     the dequantization noise (the draws differ)
  --samples FILE     64 samples by the inverse pass from z ~ N(0, I) (coupling:
                     (y − t)·exp(−s); the inverse permutation; ActNorm: h·exp(−logs) − bias;
                     then sigmoid, (· − α)/(1 − 2α), clamped to [0, 1]), as an 8x8 grid in a
                     grayscale PNG (written with zlib: no dependency), or the [64, 784]
                     array when FILE ends in .npy
  --check            also print JSON "check" lines: at step 0 the mean NLL of the ActNorm
                     rows against its closed form for a flow that only standardizes
                     (D/2 + (D/2)·log 2π − mean log|det| of step 1 + Σ log(std + 1e-6) +
                     D·log 256), and max |w − f⁻¹(f(w))| in logit space on 8 test images at
                     step 0 and after training

Output: progress lines and JSON lines (prefix "json: "): "window" per timed window of
1,000 steps (of N with --time-only); "median_window", the headline: seconds_per_1k_steps
the windows' median, with "median", "min", "max", "drift_ratio" (the last window's time
over the first's), "drift" (true beyond 1.10 either way) and "seconds_each" (every
window), as dgm's benchmarks report them; "best_window" (seconds_per_1k_steps the best, the
same fields); "check" with --check; and "result" with the test bpd and NLL (nats per
image), the steps, the batch, s/1k steps over the run, the median and best windows, the
training and whole-script wall times, torch's version and threads.
Run it with Debian's python (/usr/bin/python3, python3-torch, python3-numpy), e.g.
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 benchmarks/peers/torch_realnvp_images.py --threads 2
"""
import argparse
import json
import math
import os
import struct
import time
import zlib

import numpy as np
import torch
from torch import nn

from peer_common import Loader, StepTrainer, adam_kwargs, add_adam_arg, add_threads_arg, \
    report_windows, set_threads, timed_windows
from torch_realnvp2d import Coupling, load_dgm_checkpoint
from torch_vae import DEFAULT_DATA, FILES, read_idx_images

ALPHA = 0.05
LOG_2PI = math.log(2.0 * math.pi)
LOG_256 = math.log(256.0)
ACTNORM_ROWS = 1000
PERM_SEED = 64  # permutation k: seed k + 64
TEST_BATCH = 500
N_SAMPLES = 64
PROG = "torch_realnvp_images.py"


def shuffle_order(dim, seed):
    """dgm's Fisher-Yates shuffle of 0..dim-1 driven by splitmix64 (host/nn/permutation.c)."""
    m64 = (1 << 64) - 1
    order = list(range(dim))
    z = seed & m64
    for i in range(dim - 1, 0, -1):
        z = (z + 0x9e3779b97f4a7c15) & m64
        r = z
        r = ((r ^ (r >> 30)) * 0xbf58476d1ce4e5b9) & m64
        r = ((r ^ (r >> 27)) * 0x94d049bb133111eb) & m64
        r ^= r >> 31
        j = r % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


class ActNorm(nn.Module):
    """dgm_actnorm: y = (x + bias)·exp(logs) per column."""

    def __init__(self, dim):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dim))
        self.logs = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return (x + self.bias) * torch.exp(self.logs), self.logs.sum()

    def inverse(self, y):
        return y * torch.exp(-self.logs) - self.bias

    @torch.no_grad()
    def init_data(self, x):
        """bias = −mean, logs = −log(std + 1e-6) over the rows (population std)."""
        mean = x.mean(dim=0)
        std = ((x - mean) ** 2).mean(dim=0).sqrt()
        self.bias.copy_(-mean)
        self.logs.copy_(-torch.log(std + 1e-6))


def coupling_inverse(c, y):
    """The inverse of torch_realnvp2d.Coupling c: transformed = (y − t)·exp(−s)."""
    cond, other = y[:, c.cond], y[:, c.other]
    h = c.net(cond)
    s = c.scale * torch.tanh(h[:, :c.n_other])
    t = h[:, c.n_other:]
    x_other = (other - t) * torch.exp(-s)
    return torch.cat((x_other, cond) if c.flip else (cond, x_other), dim=1)


class RealNVPImages(nn.Module):
    def __init__(self, dim, couplings=8, hidden=(1024, 1024)):
        super().__init__()
        self.dim = dim
        self.actnorm = nn.ModuleList([ActNorm(dim) for _ in range(couplings)])
        self.flow = nn.ModuleList([Coupling(k % 2 == 1, hidden, dim) for k in range(couplings)])
        # Fixed, not parameters (outside the state dict, as in dgm's checkpoints).
        self.order = [torch.tensor(shuffle_order(dim, k + PERM_SEED)) for k in range(couplings)]
        self.inverse_order = [torch.argsort(o) for o in self.order]

    @staticmethod
    def to_logit(x, u):
        """x in [0, 1], u ~ U(0, 1) -> w = logit(α + (1 − 2α)·y), y = (255·x + u)/256, and
        log|dw/dy| per row."""
        y = (255.0 * x + u) * (1.0 / 256.0)
        p = (1.0 - 2.0 * ALPHA) * y + ALPHA
        lp, l1p = torch.log(p), torch.log(1.0 - p)
        return lp - l1p, (math.log(1.0 - 2.0 * ALPHA) - lp - l1p).sum(dim=1)

    def flow_forward(self, h, init=False):
        """Logit space -> base, and Σ log|det| per row; init: ActNorm's data init on the way."""
        total = 0.0
        for k, (an, c) in enumerate(zip(self.actnorm, self.flow)):
            if init:
                an.init_data(h)
            h, ld = an(h)
            total = total + ld
            h = h[:, self.order[k]]
            h, ld = c(h)
            total = total + ld
        return h, total

    def flow_inverse(self, z):
        for k in range(len(self.flow) - 1, -1, -1):
            z = coupling_inverse(self.flow[k], z)
            z = z[:, self.inverse_order[k]]
            z = self.actnorm[k].inverse(z)
        return z

    def nll(self, x, u):
        """−log p per image, nats (the discrete pixels' bound with dequantization noise u)."""
        w, ld0 = self.to_logit(x, u)
        z, ld = self.flow_forward(w)
        return (0.5 * (z * z).sum(dim=1) + (0.5 * LOG_2PI + LOG_256) * self.dim) - (ld0 + ld)

    @torch.no_grad()
    def init_actnorm(self, x):
        """dgm's prepare: the ActNorms from the first min(N, 1000) rows, one dequantization
        draw. Returns the rows and their noise."""
        x = x[:ACTNORM_ROWS]
        u = torch.rand(x.shape)
        w, _ = self.to_logit(x, u)
        self.flow_forward(w, init=True)
        return x, u

    @torch.no_grad()
    def sample(self, n, generator):
        z = torch.randn(n, self.dim, generator=generator)
        w = self.flow_inverse(z)
        y = (torch.sigmoid(w) - ALPHA) / (1.0 - 2.0 * ALPHA)
        return y.clamp(0.0, 1.0)


def read_dgm_config(path):
    """The model options in a dgm checkpoint's metadata (a JSON object), or {}."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    meta = header.get("__metadata__", {})
    try:
        return json.loads(meta.get("config", "{}"))
    except ValueError:
        return {}


def parse_hidden(text):
    if isinstance(text, (list, tuple)):
        return tuple(int(h) for h in text)
    return tuple(int(h) for h in str(text).split(",") if h.strip())


def write_png_gray(path, img):
    """uint8 [H, W] as an 8-bit grayscale PNG (zlib + struct)."""
    h, w = img.shape

    def chunk(kind, data):
        body = kind + data
        crc = zlib.crc32(body) & 0xffffffff
        return struct.pack(">I", len(data)) + body + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def write_samples(model, path, seed):
    gen = torch.Generator().manual_seed(seed)
    x = model.sample(N_SAMPLES, gen).numpy()
    if path.endswith(".npy"):
        np.save(path, x)
        return "an array [%d, %d]" % x.shape
    side = int(round(math.sqrt(model.dim)))
    if side * side != model.dim:
        np.save(path + ".npy", x)
        return "%s.npy (not square images)" % path
    grid = x.reshape(8, 8, side, side).transpose(0, 2, 1, 3).reshape(8 * side, 8 * side)
    write_png_gray(path, np.round(grid * 255.0).astype(np.uint8))
    return "an 8x8 grid PNG"


class Trainer(StepTrainer):
    prog = PROG

    def __init__(self, model, train, seed, adam="auto", batch=64, lr=1e-3, log_every=500,
                 lr_warmup=0):
        gen = torch.Generator().manual_seed(seed)
        self.loader = Loader(train, batch, gen)
        self.model = model
        self.adam, kw = adam_kwargs(adam, "foreach", lr=lr, betas=(0.9, 0.999), eps=1e-8)
        self.opt = torch.optim.Adam(self.model.parameters(), **kw)
        self.log_every = log_every
        self.lr, self.lr_warmup = lr, lr_warmup

    def batch_loss(self, x):
        return self.model.nll(x, torch.rand(x.shape)).mean()

    def before_step(self):
        if self.step < self.lr_warmup:  # dgm's warm-up: lr·(step + 1)/warmup, step from 0
            for g in self.opt.param_groups:
                g["lr"] = self.lr * (self.step + 1) / self.lr_warmup
        elif self.step == self.lr_warmup and self.lr_warmup > 0:
            for g in self.opt.param_groups:
                g["lr"] = self.lr

    def logged(self):
        print("step %d: loss %.3f nats per image (%.4f bpd)"
              % (self.step, self.loss, self.loss / (self.model.dim * math.log(2.0))), flush=True)


def test_nll(model, x, seed):
    """Mean −log p over the rows of x, nats per image (accumulated in double), one
    dequantization draw from a generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], TEST_BATCH):
            xb = x[i:i + TEST_BATCH]
            total += model.nll(xb, torch.rand(xb.shape, generator=gen)).double().sum().item()
    return total / x.shape[0]


def check_inverse(model, x, seed):
    """max |w − f⁻¹(f(w))| in logit space on the rows of x."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w, _ = model.to_logit(x, torch.rand(x.shape, generator=gen))
        z, _ = model.flow_forward(w)
        return float((w - model.flow_inverse(z)).abs().max())


def check_step0(model, x, u):
    """The init rows' mean NLL against the closed form for a flow that standardizes them."""
    d = model.dim
    with torch.no_grad():
        w, ld0 = model.to_logit(x, u)
        std = ((w - w.mean(dim=0)) ** 2).mean(dim=0).sqrt().double()
        expected = (0.5 * d + 0.5 * d * LOG_2PI - ld0.double().mean().item()
                    + torch.log(std + 1e-6).sum().item() + d * LOG_256)
        got = model.nll(x, u).double().mean().item()
    return got, expected


def main():
    wall0 = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=DEFAULT_DATA,
                    help="the IDX files' folder (default %s)" % DEFAULT_DATA)
    ap.add_argument("--steps", type=int, default=3000, help="training steps")
    ap.add_argument("--batch", type=int, default=64, help="batch size")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    ap.add_argument("--lr-warmup", type=int, default=200, metavar="N",
                    help="linear learning-rate warm-up over the first N steps, as dgm's "
                         "schedule (lr·(step + 1)/N); default 200, dgm's for images; 0: none")
    ap.add_argument("--couplings", type=int, default=8, help="affine coupling layers")
    ap.add_argument("--hidden", default="1024,1024", help="hidden widths of each coupling's MLP")
    add_threads_arg(ap)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=500, help="print the loss every N steps")
    ap.add_argument("--test-rows", type=int, default=10000,
                    help="test bpd on the first N test images (0: none)")
    ap.add_argument("--time-only", type=int, default=0, metavar="N",
                    help="time --windows windows of N steps instead of a full run")
    ap.add_argument("--windows", type=int, default=3, help="timed windows with --time-only")
    ap.add_argument("--warmup", type=int, default=100, help="untimed steps with --time-only")
    ap.add_argument("--eval-dgm", metavar="CKPT",
                    help="load a dgm realnvp checkpoint and print its test bpd (no training)")
    ap.add_argument("--samples", metavar="FILE",
                    help="write 64 samples: an 8x8 grid PNG, or an array if FILE ends in .npy")
    ap.add_argument("--check", action="store_true",
                    help="print the step-0 NLL against its closed form and the inverse's error")
    add_adam_arg(ap, "foreach")
    args = ap.parse_args()

    hidden = parse_hidden(args.hidden)
    couplings = args.couplings
    if args.eval_dgm:
        cfg = read_dgm_config(args.eval_dgm)
        couplings = int(cfg.get("couplings", couplings))
        h = cfg.get("hidden", hidden)
        hidden = (1024, 1024) if h == "auto" else parse_hidden(h)  # dgm's auto on images
        for key, ok in (("activation", ("relu",)), ("actnorm", ("auto", "true", True)),
                        ("lu", ("false", False)), ("permute", ("auto", "random"))):
            if key in cfg and cfg[key] not in ok:
                raise SystemExit("%s: %s: %s=%s is not this peer's model"
                                 % (PROG, args.eval_dgm, key, cfg[key]))
    info = set_threads(args.threads, batch=args.batch, couplings=couplings, hidden=list(hidden))
    torch.manual_seed(args.seed)
    test = None
    if args.test_rows > 0 or args.check:
        test = read_idx_images(os.path.join(args.data_dir, FILES["test"]))
        if args.test_rows > 0:
            test = test[:args.test_rows]
    dim = test.shape[1] if test is not None else None

    def result_test(res, model):
        if args.test_rows > 0:
            nll = test_nll(model, test, args.seed)
            res["test_nll"] = nll
            res["test_bpd"] = nll / (model.dim * math.log(2.0))
            res["test_rows"] = test.shape[0]
            print("test: %.4f bpd, %.3f nats per image (%d images, one dequantization draw)"
                  % (res["test_bpd"], nll, test.shape[0]), flush=True)

    def check(model, what):
        err = check_inverse(model, test[:8], args.seed + 1)
        print("check (%s): max |w - f^-1(f(w))| in logit space on 8 test images: %.3g"
              % (what, err), flush=True)
        print("json: " + json.dumps(dict(bench="realnvp_images_torch", what="check",
                                         check="inverse", at=what, max_abs_err=err)), flush=True)

    if args.eval_dgm:
        model = RealNVPImages(dim or 784, couplings, hidden)
        meta = load_dgm_checkpoint(model, args.eval_dgm)
        res = dict(bench="realnvp_images_torch", what="dgm_checkpoint",
                   checkpoint=args.eval_dgm, step=meta.get("step"), **info)
        print("dgm checkpoint %s (step %s) in the torch model:" % (args.eval_dgm, meta.get("step")))
        result_test(res, model)
        if args.check:
            check(model, "dgm checkpoint")
        if args.samples:
            print("samples: %s, %s" % (args.samples, write_samples(model, args.samples, args.seed)))
        print("json: " + json.dumps(res))
        return

    train = read_idx_images(os.path.join(args.data_dir, FILES["train"]))
    model = RealNVPImages(train.shape[1], couplings, hidden)
    x0, u0 = model.init_actnorm(train)
    t = Trainer(model, train, args.seed, args.adam, args.batch, args.lr, args.log_every,
                args.lr_warmup)
    info["adam"] = t.adam
    info["train_rows"] = train.shape[0]
    info["lr"] = args.lr
    info["lr_warmup"] = args.lr_warmup
    if args.check:
        got, expected = check_step0(model, x0, u0)
        print("check (step 0): mean NLL of the %d ActNorm rows %.4f nats, closed form %.4f "
              "(difference %.3g)" % (x0.shape[0], got, expected, got - expected), flush=True)
        print("json: " + json.dumps(dict(bench="realnvp_images_torch", what="check",
                                         check="step0_nll", nll=got, expected=expected,
                                         rows=x0.shape[0])), flush=True)
        check(model, "step 0")

    def run(n):
        loss = None
        for _ in range(n):
            loss = t.train_step()
        return loss

    def window(w, n, sec_per_k, loss):
        print("window %d: %.3f s per 1k steps (%d steps), loss %.4f at step %d"
              % (w, sec_per_k, n, loss, t.step), flush=True)
        print("json: " + json.dumps(dict(bench="realnvp_images_torch", what="window", window=w,
                                         seconds_per_1k_steps=sec_per_k, steps=n, loss=loss,
                                         at_step=t.step, **info)), flush=True)

    times = []
    if args.time_only > 0:
        run(args.warmup)
        times = timed_windows(run, args.time_only, args.windows,
                              lambda w, sec, loss: window(w, args.time_only, sec, loss))
        total_sec = None
    else:
        # The full run in windows of 1,000 steps (the last one shorter), clock stopped only
        # for the window's line.
        total_sec, done = 0.0, 0
        while done < args.steps:
            n = min(1000, args.steps - done)
            t0 = time.perf_counter()
            loss = run(n)
            sec = time.perf_counter() - t0
            total_sec += sec
            done += n
            times.append(sec * 1000.0 / n)
            window(len(times), n, times[-1], loss.item())
    res = dict(bench="realnvp_images_torch", what="result", steps=t.step, seed=args.seed, **info)
    if times:
        sp = report_windows("realnvp_images_torch", "seconds_per_1k_steps", times, info,
                            windows=len(times))
        res["median_window_s"] = sp["median"]
        res["best_window_s"] = sp["min"]
    if total_sec is not None and t.step > 0:
        res["seconds_per_1k_steps"] = total_sec * 1000.0 / t.step
        res["seconds_total"] = total_sec
        print("trained %d steps in %.1f s: %.3f s per 1k steps"
              % (t.step, total_sec, res["seconds_per_1k_steps"]), flush=True)
    result_test(res, model)
    if args.check:
        check(model, "step %d" % t.step)
    if args.samples:
        print("samples: %s, %s" % (args.samples, write_samples(model, args.samples, args.seed)))
    res["wall_s"] = time.perf_counter() - wall0
    print("json: " + json.dumps(res))


if __name__ == "__main__":
    main()

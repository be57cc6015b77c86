#!/usr/bin/python3
"""PyTorch peer of dgm's multi-scale RealNVP: `dgm train realnvp --data fashion-mnist` (--net auto -> conv) in PyTorch.

The model is dgm's multi-scale flow (Dinh et al. 2017, section 3.6; host/models/realnvp.c,
host/nn/multiscale_flow.c, conv_coupling.c, actnorm.c, permutation.c's squeeze), on rows
x in [0, 1]^D whose columns are a [C, H, W] image (Fashion-MNIST: [1, 28, 28], D = 784):

1. Dequantization and logit (host/models/flow_common.c): y = (255·x + u)/256, u ~ U(0, 1)
   per pixel (a new draw per batch, and one draw in the test NLL), p = α + (1 − 2α)·y with
   α = 0.05, w = log p − log(1 − p); log|det| = Σ_pixels [log(1 − 2α) − log p − log(1 − p)]
   (torch_realnvp_images.py's to_logit).
2. The flow on [B, D] rows, the image shape [C, H, W] tracked alongside. Per scale
   (--scales S, default 2):
     3 checkerboard couplings on [C, H, W] (flip 0, 1, 0),
     a squeeze to [4C, H/2, W/2]: column (c·4 + di·2 + dj, i, j) takes (c, 2i + di,
     2j + dj) (F.pixel_unshuffle(·, 2), as dgm_permutation_create_squeeze orders it),
     3 channel couplings on [4C, H/2, W/2] (flip 0, 1, 0),
     a factor-out: the last half of the columns (the last 2C channels) leave the flow as
     they are, the first half [2C, H/2, W/2] go on;
   then 4 checkerboard couplings (flip 0, 1, 0, 1). The base point is
   z = [h_final, f_last, ..., f_first] (the factored-out parts in reverse order), the prior
   N(0, I) on all D values. On 28x28 with 2 scales: [1,28,28] x3, [4,14,14] x3 -> [2,14,14]
   x3, [8,7,7] x3 -> [4,7,7] x4: 16 couplings.
   Before each coupling k (with --actnorm, auto: on images) an ActNorm k over the columns
   active there (per column, not per channel: [D], [D/2], ...): h = (h + bias)·exp(logs),
   log|det| = Σ logs (torch_realnvp_images.ActNorm). Data-dependent initialization, once
   before training: the first min(N, 1000) training images (file order), one dequantization
   draw, through the flow; at ActNorm k bias = −mean, logs = −log(std + 1e-6) over those rows
   (population std) of the rows reaching it (fresh couplings are the identity).
3. Coupling k (dgm_conv_coupling): a 0/1 mask m over the [C, H, W] columns, 1 on the
   conditioning pixels: checkerboard (i + j) even, channel c < C/2; flip negates it. The
   conditioner is a ResNet of the masked image x·m (all C channels, the others zeroed):
     h = in(x·m)                                 in: Conv2d(C, F, 3, padding 1)
     per block b < --res-blocks (1): h = h + res.b.conv2(relu(res.b.conv1(relu(h))))
                                                 conv1, conv2: Conv2d(F, F, 3, padding 1)
     h = out(relu(h))                            out: Conv2d(F, 2C, 3, padding 1), zeroed
   (F = --features, 32; every convolution with a bias and PyTorch's default init,
   U(±1/√fan_in), but `out`, weight and bias 0, so that a fresh coupling is the identity.)
   The first C output channels are h_s, the last C the shift t; s = scale·tanh(h_s)·(1 − m),
   t = t·(1 − m), with a learned per-column `scale` [C·H·W] (starts at 1);
   y = x·exp(s) + t (the conditioning pixels pass: s = t = 0 there), log|det| = Σ s.
   Inverse: s, t from y·m (= x·m), x = (y − t)·exp(−s).
4. −log p per image, nats: ½Σz² + (D/2)·log 2π − Σ log|det| + D·log 256 (the bound on the
   discrete pixels); bits per dimension = that / (D·ln 2). The loss is its batch mean.
   Samples: z ~ N(0, I), the inverse, then sigmoid, (· − α)/(1 − 2α), clamped to [0, 1].

Parameter names are dgm's (actnorm.<k>.bias, actnorm.<k>.logs, flow.<k>.in.{weight,bias},
flow.<k>.res.<b>.conv{1,2}.{weight,bias}, flow.<k>.out.{weight,bias}, flow.<k>.scale; the
masks are buffers outside the state dict), so a dgm checkpoint loads with load_state_dict,
strictly.

The loop is dgm train's (torch_images.py's Trainer): batches from the 60,000 training images
(a fresh permutation per epoch, no drop_last), a new dequantization draw per batch,
zero_grad, backward, the step's learning rate (dgm's linear warm-up lr·(step + 1)/N over the
first N steps, then constant or the recorded cosine), gradient clipping to --clip (global
norm; off by default), the optimizer. dgm's defaults for images (realnvp.c's
train_defaults): 3,000 steps of batch 64, Adam 1e-3 betas (0.9, 0.999) eps 1e-8 after a
200-step warm-up, a loss line every 100 steps; a checkpoint's record wins.

  --dgm-config CKPT  the setup of a dgm realnvp checkpoint: its model options (--scales,
                     --features, --res-blocks, --actnorm; --net must resolve to conv, as
                     `dgm train realnvp` resolves auto) and run (`extra`'s train_run:
                     batch, optimizer, lr, betas, eps, schedule, warm-up, clip; the steps:
                     the metadata's `step`); flags given on the command line override them
  --eval-dgm CKPT    no training: load a dgm checkpoint's tensors into this model (strict)
                     and print its test bpd and NLL (--test-rows images, one dequantization
                     draw); it should equal `dgm eval CKPT --data fashion-mnist --metric
                     bpd` to within the dequantization noise (the draws differ); with --n
                     and --out also samples from it
  --sample-only F    no training: F a --save file or a dgm checkpoint; --n samples to --out
  model options      --scales (2), --features (32), --res-blocks (1), --actnorm (auto)
  run options        --steps, --batch, --lr, --optimizer, --betas, --weight-decay, --clip,
                     --lr-warmup N (dgm's defaults, or the checkpoint's)
  --n N              samples to draw after training (default 5000; 0: none), in chunks of
                     --sample-batch (1000)
  --out FILE.npy     the samples, float32 [N, D] in [0, 1] (default samples.npy); --png
                     FILE: the first 64 as an 8x8 grid
  --save FILE.pt     the trained state (dgm's names) with the resolved setup
  --test-rows N      the test bpd on the first N test images (default 10000; 0: none),
                     batches of 500, one dequantization draw (a generator seeded --seed)
  --check            also print max |w − f⁻¹(f(w))| in logit space on 8 test images
  --threads T        torch.set_num_threads(T) (default 2); OPENBLAS_NUM_THREADS: set it in
                     the environment
  --seed S, --adam A, --device D, --data-dir DIR, --log-every N: as torch_images.py's

Output: progress lines and one JSON line (prefix "json: ", bench "images_peer", family
"realnvp"; what "result" after training, "dgm_checkpoint" for --eval-dgm, "samples" for
--sample-only), with the fields run_bench_images.sh reads from torch_images.py's: steps,
batch, s_per_step (the median over the steps after the first 5, each timed alone), train_s,
sample_s, sampler, torch, threads, openblas_threads, adam; plus test_bpd, test_nll
(nats per image), test_rows.
Run it with Debian's python (/usr/bin/python3, python3-torch, python3-numpy), e.g.
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 benchmarks/peers/torch_realnvp_multiscale.py \\
      --dgm-config runs/realnvp/checkpoint.safetensors --n 5000 --out peer.npy --save peer.pt
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from peer_common import set_threads
from torch_convnets import read_safetensors
from torch_images import Trainer, add_loop_options, add_run_options, optim_defaults, read_dgm_meta, run_from_record, \
    steps_of, train_timed, write_grid
from torch_realnvp_images import ALPHA, ACTNORM_ROWS, LOG_256, LOG_2PI, TEST_BATCH, ActNorm, \
    RealNVPImages
from torch_vae import FILES, read_idx_images

PROG = "torch_realnvp_multiscale.py"
MAX_SCALES = 4  # multiscale_flow.c's MS_MAX_SCALES
SAMPLER = "the flow's inverse, one pass"
# `dgm train realnvp`'s options with dgm's defaults (realnvp.c's option table).
OPTIONS = [("couplings", "8"), ("hidden", "auto"), ("activation", "relu"), ("actnorm", "auto"),
           ("lu", "false"), ("permute", "auto"), ("net", "auto"), ("scales", "2"),
           ("features", "32"), ("res-blocks", "1")]
FLAGS = ("scales", "features", "res-blocks", "actnorm", "net")  # the ones this peer takes


# ---------------------------------------------------------------- the model

class ResBlock(nn.Module):
    """h + conv2(relu(conv1(relu(h)))) (conv_coupling.c's res.<b>)."""

    def __init__(self, features):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, h):
        return h + self.conv2(F.relu(self.conv1(F.relu(h))))


class ConvCoupling(nn.Module):
    """dgm_conv_coupling: a masked affine coupling on [B, C·H·W] rows with a ResNet
    conditioner of the masked image."""

    def __init__(self, c, h, w, kind, flip, features, blocks):
        super().__init__()
        self.c, self.h, self.w, self.dim = c, h, w, c * h * w
        ch = torch.arange(c).view(c, 1, 1)
        i = torch.arange(h).view(1, h, 1)
        j = torch.arange(w).view(1, 1, w)
        first = ((i + j) % 2 == 0).expand(c, h, w) if kind == "checkerboard" \
            else (ch < c // 2).expand(c, h, w)
        mask = (first != flip).float().reshape(1, -1)
        self.register_buffer("mask", mask, persistent=False)
        self.register_buffer("free_mask", 1.0 - mask, persistent=False)
        self.add_module("in", nn.Conv2d(c, features, 3, padding=1))  # `in`: dgm's name
        self.res = nn.ModuleList([ResBlock(features) for _ in range(blocks)])
        self.out = nn.Conv2d(features, 2 * c, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # a fresh coupling is the identity
        nn.init.zeros_(self.out.bias)
        self.scale = nn.Parameter(torch.ones(self.dim))

    def scale_shift(self, x):
        b = x.shape[0]
        h = getattr(self, "in")((x * self.mask).view(b, self.c, self.h, self.w))
        for blk in self.res:
            h = blk(h)
        h = self.out(F.relu(h)).reshape(b, 2 * self.dim)
        s = torch.tanh(h[:, :self.dim]) * self.scale * self.free_mask
        return s, h[:, self.dim:] * self.free_mask

    def forward(self, x):
        s, t = self.scale_shift(x)
        return x * torch.exp(s) + t, s.sum(dim=1)

    def inverse(self, y):
        s, t = self.scale_shift(y)  # y·mask = x·mask
        return (y - t) * torch.exp(-s)


class MultiscaleRealNVP(nn.Module):
    """dgm_multiscale_flow with the image model around it (realnvp.c's nll_rows, sample)."""

    def __init__(self, channels=1, height=28, width=28, scales=2, features=32, blocks=1,
                 actnorm=True):
        super().__init__()
        side = 1 << scales
        if not 0 <= scales <= MAX_SCALES or height % side or width % side \
                or channels * height * width > 4096:
            raise SystemExit("%s: [%d, %d, %d] images with %d scales: 0 to %d scales, the sides "
                             "divisible by 2 per scale, at most 4096 values"
                             % (PROG, channels, height, width, scales, MAX_SCALES))
        self.dim = channels * height * width
        self.use_actnorm = actnorm
        self.actnorm = nn.ModuleList()
        self.flow = nn.ModuleList()
        self.steps = []  # ("couple", k) | ("squeeze", (c, h, w)) | ("factor", width)
        img = [channels, height, width]

        def couple(kind, flip):
            width_ = img[0] * img[1] * img[2]
            if actnorm:
                self.actnorm.append(ActNorm(width_))
            self.flow.append(ConvCoupling(*img, kind, flip, features, blocks))
            self.steps.append(("couple", len(self.flow) - 1))

        for _ in range(scales):
            for i in range(3):
                couple("checkerboard", i % 2 == 1)
            self.steps.append(("squeeze", tuple(img)))
            img = [img[0] * 4, img[1] // 2, img[2] // 2]
            for i in range(3):
                couple("channel", i % 2 == 1)
            self.steps.append(("factor", img[0] * img[1] * img[2]))
            img[0] //= 2
        for i in range(4):
            couple("checkerboard", i % 2 == 1)
        self.final_width = img[0] * img[1] * img[2]

    def flow_forward(self, h, init=False):
        """Logit space -> base [B, D], and Σ log|det| per row; init: each ActNorm set from
        the rows reaching it first (dgm_multiscale_flow_forward's init_actnorm)."""
        total, outs = 0.0, []
        for kind, arg in self.steps:
            if kind == "squeeze":
                c, hh, ww = arg
                h = F.pixel_unshuffle(h.reshape(-1, c, hh, ww), 2).reshape(h.shape[0], -1)
            elif kind == "factor":
                outs.append(h[:, arg // 2:])
                h = h[:, :arg // 2]
            else:
                if self.use_actnorm:
                    an = self.actnorm[arg]
                    if init:
                        an.init_data(h)
                    h, ld = an(h)
                    total = total + ld
                h, ld = self.flow[arg](h)
                total = total + ld
        return torch.cat([h] + outs[::-1], dim=1), total

    def flow_inverse(self, z):
        at = self.final_width
        h = z[:, :at]
        for kind, arg in reversed(self.steps):
            if kind == "squeeze":
                c, hh, ww = arg
                h = F.pixel_shuffle(h.reshape(-1, 4 * c, hh // 2, ww // 2), 2).reshape(h.shape[0], -1)
            elif kind == "factor":
                n = arg - arg // 2
                h = torch.cat([h, z[:, at:at + n]], dim=1)
                at += n
            else:
                h = self.flow[arg].inverse(h)
                if self.use_actnorm:
                    h = self.actnorm[arg].inverse(h)
        return h

    def nll(self, x, u):
        """−log p per image, nats (the discrete pixels' bound with dequantization noise u)."""
        w, ld0 = RealNVPImages.to_logit(x, u)
        z, ld = self.flow_forward(w)
        return (0.5 * (z * z).sum(dim=1) + (0.5 * LOG_2PI + LOG_256) * self.dim) - (ld0 + ld)

    # torch_images.Trainer's interface
    def trainable(self):
        return self.parameters()

    def loss(self, x, step):
        return self.nll(x, torch.rand_like(x)).mean()

    def after_step(self, k):
        pass

    @torch.no_grad()
    def init_actnorm(self, x):
        """realnvp.c's prepare: the ActNorms from the first min(N, 1000) rows, one draw."""
        if not self.use_actnorm:
            return
        x = x[:ACTNORM_ROWS]
        w, _ = RealNVPImages.to_logit(x, torch.rand_like(x))
        self.flow_forward(w, init=True)

    @torch.no_grad()
    def sample(self, n, gen, opts=None):
        z = torch.randn(n, self.dim, generator=gen, device=gen.device)
        y = (torch.sigmoid(self.flow_inverse(z)) - ALPHA) / (1.0 - 2.0 * ALPHA)
        return y.clamp(0.0, 1.0)


# ---------------------------------------------------------------- the setup

def image_shape(meta):
    """[C, H, W] from a checkpoint's "dim" ("784 28 28" or "D C H W"); Fashion-MNIST's
    without one."""
    parts = [int(v) for v in str(meta.get("dim", "")).split()]
    if len(parts) == 3:
        return 1, parts[1], parts[2]
    if len(parts) == 4:
        return parts[1], parts[2], parts[3]
    return 1, 28, 28


def model_of(cfg, shape):
    """The multi-scale flow cfg names, --net resolved as realnvp.c resolves it."""
    c, h, w = shape
    for key, ok in (("activation", ("relu",)), ("lu", ("false", False)), ("net", ("auto", "conv"))):
        if key in cfg and cfg[key] not in ok:
            raise SystemExit("%s: %s=%s is not this peer's model (the MLP flow's peer: "
                             "torch_realnvp_images.py)" % (PROG, key, cfg[key]))
    scales = int(cfg["scales"])
    side = 1 << scales if 0 <= scales <= MAX_SCALES else 0
    if cfg["net"] == "auto" and (not side or h % side or w % side or c * h * w > 4096):
        raise SystemExit("%s: --net auto resolves to mlp on [%d, %d, %d] with %d scales: not this "
                         "peer's model (torch_realnvp_images.py)" % (PROG, c, h, w, scales))
    an = str(cfg["actnorm"]).lower()
    if an not in ("auto", "true", "false"):
        raise SystemExit("%s: --actnorm: true, false or auto" % PROG)
    return MultiscaleRealNVP(c, h, w, scales, int(cfg["features"]), int(cfg["res-blocks"]),
                             an != "false")  # auto: on images


def resolve(args, meta):
    """The model config and the run: dgm's defaults, a checkpoint's record, the flags."""
    cfg = dict(OPTIONS)
    if meta:
        if meta.get("model") != "realnvp":
            raise SystemExit("%s: a %s checkpoint, not realnvp" % (PROG, meta.get("model")))
        if meta.get("data") not in (None, "fashion-mnist"):
            print("warning: the checkpoint was trained on %s; this peer trains on Fashion-MNIST"
                  % meta.get("data"), flush=True)
        given = json.loads(meta.get("config", "{}"))
        if "net" not in given:  # realnvp.c's legacy_options: from before the multi-scale flow
            given["net"] = "mlp"
        cfg.update(given)
    for key in FLAGS:
        v = getattr(args, key.replace("-", "_"))
        if v is not None:
            cfg[key] = v
    # realnvp.c's train_defaults on images
    run = dict(steps=3000, epochs=None, batch=64, schedule="constant", warmup=200, min_lr=0.0,
               clip=0.0, log_every=100, **optim_defaults("adam"))
    extra = json.loads(meta["extra"]) if meta and "extra" in meta else {}
    if "train_run" in extra:
        run = run_from_record(extra["train_run"])
    if meta and meta.get("step"):  # what dgm trained
        run["steps"], run["epochs"] = int(meta["step"]), None
    if args.optimizer and args.optimizer != run["optimizer"]:  # dgm resets the optimizer
        run.update(optim_defaults(args.optimizer))
    for key in ("lr", "weight_decay", "clip", "batch"):
        v = getattr(args, key)
        if v is not None:
            run[key] = v
    if args.betas:
        run["betas"] = tuple(float(b) for b in args.betas.split(","))
    if args.steps:
        run["steps"], run["epochs"] = args.steps, None
    if args.lr_warmup is not None:
        run["warmup"] = args.lr_warmup
    return cfg, run


def load_dgm(model, path):
    """A dgm checkpoint's tensors into model, strictly by name and shape."""
    try:
        model.load_state_dict(read_safetensors(path), strict=True)
    except RuntimeError as e:
        raise SystemExit("%s: %s does not load into the multi-scale flow: %s" % (PROG, path, e))


# ---------------------------------------------------------------- evaluation and output

def test_nll(model, x, seed, device):
    """Mean −log p over the rows of x, nats per image (accumulated in double), one
    dequantization draw (on the CPU, from a generator seeded with `seed`)."""
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], TEST_BATCH):
            xb = x[i:i + TEST_BATCH]
            u = torch.rand(xb.shape, generator=gen).to(device)
            total += model.nll(xb.to(device), u).double().sum().item()
    return total / x.shape[0]


def check_inverse(model, x, seed, device):
    """max |w − f⁻¹(f(w))| in logit space on the rows of x."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w, _ = RealNVPImages.to_logit(x.to(device), torch.rand(x.shape, generator=gen).to(device))
        z, _ = model.flow_forward(w)
        return float((w - model.flow_inverse(z)).abs().max())


def draw(model, n, seed, chunk, device):
    gen = torch.Generator(device=device).manual_seed(seed)
    out = [model.sample(min(chunk, n - i), gen).float().cpu() for i in range(0, n, chunk)]
    return torch.cat(out).numpy().astype(np.float32)


def main():
    wall0 = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dgm-config", metavar="CKPT", help="the setup of a dgm checkpoint")
    ap.add_argument("--eval-dgm", metavar="CKPT", help="the test bpd of a dgm checkpoint")
    ap.add_argument("--sample-only", metavar="FILE", help="sample a --save file or dgm checkpoint")
    ap.add_argument("--n", type=int, default=5000, help="samples to draw (default 5000)")
    ap.add_argument("--out", help="the samples (.npy, float32 [N, D]; default samples.npy, "
                                  "with --eval-dgm none)")
    ap.add_argument("--png", metavar="FILE", help="also the first 64 samples as a PNG grid")
    ap.add_argument("--save", metavar="FILE.pt", help="save the trained state and setup")
    ap.add_argument("--test-rows", type=int, default=10000,
                    help="the test bpd on the first N test images (0: none)")
    ap.add_argument("--check", action="store_true", help="print the inverse's error")
    add_loop_options(ap)
    g = ap.add_argument_group("model options (dgm train realnvp's; default: the checkpoint's or dgm's)")
    g.add_argument("--scales", help="squeeze-and-factor-out levels (2)")
    g.add_argument("--features", help="channels of each coupling's ResNet (32)")
    g.add_argument("--res-blocks", help="residual blocks of each coupling's ResNet (1)")
    g.add_argument("--actnorm", help="ActNorm before each coupling: true, false, auto (auto)")
    g.add_argument("--net", help="conv or auto (mlp: torch_realnvp_images.py)")
    add_run_options(ap, epochs=False, warmup_help="warm-up steps (dgm's: 200)")
    args = ap.parse_args()
    if sum(bool(v) for v in (args.dgm_config, args.eval_dgm, args.sample_only)) > 1:
        ap.error("--dgm-config, --eval-dgm and --sample-only exclude each other")

    device = torch.device(args.device)
    info = set_threads(args.threads, device=str(device))
    torch.manual_seed(args.seed)
    res = dict(bench="images_peer", family="realnvp", **info)

    saved = None
    source = args.dgm_config or args.eval_dgm or args.sample_only
    if source and source.endswith(".pt"):
        if not args.sample_only:
            ap.error("a .pt file goes with --sample-only")
        saved = torch.load(source, map_location="cpu")
        if saved.get("family") != "realnvp":
            raise SystemExit("%s: %s is not a realnvp peer state" % (PROG, source))
        cfg, run, shape = saved["cfg"], saved["run"], tuple(saved["shape"])
    else:
        meta = read_dgm_meta(source) if source else {}
        cfg, run = resolve(args, meta)
        shape = image_shape(meta)
    model = model_of(cfg, shape).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    test = None
    if args.test_rows > 0 or args.check:
        test = read_idx_images(os.path.join(args.data_dir, FILES["test"]))
        if test.shape[1] != model.dim:
            raise SystemExit("%s: the test images have %d values, the model %d"
                             % (PROG, test.shape[1], model.dim))

    def report_test():
        if args.test_rows > 0:
            rows = test[:args.test_rows]
            t0 = time.perf_counter()
            nll = test_nll(model, rows, args.seed, device)
            res.update(test_nll=nll, test_bpd=nll / (model.dim * math.log(2.0)),
                       test_rows=rows.shape[0], test_s=time.perf_counter() - t0)
            print("test: %.4f bpd, %.3f nats per image (%d images, one dequantization draw)"
                  % (res["test_bpd"], nll, rows.shape[0]), flush=True)
        if args.check:
            err = check_inverse(model, test[:8], args.seed + 1, device)
            res["inverse_max_abs_err"] = err
            print("check: max |w - f^-1(f(w))| in logit space on 8 test images: %.3g" % err,
                  flush=True)

    def write_samples():
        args.out = args.out or "samples.npy"
        t0 = time.perf_counter()
        x = draw(model, args.n, args.seed, args.sample_batch, device)
        sample_s = time.perf_counter() - t0
        np.save(args.out, x)
        if args.png:
            write_grid(args.png, x)
        print("wrote %s: %d samples (%s) in %.1f s" % (args.out, args.n, SAMPLER, sample_s),
              flush=True)
        res.update(n=args.n, sample_s=sample_s, sampler=SAMPLER, out=args.out,
                   min=float(x.min()), max=float(x.max()))

    if args.eval_dgm or args.sample_only:
        model.eval()
        if saved is not None:
            model.load_state_dict(saved["state"])
            res["trained_steps"] = saved.get("steps")
        else:
            load_dgm(model, source)
            res["trained_steps"] = int(read_dgm_meta(source).get("step", 0))
        res.update(what="dgm_checkpoint" if args.eval_dgm else "samples", source=source,
                   params=n_params, cfg=cfg)
        print("%s (step %s) in the torch model, %d parameters"
              % (source, res["trained_steps"], n_params), flush=True)
        if args.eval_dgm:
            report_test()
        if args.sample_only or (args.n > 0 and args.out):
            write_samples()
        res["wall_s"] = time.perf_counter() - wall0
        print("json: " + json.dumps(res), flush=True)
        return

    train = read_idx_images(os.path.join(args.data_dir, FILES["train"]))
    if train.shape[1] != model.dim:
        raise SystemExit("%s: the training images have %d values, the model %d"
                         % (PROG, train.shape[1], model.dim))
    train = train.to(device)
    model.init_actnorm(train)
    total = steps_of(run, train.shape[0])
    log_every = args.log_every if args.log_every is not None else run["log_every"]
    gen = torch.Generator().manual_seed(args.seed)  # the loader's permutations
    t = Trainer(model, train, run, total, gen, args.adam, log_every)
    print("realnvp peer (multi-scale, [%d, %d, %d], %s scales, %s features, %s res-blocks, "
          "actnorm %s): %d steps of batch %d, %s lr %g (warm-up %d, %s), clip %g; %d trainable "
          "parameters" % (*shape, cfg["scales"], cfg["features"], cfg["res-blocks"],
                          model.use_actnorm, total, run["batch"], run["optimizer"], run["lr"],
                          run["warmup"], run["schedule"], run["clip"], n_params), flush=True)
    model.train()
    res.update(train_timed(t, total, run, device, n_params, cfg))
    model.eval()
    if args.save:
        torch.save(dict(family="realnvp", cfg=cfg, run=run, shape=list(shape), steps=total,
                        state=model.state_dict(), torch=torch.__version__), args.save)
    report_test()
    if args.n > 0:
        write_samples()
    res["wall_s"] = time.perf_counter() - wall0
    print("json: " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

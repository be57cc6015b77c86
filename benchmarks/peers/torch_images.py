#!/usr/bin/python3
"""PyTorch peer of dgm's image families: `dgm train fm|ddpm|gan|vae --data fashion-mnist` in PyTorch.

For issue 29 (every family's FID within 1.1x of its PyTorch peer's at the same budget):
this script trains the network dgm trains, with dgm's objective, loop and budget, then
draws --n samples with dgm's sampler and writes them as a float32 .npy [N, 784] (pixels
as dgm's sampler leaves them: [0, 1] but for flow matching, which dgm does not clip), so
that `dgm compare samples.npy fashion-mnist --metric fid,is` scores both sides with
dgm's classifier. The data: the 60,000 training images of the IDX files, scaled to [0, 1]
(dgm_dataset_load_idx); the networks: the module trees of torch_convnets.py (UNet, DCGAN
pair, convolutional VAE), whose parameter names are dgm's and which load dgm's tensors
strictly, or dgm's MLPs as nn.Sequential (`--net mlp`). --net auto (dgm's default for fm,
ddpm and gan) is resolved as dgm resolves it on 28x28 images: the UNet, the DCGAN pair
(vae: conv, should its default become auto too).

--model fm (host/models/flow_matching.c): I-CFM. x_1 = 2·x − 1 (images in [−1, 1]), x_0 ~
   N(0, I), t ~ U(0, 1) per image, ε ~ N(0, I), x_t = x_0 + t·(x_1 − x_0) + σ·ε (σ =
   --sigma, 0.1), loss MSE(v(x_t, t), x_1 − x_0) (mean over all values); --coupling ot:
   x_1's rows reordered by the exact minimum-cost assignment to x_0's (squared Euclidean;
   scipy's linear_sum_assignment, dgm's own solver finds the same optimum). The velocity
   network (host/models/time_net.c): --net unet: the UNet (--channels, --blocks,
   --attention sides, none, or auto: every level but the first; --dropout) fed the
   sinusoidal embedding of the raw t in [0, 1] at the first level's width (emb_dim =
   channels[0]: time_net.c embeds a raw t at that width, frequencies 1 .. 1e-4);
   --net mlp: an MLP of [x, t] (--hidden, auto 1024,1024,1024 on images; --activation,
   selu). Sampling: x ~ N(0, I) at t = 0 to t = 1 in --sample-steps (100) steps of h = 1/S,
   t_i = i·h, --solver euler (x += h·v), heun (the trapezoid of v(x, t) and v(x + h·v,
   t + h)) or rk4 (host/models/ode.c); then x·0.5 + 0.5, NOT clipped (dgm's sample does
   not clip). --ema d > 0 (default −1: 0.999 with the UNet, else 0): the moving
   average samples.
--model ddpm (host/models/ddpm.c): T = --timesteps (1000), β linear 1e-4 .. 0.02 (or
   --schedule cosine), ᾱ in double; t = ⌊u·T⌋, u ~ U(0, 1), x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε
   (x_0 = 2·x − 1; coefficients float32 of the double tables), loss MSE(ε̂, ε). The noise
   network: the UNet fed the sinusoidal embedding (--embedding, 128 wide) of the integer t,
   or the MLP of [x, embedding(t)] (--activation gelu). Sampling from the moving average
   (--ema 0.999) from x ~ N(0, I): --sampler ancestral over all T steps, x_{t−1} = mean +
   σ_t·z, σ_t² = β_t (--variance beta) or β̃_t (posterior), no noise at t = 0; with
   --clip-x0 (auto: on for images) the mean is the posterior mean at x̂_0 = (x_t −
   √(1 − ᾱ_t)·ε̂)/√ᾱ_t clipped to [−1, 1]: √ᾱ_{t−1}·β_t/(1 − ᾱ_t)·x̂_0 + √α_t·(1 −
   ᾱ_{t−1})/(1 − ᾱ_t)·x_t, else (x_t − β_t/√(1 − ᾱ_t)·ε̂)/√α_t; --sampler ddim: the
   timesteps i·⌊T/S⌋ for i = S−1 .. 0 (S = --sample-steps, 50), x_prev = √ᾱ_prev·x̂_0 +
   √(max(0, 1 − ᾱ_prev − σ²))·ε̂ + σ·z, σ = η·√((1 − ᾱ_prev)/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev)
   (--eta, 0), with a clipped x̂_0 the ε̂ that goes with it, (x_t − √ᾱ_t·x̂_0)/√(1 − ᾱ_t).
   Then x·0.5 + 0.5 (in [0, 1] through the clipping).
   The moving average for fm and ddpm (host/models/ema_weights.c): starts at the initial
   weights; after optimizer step k = 1, 2, ...: ema = d_k·ema + (1 − d_k)·w, d_k = min(d,
   (1 + k)/(10 + k)).
--model gan (host/models/gan.c, gan_loss.c): --net dcgan: compare_gan's InfoGAN-style pair
   (DCGANGenerator with --g-bn batch norm and tanh output, DCGANDiscriminator; --net mlp:
   dgm's MLP pair, --d-maxout 1 only); z ~ N(0, I) (--z uniform: U(−1, 1)) of --latent
   dimensions (0: 64 on images). One iteration: --d-steps discriminator updates (0: 1, 5
   for wgan-gp), each on a fresh data batch in [−1, 1] (an epoch's short last batch that
   --pack does not divide is skipped, as dgm) and as many generated images (the generator
   in train mode, no gradient: its batch-norm statistics move), both through D in one pass;
   PacGAN packing (--pack k): k consecutive images stacked along the channels (MLP: side
   by side); loss --loss ns or minimax: E softplus(−v_real) + E softplus(v_fake), wgan-gp:
   E v_fake − E v_real + λ·E(‖∇D(x̂)‖ − 1)² at interpolates (‖·‖ = √(Σg² + 1e-12)), plus
   γ/2·E‖∇_x Σ D(x_real)‖² (R1, --r1 γ; −1: 1, or 0 for wgan-gp; the gradient with respect
   to the unpacked real images in [−1, 1], its square summed per image, averaged); then
   one generator update on a batch of the loader's batch size (rounded down to the pack):
   ns E softplus(−v), minimax −E softplus(v), wgan-gp −E v. Two Adams, the discriminator's
   at lr·--d-lr-mult (0: 1 for wgan-gp and the DCGAN pair, else 4: TTUR), both with the
   run's schedule. --ema d
   > 0: a generator average, a copy of the generator at the first iteration, then ema =
   d·ema + (1 − d)·w after each generator update (no warm-up), batch-norm statistics
   copied; it samples. Samples: the generator in eval mode (running statistics),
   x·0.5 + 0.5. By default the discriminator's weights are frozen during the generator's
   update (no weight gradients there, the usual PyTorch practice and the faster);
   --no-freeze-d computes them as dgm does (the same update either way).
--model vae (host/models/vae.c): --net conv: encoder DCGANDiscriminator(base 32, hidden
   = --hidden's first width, 2·latent outputs: [μ, log σ²]), decoder DCGANGenerator(base
   32, no batch norm, no output activation) to Bernoulli logits; --net mlp: pytorch/
   examples' fc1 (fc1_1, ...), fc21, fc22, fc3 (fc3_1, ...), fc4 with ReLU. z = μ +
   exp(½ log σ²)·ε; loss = mean over the batch of [BCE-with-logits summed over pixels +
   β·KL(q‖N(0, I))] (--beta, ramped from 0 over --kl-warmup steps; --decoder gaussian:
   −log N(x; mean, exp(dec_logvar)) instead), as pytorch/examples' ELBO per image. Samples:
   sigmoid(decoder(z)), z ~ N(0, I) (the Bernoulli means). Also the test negative ELBO
   (dgm eval's `elbo`: reconstruction + KL per image, one z per x, averaged over the
   10,000 test images).

The loop is dgm train's (host/train/trainer.c): batches from the 60,000 training images
(peer_common.Loader: a fresh permutation per epoch, no drop_last), zero_grad, backward,
gradient clipping to --clip (global norm; off by default), the optimizer (Adam with
betas (0.9, 0.999) (gan: (0.8, 0.999), wgan-gp (0.5, 0.9)), eps 1e-8, weight decay 0, or
--optimizer adamw/sgd with their defaults, as dgm resets them) at dgm's learning rate for
the step: lr·(step + 1)/N over the first N warm-up steps (fm, ddpm on images: 500), then
constant (or the cosine schedule a checkpoint records); then the family's after-step (the
moving average). The loss is read back (.item()) every --log-every steps, as dgm logs it.
dgm's defaults on images (the working tree's of 2026-12-07; a checkpoint's record wins):
fm, ddpm with the UNet: 2,000 steps of batch 64, Adam 5e-4 after 500 warm-up steps (with
--net mlp: 10,000 of batch 128); gan with the DCGAN pair: 5,000 iterations of batch 64,
Adam 2e-4 betas (0.5, 0.999) (wgan-gp: 2,000, Adam 1e-4 (0.5, 0.9); --net mlp: 20,000 of
batch 100, Adam 1e-4 (0.8, 0.999)); vae: 10 epochs of batch 128 (4,690 steps), Adam 1e-3.

  --dgm-config CKPT  take the whole setup from a dgm checkpoint (.safetensors): the family,
                     its model options (the metadata's `config`: the UNet's channels,
                     blocks, attention, the EMA, the sampler and its steps, ...) and the
                     run (`extra`'s `train_run`: batch, optimizer, lr, betas, eps, weight
                     decay, schedule and warm-up, clip; the steps: the metadata's `step`,
                     what dgm trained), as `dgm info CKPT` prints them; flags given on the
                     command line override them
  --model M          fm, ddpm, gan or vae (implied by --dgm-config or --sample-only)
  model options      each family's `dgm train M` options under the same names, with dgm's
                     defaults (--net, --channels, --blocks, --attention, --ema, --sigma,
                     --sample-steps, --sampler, --latent, --pack, --r1, ...; --help
                     --model M lists them); fm's --solver is also --sampler here
  run options        --steps, --epochs, --batch, --lr, --optimizer, --betas, --weight-decay,
                     --clip as dgm train's; --lr-warmup N (dgm's family default)
  --n N              samples to draw (default 5000), in chunks of --sample-batch (1000)
  --out FILE.npy     the samples, float32 [N, 784] (default samples.npy); --png FILE: the
                     first 64 as an 8x8 grid (grayscale PNG, zlib)
  --save FILE.pt     the trained state (every network, the averages included, under dgm's
                     names) with the resolved setup, for --sample-only
  --sample-only F    no training: F is a --save file, or a dgm checkpoint (.safetensors,
                     its setup as --dgm-config; its tensors loaded strictly but for batch
                     norm's num_batches_tracked, which dgm does not keep): draw --n
                     samples with the sampler the setup names, --sampler, --sample-steps,
                     --eta, --variance, --clip-x0, --solver overriding it (sampler sweeps
                     on one trained peer, or dgm's weights under this sampler)
  --threads T        torch.set_num_threads(T) (default 2, the faster of 1 and 2 on the
                     2-core machine; OPENBLAS_NUM_THREADS: set it in the environment,
                     Debian's torch does its linear layers' GEMMs in OpenBLAS and its
                     convolutions in oneDNN)
  --seed S           torch.manual_seed (initialization, batches, noise) and the sampling
                     generator's seed (default 0)
  --adam A           auto (fused from torch 2.4, else the single-tensor loop: in torch
                     1.13 the foreach CPU path is the generic fallback), foreach, single,
                     fused
  --device D         cpu (default) or cuda (timed with a synchronize after each step)
  --data-dir DIR     the IDX files (default /usr/share/datasets/fashion-mnist)

Output: progress lines, and one JSON line (prefix "json: ", bench "images_peer", what
"result"; "samples" for --sample-only): the family, steps, batch, s_per_step (the median
over the run's steps after the first 5; each step timed alone), train_s (the training
loop's wall time), sample_s (drawing the --n samples), n, the sampler and its steps, the
last logged loss, test_elbo (vae: nats per image), torch's version, threads, the Adam
implementation and the device.
Run it with Debian's python (/usr/bin/python3, python3-torch, python3-numpy), e.g.
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 benchmarks/peers/torch_images.py \\
      --dgm-config runs/fm/checkpoint.safetensors --n 5000 --out peer.npy --save peer.pt
"""
import argparse
import copy
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from peer_common import Loader, StepTrainer, adam_kwargs, set_threads
from torch_convnets import UNet, DCGANDiscriminator, DCGANGenerator, read_safetensors
from torch_realnvp_images import write_png_gray
from torch_vae import DEFAULT_DATA, FILES, read_idx_images

PROG = "torch_images.py"
FAMILIES = ("fm", "ddpm", "gan", "vae")
SIDE = 28  # Fashion-MNIST: 1x28x28
DIM = SIDE * SIDE
UNTIMED = 5  # s_per_step: the median over the steps after these

# Each family's `dgm train` options with dgm's defaults (the option tables of
# host/models/*.c; time_net.h's DGM_TIME_NET_OPTIONS for fm and ddpm).
TIME_NET_OPTIONS = [("net", "auto"), ("channels", "32,64,64"), ("blocks", "1"),
                    ("attention", "auto"), ("dropout", "0")]
MODEL_OPTIONS = {
    "fm": [("hidden", "auto"), ("activation", "selu"), ("sigma", "0.1"),
           ("coupling", "independent"), ("solver", "euler"), ("sample-steps", "100"),
           ("rtol", "1e-5"), ("atol", "1e-5"), ("ema", "-1")] + TIME_NET_OPTIONS,
    "ddpm": [("timesteps", "1000"), ("schedule", "linear"), ("hidden", "auto"),
             ("embedding", "128"), ("activation", "gelu"), ("ema", "0.999"),
             ("sampler", "ancestral"), ("sample-steps", "50"), ("eta", "0"),
             ("variance", "beta"), ("clip-x0", "auto")] + TIME_NET_OPTIONS,
    "gan": [("loss", "ns"), ("latent", "0"), ("z", "normal"), ("g-hidden", "400,400,400,400"),
            ("g-bn", "true"), ("d-hidden", "200,200,200"), ("d-maxout", "1"), ("d-steps", "0"),
            ("pack", "1"), ("gp", "10"), ("r1", "-1"), ("ema", "0"), ("d-lr-mult", "0"),
            ("net", "auto")],
    "vae": [("hidden", "400"), ("latent", "20"), ("decoder", "bernoulli"),
            ("decoder-var", "learned"), ("beta", "1"), ("kl-warmup", "0"), ("net", "mlp")],
}
# What only changes sampling (dgm's sampling_options: `dgm sample --set` takes them).
SAMPLING_OPTIONS = {"fm": ("solver", "sample-steps", "rtol", "atol"),
                    "ddpm": ("sampler", "sample-steps", "eta", "variance", "clip-x0"),
                    "gan": (), "vae": ()}
OPTIMIZERS = ("sgd", "adam", "adamw")  # dgm_optim_kind's order


# ---------------------------------------------------------------- the setup

def read_dgm_meta(path):
    """A dgm checkpoint's __metadata__ (strings), read with struct + json."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    meta = header.get("__metadata__", {})
    if meta.get("format") != "dgm-checkpoint":
        raise SystemExit("%s: %s is not a dgm checkpoint (no format dgm-checkpoint in its "
                         "metadata)" % (PROG, path))
    return meta


def optim_defaults(kind):
    """dgm_optim_config_default(kind)."""
    return dict(optimizer=kind, lr={"sgd": 1e-2}.get(kind, 1e-3), betas=(0.9, 0.999), eps=1e-8,
                weight_decay=1e-2 if kind == "adamw" else 0.0, momentum=0.0, dampening=0.0,
                nesterov=False)


def net_of(family, cfg):
    """The network --net names, `auto` resolved as dgm resolves it on 28x28 images: fm,
    ddpm: the UNet where each side halves once per level after the first (time_net.c's
    unet_fits), else the MLP; gan: the DCGAN pair (sides divisible by 4); vae: conv."""
    net = cfg_str(cfg, "net")
    if net != "auto":
        return net
    if family in ("fm", "ddpm"):
        return "unet" if SIDE % (1 << (len(cfg_ints(cfg, "channels")) - 1)) == 0 else "mlp"
    return "dcgan" if family == "gan" else "conv"


def run_defaults(family, cfg):
    """The family's train_defaults on images (host/models/*.c, time_net.c's
    dgm_time_net_unet_run): the run as a dict."""
    r = dict(steps=None, epochs=None, batch=128, schedule="constant", warmup=0, min_lr=0.0,
             clip=0.0, log_every=500, **optim_defaults("adam"))
    net = net_of(family, cfg)
    if family in ("fm", "ddpm"):
        if net == "unet":  # DGM_TIME_NET_UNET_STEPS of batch 64, a metrics line every 100
            r.update(steps=2000, batch=64, lr=5e-4, warmup=500, log_every=100)
        else:
            r.update(steps=10000, lr=5e-4, warmup=500)
    elif family == "gan":
        wgan = cfg_str(cfg, "loss") == "wgan-gp"
        r.update(steps=10000 if wgan else 20000, batch=100, lr=1e-4,
                 betas=(0.5, 0.9) if wgan else (0.8, 0.999))
        if net == "dcgan":  # DCGAN's Adam (Radford et al.), sized for 30 min on 2 cores
            r.update(steps=2000 if wgan else 5000, batch=64)
            if not wgan:
                r.update(lr=2e-4, betas=(0.5, 0.999))
    else:
        r.update(epochs=10, log_every=100)
    return r


def run_from_record(text):
    """extra's train_run (dgm_train_run_to_json) as a run dict."""
    j = json.loads(text)
    r = dict(optimizer=OPTIMIZERS[j["optimizer"]], lr=j["lr"], betas=(j["beta1"], j["beta2"]),
             eps=j["eps"], weight_decay=j["weight_decay"], momentum=j["momentum"],
             dampening=j["dampening"], nesterov=bool(j["nesterov"]), batch=j["batch"],
             schedule="cosine" if j["schedule"] == 1 else "constant", warmup=j["warmup"],
             min_lr=j["min_lr"], clip=j["clip"], log_every=j["log_every"], steps=None, epochs=None)
    r["base_lr"] = j["base_lr"]
    if j["run"] == 0:
        r["epochs"] = j["length"]
    else:  # steps, or until converged (at most length steps)
        r["steps"] = j["length"]
    return r


def cfg_str(cfg, key):
    v = cfg[key]
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


def cfg_int(cfg, key):
    return int(float(cfg[key]))


def cfg_float(cfg, key):
    return float(cfg[key])


def cfg_bool(cfg, key):
    v = cfg[key]
    return v if isinstance(v, bool) else str(v).lower() in ("true", "1", "yes", "on")


def cfg_ints(cfg, key):
    v = cfg[key]
    if isinstance(v, list):
        return [int(x) for x in v]
    return [int(x) for x in str(v).split(",") if x.strip()]


def steps_of(run, n_train):
    """The run's length in steps (epochs: batches per epoch, the short last one counted)."""
    if run.get("steps"):
        return int(run["steps"])
    per_epoch = (n_train + run["batch"] - 1) // run["batch"]
    return int(run["epochs"]) * per_epoch


def lr_at(run, step, total):
    """dgm_lr_at: the warm-up lr·(step + 1)/N, then constant or the cosine decay to min_lr."""
    base = run["lr"]
    if step < run["warmup"]:
        return base * (step + 1) / run["warmup"]
    if run["schedule"] == "constant":
        return base
    span = total - run["warmup"]
    t = min((step - run["warmup"]) / span, 1.0) if span > 0 else 1.0
    return run["min_lr"] + 0.5 * (base - run["min_lr"]) * (1.0 + math.cos(math.pi * t))


# ---------------------------------------------------------------- networks

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.01),
               "elu": nn.ELU, "selu": nn.SELU, "gelu": nn.GELU, "silu": nn.SiLU,
               "sigmoid": nn.Sigmoid}


def mlp(widths, act, batch_norm=False, out_act=None):
    """dgm_mlp as nn.Sequential: Linear [BatchNorm1d] act ... Linear [out_act] (dgm's
    module numbering, include/dgm/nn.h)."""
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(widths[i + 1]))
            layers.append(act())
    if out_act is not None:
        layers.append(out_act())
    return nn.Sequential(*layers)


def frequencies(dim):
    """dgm_time_embedding's: f_i = exp(−ln(10000)·i/(half − 1)) in double, kept as float32."""
    half = dim // 2
    step = math.log(10000.0) / (half - 1) if half > 1 else 0.0
    return torch.tensor([math.exp(-step * i) for i in range(half)], dtype=torch.float64).float()


def embed(t, freqs, dim):
    """[sin(t·f), cos(t·f) (, 0)] in float32, t [B, 1] (the K = 1 product dgm computes)."""
    a = t.reshape(-1, 1) * freqs[None, :]
    e = torch.cat([torch.sin(a), torch.cos(a)], dim=1)
    if dim % 2:
        e = torch.cat([e, torch.zeros(e.shape[0], 1, device=e.device)], dim=1)
    return e


def unet_attention(cfg, levels):
    """--attention's image sides to the UNet's levels (side 28 >> l), or none."""
    att = [False] * levels
    text = cfg_str(cfg, "attention")
    if text == "none":
        return att
    if text == "auto":  # every level but the first
        return [l >= 1 or levels == 1 for l in range(levels)]
    for s in (int(x) for x in text.split(",") if x.strip()):
        hits = [l for l in range(levels) if SIDE >> l == s]
        if not hits:
            raise SystemExit("%s: --attention %d: no level of the UNet has that side (%s)"
                             % (PROG, s, [SIDE >> l for l in range(levels)]))
        att[hits[0]] = True
    return att


class TimeNet:
    """time_net.c's two bodies: the UNet over [B, 1, 28, 28] fed embed(t) of emb_dim, or the
    MLP of [x, embed(t)] (or [x, t] when emb_dim = 0), over rows [B, 784]."""

    def __init__(self, cfg, family, emb_dim, default_hidden, device):
        self.kind = net_of(family, cfg)
        if self.kind == "unet":
            ch = cfg_ints(cfg, "channels")
            self.emb_dim = emb_dim if emb_dim > 0 else ch[0]
            self.module = UNet(1, 1, self.emb_dim, tuple(ch), tuple(unet_attention(cfg, len(ch))),
                               cfg_int(cfg, "blocks"), cfg_float(cfg, "dropout"))
        elif self.kind == "mlp":
            h = cfg_str(cfg, "hidden")
            hidden = [int(x) for x in (default_hidden if h == "auto" else h).split(",")]
            act = cfg_str(cfg, "activation")
            if act not in ACTIVATIONS:
                raise SystemExit("%s: --activation %s: not one of %s" % (PROG, act, list(ACTIVATIONS)))
            self.emb_dim = emb_dim
            self.module = mlp([DIM + (emb_dim if emb_dim > 0 else 1)] + hidden + [DIM],
                              ACTIVATIONS[act])
        else:
            raise SystemExit("%s: --net %s: unet, mlp or auto" % (PROG, self.kind))
        self.freqs = frequencies(self.emb_dim).to(device) if self.emb_dim > 0 else None

    def __call__(self, net, x, t):
        """net: this module or its average; x [B, 784], t [B, 1] -> [B, 784]."""
        e = embed(t, self.freqs, self.emb_dim) if self.freqs is not None else t
        if self.kind == "unet":
            return net(x.reshape(-1, 1, SIDE, SIDE), e).reshape(-1, DIM)
        return net(torch.cat([x, e], dim=1))


class Average:
    """A moving average of `src`'s trainable weights in `dst` (a copy; its buffers copied)."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        for p in dst.parameters():
            p.requires_grad_(False)
        self.w = list(src.parameters())
        self.e = list(dst.parameters())

    @torch.no_grad()
    def update(self, decay):
        torch._foreach_mul_(self.e, decay)
        torch._foreach_add_(self.e, self.w, alpha=1.0 - decay)
        for b_dst, b_src in zip(self.dst.buffers(), self.src.buffers()):
            b_dst.copy_(b_src)


def ema_decay(decay, step):
    """dgm_ema_weights_decay: min(decay, (1 + step)/(10 + step)), in float32 as dgm."""
    warm = np.float32(1.0 + step) / np.float32(10.0 + step)
    return float(min(warm, np.float32(decay)))


class AveragedNet:
    """fm's and ddpm's moving average of self.net (host/models/ema_weights.c), for
    nn.Module subclasses: the copy is self.ema.net (dgm's parameter names), the weights
    at the start."""

    def init_average(self, decay):
        self.decay, self.avg = decay, None
        if decay > 0:
            self.ema = nn.Module()
            self.ema.net = copy.deepcopy(self.net)
            self.avg = Average(self.net, self.ema.net)

    def after_step(self, k):
        if self.avg is not None:
            self.avg.update(ema_decay(self.decay, k))

    def sampling_net(self):
        net = self.ema.net if self.avg is not None else self.net
        net.eval()
        return net


# ---------------------------------------------------------------- the families

class FlowMatching(AveragedNet, nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        self.tn = TimeNet(cfg, "fm", 0, "1024,1024,1024", device)
        self.net = self.tn.module
        self.sigma = cfg_float(cfg, "sigma")
        self.ot = cfg_str(cfg, "coupling") == "ot"
        if cfg_str(cfg, "coupling") not in ("independent", "ot"):
            raise SystemExit("%s: --coupling: independent or ot" % PROG)
        decay = cfg_float(cfg, "ema")
        if decay == -1.0:  # dgm's default: 0.999 with the UNet, else off
            decay = 0.999 if self.tn.kind == "unet" else 0.0
        self.init_average(decay)

    def trainable(self):
        return self.net.parameters()

    def pair_ot(self, x0, x1):
        from scipy.optimize import linear_sum_assignment
        a, b = x0.detach().double().cpu(), x1.detach().double().cpu()
        cost = torch.cdist(a - a.mean(0), b - b.mean(0)).pow(2).numpy()
        _, cols = linear_sum_assignment(cost)
        return x1[torch.from_numpy(cols).to(x1.device)]

    def loss(self, x, step):
        x1 = 2.0 * x - 1.0
        b = x.shape[0]
        z = torch.randn(b, 2 * DIM, device=x.device)
        x0 = z[:, :DIM]
        if self.ot:
            x1 = self.pair_ot(x0, x1)
        t = torch.rand(b, 1, device=x.device)
        u = x1 - x0
        xt = x0 + u * t
        if self.sigma > 0:
            xt = xt + self.sigma * z[:, DIM:]
        return F.mse_loss(self.tn(self.net, xt, t), u)

    @torch.no_grad()
    def sample(self, n, gen, opts):
        solver, steps = opts["solver"], int(opts["sample-steps"])
        if solver not in ("euler", "heun", "rk4"):
            raise SystemExit("%s: fm --solver %s: this peer has euler, heun and rk4 (no dopri5)"
                             % (PROG, solver))
        net = self.sampling_net()
        dev = self.tn.freqs.device if self.tn.freqs is not None else next(net.parameters()).device
        x = torch.randn(n, DIM, generator=gen, device=dev)
        h = 1.0 / steps
        hf = float(np.float32(h))

        def v(y, t):
            return self.tn(net, y, torch.full((n, 1), float(np.float32(t)), device=dev))

        for i in range(steps):
            t = float(np.float32(h * i))
            k1 = v(x, t)
            if solver == "euler":
                dx = k1
            elif solver == "heun":
                dx = 0.5 * (k1 + v(x + hf * k1, t + hf))
            else:
                k2 = v(x + 0.5 * hf * k1, t + 0.5 * hf)
                k3 = v(x + 0.5 * hf * k2, t + 0.5 * hf)
                k4 = v(x + hf * k3, t + hf)
                dx = (k1 + 2.0 * k2 + 2.0 * k3 + k4) * (1.0 / 6.0)
            x = x + hf * dx
        return x * 0.5 + 0.5  # not clipped: dgm's fm sample does not clip


class DDPM(AveragedNet, nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        self.T = cfg_int(cfg, "timesteps")
        emb = cfg_int(cfg, "embedding")
        self.tn = TimeNet(cfg, "ddpm", emb, "1024,1024,1024", device)
        self.net = self.tn.module
        sched = cfg_str(cfg, "schedule")
        beta = np.zeros(self.T)
        prod, ab = 1.0, np.zeros(self.T)
        for t in range(self.T):
            if sched == "cosine":
                s, hp = 0.008, 1.5707963267948966
                f0 = math.cos(s / (1.0 + s) * hp)
                f = math.cos(((t + 1) / self.T + s) / (1.0 + s) * hp)
                beta[t] = min(1.0 - (f * f) / (f0 * f0) / prod, 0.999)
            elif sched == "linear":
                beta[t] = 1e-4 if self.T == 1 else 1e-4 + (0.02 - 1e-4) * t / (self.T - 1)
            else:
                raise SystemExit("%s: --schedule: linear or cosine" % PROG)
            prod *= 1.0 - beta[t]
            ab[t] = prod
        self.beta, self.alpha_bar = beta, ab
        self.sqrt_ab = torch.from_numpy(np.sqrt(ab)).float().to(device)
        self.sqrt_1mab = torch.from_numpy(np.sqrt(1.0 - ab)).float().to(device)
        self.init_average(cfg_float(cfg, "ema"))

    def trainable(self):
        return self.net.parameters()

    def loss(self, x, step):
        x0 = 2.0 * x - 1.0
        b = x.shape[0]
        k = (torch.rand(b, device=x.device) * self.T).long().clamp_(0, self.T - 1)
        eps = torch.randn_like(x0)
        xt = x0 * self.sqrt_ab[k][:, None] + eps * self.sqrt_1mab[k][:, None]
        return F.mse_loss(self.tn(self.net, xt, k.float()[:, None]), eps)

    @torch.no_grad()
    def sample(self, n, gen, opts):
        sampler, eta = opts["sampler"], float(opts["eta"])
        ddim = sampler == "ddim"
        if sampler not in ("ancestral", "ddim"):
            raise SystemExit("%s: ddpm --sampler: ancestral or ddim" % PROG)
        steps = int(opts["sample-steps"]) if ddim else self.T
        if ddim and not 1 <= steps <= self.T:
            raise SystemExit("%s: ddpm --sample-steps: 1 to T" % PROG)
        clip_opt = str(opts["clip-x0"]).lower()
        clip = clip_opt in ("true", "auto")  # auto: on for images
        posterior = opts["variance"] == "posterior"
        net = self.sampling_net()
        dev = self.sqrt_ab.device
        x = torch.randn(n, DIM, generator=gen, device=dev)
        skip = self.T // steps if ddim else 1
        for i in range(steps - 1, -1, -1):
            t, prev = i * skip, (i - 1) * skip if i > 0 else -1
            ab = float(self.alpha_bar[t])
            ab_prev = float(self.alpha_bar[prev]) if prev >= 0 else 1.0
            eps = self.tn(net, x, torch.full((n, 1), float(t), device=dev))
            sigma = 0.0

            def x0_hat():
                x0 = (1.0 / math.sqrt(ab)) * x + (-math.sqrt(1.0 - ab) / math.sqrt(ab)) * eps
                return x0.clamp(-1.0, 1.0) if clip else x0

            if ddim:
                if prev >= 0:
                    sigma = eta * math.sqrt((1.0 - ab_prev) / (1.0 - ab)) * math.sqrt(1.0 - ab / ab_prev)
                x0 = x0_hat()
                if clip:  # the ε̂ that goes with the clipped x̂_0
                    eps = (1.0 / math.sqrt(1.0 - ab)) * x + (-math.sqrt(ab) / math.sqrt(1.0 - ab)) * x0
                mean = math.sqrt(ab_prev) * x0 + math.sqrt(max(1.0 - ab_prev - sigma * sigma, 0.0)) * eps
            else:
                beta = float(self.beta[t])
                alpha = 1.0 - beta
                if prev >= 0:
                    sigma = math.sqrt(beta * (1.0 - ab_prev) / (1.0 - ab) if posterior else beta)
                if clip:  # the posterior mean at the clipped x̂_0
                    mean = (math.sqrt(ab_prev) * beta / (1.0 - ab)) * x0_hat() + \
                           (math.sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab)) * x
                else:
                    mean = (1.0 / math.sqrt(alpha)) * x + \
                           (-beta / (math.sqrt(1.0 - ab) * math.sqrt(alpha))) * eps
            if sigma > 0.0:
                mean = mean + torch.randn(n, DIM, generator=gen, device=dev) * float(np.float32(sigma))
            x = mean
        return x * 0.5 + 0.5  # in [0, 1] through the clipping (dgm: clipped only with --clip-x0)


class MLPGenerator(nn.Module):
    def __init__(self, latent, hidden, batch_norm):
        super().__init__()
        self.net = mlp([latent] + hidden + [DIM], nn.ReLU, batch_norm, nn.Tanh)

    def forward(self, z):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    def __init__(self, inp, hidden):
        super().__init__()
        self.net = mlp([inp] + hidden + [1], lambda: nn.LeakyReLU(0.2))

    def forward(self, x):
        return self.net(x)


class GAN(nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        self.loss_kind = cfg_str(cfg, "loss")
        if self.loss_kind not in ("ns", "minimax", "wgan-gp"):
            raise SystemExit("%s: gan --loss %s: this peer has ns, minimax and wgan-gp"
                             % (PROG, self.loss_kind))
        wgan = self.loss_kind == "wgan-gp"
        self.latent = cfg_int(cfg, "latent") or 64  # 0: 64 for images
        self.uniform_z = cfg_str(cfg, "z") == "uniform"
        self.d_steps = cfg_int(cfg, "d-steps") or (5 if wgan else 1)
        self.pack = cfg_int(cfg, "pack")
        self.gp = cfg_float(cfg, "gp")
        r1 = cfg_float(cfg, "r1")
        self.r1 = (0.0 if wgan else 1.0) if r1 == -1.0 else r1
        self.decay = cfg_float(cfg, "ema")
        self.kind = net_of("gan", cfg)
        self.d_lr_mult = cfg_float(cfg, "d-lr-mult") or (1.0 if wgan or self.kind == "dcgan" else 4.0)
        bn = cfg_bool(cfg, "g-bn")
        if self.kind == "dcgan":
            make_g = lambda: DCGANGenerator(latent=self.latent, batch_norm=bn)  # noqa: E731
            self.discriminator = DCGANDiscriminator(channels=self.pack)
        elif self.kind == "mlp":
            if cfg_int(cfg, "d-maxout") != 1:
                raise SystemExit("%s: gan --d-maxout: this peer has 1 (LeakyReLU(0.2)) only" % PROG)
            gh = cfg_ints(cfg, "g-hidden")
            make_g = lambda: MLPGenerator(self.latent, gh, bn)  # noqa: E731
            self.discriminator = MLPDiscriminator(DIM * self.pack, cfg_ints(cfg, "d-hidden"))
        else:
            raise SystemExit("%s: gan --net %s: dcgan, mlp or auto" % (PROG, self.kind))
        self.generator = make_g()
        self.avg = None
        if self.decay > 0:
            self.generator_ema = copy.deepcopy(self.generator)  # dgm copies it at iteration 1
            self.avg = Average(self.generator, self.generator_ema)

    def z(self, n, gen=None, device="cpu"):
        if self.uniform_z:
            return torch.rand(n, self.latent, generator=gen, device=device) * 2.0 - 1.0
        return torch.randn(n, self.latent, generator=gen, device=device)

    def generate(self, g, n, device, gen=None):
        return g(self.z(n, gen, device)).reshape(n, DIM)

    def d(self, x):
        """D's scores of images x [B, 784] (B a multiple of the pack): [B/pack, 1]."""
        rows = x.shape[0] // self.pack
        if self.kind == "dcgan":
            return self.discriminator(x.reshape(rows, self.pack, SIDE, SIDE))
        return self.discriminator(x.reshape(rows, self.pack * DIM))

    @torch.no_grad()
    def sample(self, n, gen, opts):
        g = self.generator_ema if self.avg is not None else self.generator
        g.eval()
        x = self.generate(g, n, next(g.parameters()).device, gen)
        g.train()
        return x * 0.5 + 0.5


class VAE(nn.Module):
    def __init__(self, cfg, device):
        super().__init__()
        hidden = cfg_ints(cfg, "hidden")
        self.latent = L = cfg_int(cfg, "latent")
        self.beta = cfg_float(cfg, "beta")
        self.kl_warmup = cfg_int(cfg, "kl-warmup")
        dec = cfg_str(cfg, "decoder")
        if dec not in ("bernoulli", "gaussian"):
            raise SystemExit("%s: vae --decoder: bernoulli or gaussian" % PROG)
        self.bernoulli = dec == "bernoulli"
        var = cfg_str(cfg, "decoder-var")
        self.learned_var = var == "learned"
        if not self.learned_var:
            self.fixed_logvar = math.log(float(var))
        self.kind = net_of("vae", cfg)
        if self.kind == "conv":
            self.encoder = DCGANDiscriminator(hidden=hidden[0], base=32, out_features=2 * L)
            self.decoder = DCGANGenerator(latent=L, hidden=hidden[0], base=32, batch_norm=False,
                                          output="none")
        elif self.kind == "mlp":
            # pytorch/examples' names: fc1, fc1_1, ..., fc21, fc22, fc3, fc3_1, ..., fc4
            self.enc_names, self.dec_names = [], []
            w = DIM
            for i, h in enumerate(hidden):
                name = "fc1" if i == 0 else "fc1_%d" % i
                setattr(self, name, nn.Linear(w, h))
                self.enc_names.append(name)
                w = h
            self.fc21 = nn.Linear(w, L)
            self.fc22 = nn.Linear(w, L)
            w = L
            for i, h in enumerate(reversed(hidden)):
                name = "fc3" if i == 0 else "fc3_%d" % i
                setattr(self, name, nn.Linear(w, h))
                self.dec_names.append(name)
                w = h
            self.fc4 = nn.Linear(w, DIM)
        else:
            raise SystemExit("%s: vae --net %s: conv or mlp" % (PROG, self.kind))
        if not self.bernoulli and self.learned_var:
            self.dec_logvar = nn.Parameter(torch.zeros(DIM))
        self.avg = None

    def trainable(self):
        return self.parameters()

    def encode(self, x):
        if self.kind == "conv":
            h = self.encoder(x.reshape(-1, 1, SIDE, SIDE))
            return h[:, :self.latent], h[:, self.latent:]
        h = x
        for name in self.enc_names:
            h = F.relu(getattr(self, name)(h))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        if self.kind == "conv":
            return self.decoder(z).reshape(-1, DIM)
        h = z
        for name in self.dec_names:
            h = F.relu(getattr(self, name)(h))
        return self.fc4(h)

    def terms(self, x, gen=None):
        """Per image: −log p(x|z) and KL(q(z|x) ‖ N(0, I)), one z."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=gen, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        dec = self.decode(z)
        if self.bernoulli:
            rec = F.binary_cross_entropy_with_logits(dec, x, reduction="none").sum(dim=1)
        else:
            lv = self.dec_logvar if self.learned_var else torch.full_like(dec, self.fixed_logvar)
            rec = 0.5 * (math.log(2.0 * math.pi) + lv + (x - dec) ** 2 / torch.exp(lv)).sum(dim=1)
        kl = -0.5 * (1.0 + logvar - mu * mu - torch.exp(logvar)).sum(dim=1)
        return rec, kl

    def loss(self, x, step):
        rec, kl = self.terms(x)
        beta = self.beta
        if self.kl_warmup > 0 and step < self.kl_warmup:
            beta *= (step + 1) / self.kl_warmup
        return (rec + beta * kl).mean()

    def after_step(self, k):
        pass

    @torch.no_grad()
    def sample(self, n, gen, opts):
        dev = next(self.parameters()).device
        dec = self.decode(torch.randn(n, self.latent, generator=gen, device=dev))
        return torch.sigmoid(dec) if self.bernoulli else dec

    @torch.no_grad()
    def test_elbo(self, x, seed, batch=1000):
        """dgm eval's elbo: mean over the rows of (reconstruction + KL), one z each."""
        gen = torch.Generator(device=x.device).manual_seed(seed)
        total = 0.0
        for i in range(0, x.shape[0], batch):
            rec, kl = self.terms(x[i:i + batch], gen)
            total += (rec + kl).double().sum().item()
        return total / x.shape[0]


MODELS = {"fm": FlowMatching, "ddpm": DDPM, "gan": GAN, "vae": VAE}


# ---------------------------------------------------------------- training

def make_optimizer(params, run, lr, adam):
    """torch's optimizer for the run's (dgm's) optimizer config; returns (it, the Adam impl)."""
    params = list(params)
    kind = run["optimizer"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=run["momentum"], dampening=run["dampening"],
                               nesterov=run["nesterov"], weight_decay=run["weight_decay"]), "sgd"
    impl, kw = adam_kwargs(adam, "single", lr=lr, betas=tuple(run["betas"]), eps=run["eps"],
                           weight_decay=run["weight_decay"])
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(params, **kw), impl


def set_lr(opt, lr):
    for g in opt.param_groups:
        g["lr"] = lr


class Trainer(StepTrainer):
    """fm, ddpm, vae: one optimizer over the trainable weights, dgm train's step."""

    prog = PROG

    def __init__(self, model, train, run, total, gen, adam, log_every):
        self.model, self.run, self.total = model, run, total
        self.loader = Loader(train, run["batch"], gen)
        self.params = list(model.trainable())
        self.opt, self.adam = make_optimizer(self.params, run, run["lr"], adam)
        self.log_every = log_every

    def batch_loss(self, x):
        return self.model.loss(x, self.step)

    def before_step(self):  # after the backward: this step's lr, then the clipping
        set_lr(self.opt, lr_at(self.run, self.step, self.total))
        if self.run["clip"] > 0:
            nn.utils.clip_grad_norm_(self.params, self.run["clip"])

    def after_step(self):
        self.model.after_step(self.step)  # the optimizer step's number, from 1

    def logged(self):
        print("step %d: loss %.6g" % (self.step, self.loss), flush=True)


class GANTrainer:
    """gan.c's train_iteration: d_steps discriminator updates, one generator update, the
    generator's average."""

    def __init__(self, model, train, run, total, gen, adam, log_every, freeze_d):
        self.m, self.run, self.total = model, run, total
        self.loader = Loader(train, run["batch"], gen)
        self.batch = run["batch"]
        self.d_opt, self.adam = make_optimizer(model.discriminator.parameters(), run,
                                               run["lr"] * model.d_lr_mult, adam)
        self.g_opt, _ = make_optimizer(model.generator.parameters(), run, run["lr"], adam)
        self.d_params = list(model.discriminator.parameters())
        self.log_every, self.freeze_d = log_every, freeze_d
        self.step, self.loss = 0, float("nan")

    def real_batch(self):
        """A data batch in [−1, 1] whose rows the pack divides (dgm skips an epoch's short
        last batch otherwise; two tries)."""
        for _ in range(2):
            x = self.loader.next()
            if x.shape[0] % self.m.pack == 0 and x.shape[0] >= 2:
                return 2.0 * x - 1.0
        raise SystemExit("%s: gan: the batch size must be a multiple of --pack %d"
                         % (PROG, self.m.pack))

    def d_step(self):
        m = self.m
        real = self.real_batch()
        with torch.no_grad():
            fake = m.generate(m.generator, real.shape[0], real.device)  # train mode
        if m.r1 > 0:
            real.requires_grad_(True)
        v = m.d(torch.cat([real, fake], dim=0))  # one pass over both (D has no batch norm)
        vr, vf = v[:real.shape[0] // m.pack], v[real.shape[0] // m.pack:]
        if m.loss_kind == "wgan-gp":
            loss = vf.mean() - vr.mean()
            if m.gp > 0:
                e = torch.rand(real.shape[0], 1, device=real.device)
                xh = (fake + (real.detach() - fake) * e).requires_grad_(True)
                g, = torch.autograd.grad(m.d(xh).sum(), xh, create_graph=True)
                n = torch.sqrt(g.pow(2).sum(dim=1) + 1e-12)
                loss = loss + m.gp * (n - 1.0).pow(2).mean()
        else:
            loss = F.softplus(-vr).mean() + F.softplus(vf).mean()
        if m.r1 > 0:
            g, = torch.autograd.grad(vr.sum(), real, create_graph=True)
            loss = loss + 0.5 * m.r1 * g.pow(2).sum(dim=1).mean()
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.d_opt.step()

    def g_step(self):
        m = self.m
        rows = max(self.batch // m.pack * m.pack, m.pack)
        if self.freeze_d:
            for p in self.d_params:
                p.requires_grad_(False)
        v = m.d(m.generate(m.generator, rows, self.d_params[0].device))
        if m.loss_kind == "ns":
            loss = F.softplus(-v).mean()
        elif m.loss_kind == "minimax":
            loss = -F.softplus(v).mean()
        else:
            loss = -v.mean()
        self.g_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.g_opt.step()
        if self.freeze_d:
            for p in self.d_params:
                p.requires_grad_(True)
        return loss

    def train_step(self):
        lr = lr_at(self.run, self.step, self.total)
        set_lr(self.d_opt, lr * self.m.d_lr_mult)
        set_lr(self.g_opt, lr)
        for _ in range(self.m.d_steps):
            self.d_step()
        loss = self.g_step()
        if self.m.avg is not None:
            self.m.avg.update(self.m.decay)
        self.step += 1
        if self.log_every > 0 and self.step % self.log_every == 0:
            self.loss = loss.item()
            if not math.isfinite(self.loss):
                raise SystemExit("%s: the loss is not finite at step %d" % (PROG, self.step))
            print("step %d: generator loss %.6g" % (self.step, self.loss), flush=True)
        return loss


# ---------------------------------------------------------------- sampling and output

def draw(model, n, seed, opts, chunk, device):
    """n samples [n, 784] float32 (numpy) from the family's sampler, in chunks."""
    gen = torch.Generator(device=device).manual_seed(seed)
    out = []
    for i in range(0, n, chunk):
        out.append(model.sample(min(chunk, n - i), gen, opts).float().cpu())
    return torch.cat(out).numpy().astype(np.float32)


def write_grid(path, x):
    """The first 64 rows (fewer: as many full rows of 8) as a grayscale PNG grid."""
    k = min(64, x.shape[0])
    cols = 8 if k >= 8 else k
    rows = max(1, k // cols)
    g = np.clip(x[:rows * cols], 0.0, 1.0).reshape(rows, cols, SIDE, SIDE)
    g = g.transpose(0, 2, 1, 3).reshape(rows * SIDE, cols * SIDE)
    write_png_gray(path, np.round(g * 255.0).astype(np.uint8))


def sampling_opts(family, cfg):
    return {k: cfg_str(cfg, k) for k in SAMPLING_OPTIONS[family]}


def describe_sampler(family, opts):
    if family == "fm":
        return "%s, %s steps" % (opts["solver"], opts["sample-steps"])
    if family == "ddpm":
        if opts["sampler"] == "ddim":
            return "ddim, %s steps, eta %s, clip-x0 %s" % (opts["sample-steps"], opts["eta"],
                                                            opts["clip-x0"])
        return "ancestral, all T steps, variance %s, clip-x0 %s" % (opts["variance"], opts["clip-x0"])
    return "one pass" if family == "gan" else "the decoder's means"


# ---------------------------------------------------------------- command line

def family_args(family):
    """argparse flags of the family's model options (dest opt_<name>), default None."""
    flags = []
    for key, default in MODEL_OPTIONS[family]:
        flags.append(("--" + key, "opt_" + key.replace("-", "_"), "dgm's default: %s" % default))
    if family == "fm":
        flags.append(("--sampler", "opt_solver", "fm: the same as --solver"))
    return flags


def add_loop_options(ap):
    """The options of the peers' training and sampling loops."""
    ap.add_argument("--sample-batch", type=int, default=1000, help="samples per chunk (1000)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--adam", choices=("auto", "foreach", "single", "fused"), default="auto",
                    help="Adam implementation (auto: fused from torch 2.4, else single)")
    ap.add_argument("--data-dir", default=os.environ.get("DGM_DATA_DIR", DEFAULT_DATA))
    ap.add_argument("--log-every", type=int, help="print the loss every N steps (the run's)")


def add_run_options(ap, epochs, warmup_help):
    """dgm train's run options (default: the checkpoint's or dgm's)."""
    r = ap.add_argument_group("run options (dgm train's; default: the checkpoint's or dgm's)")
    r.add_argument("--steps", type=int)
    if epochs:
        r.add_argument("--epochs", type=int)
    r.add_argument("--batch", type=int)
    r.add_argument("--lr", type=float)
    r.add_argument("--optimizer", choices=OPTIMIZERS)
    r.add_argument("--betas")
    r.add_argument("--weight-decay", type=float)
    r.add_argument("--clip", type=float)
    r.add_argument("--lr-warmup", type=int, metavar="N", help=warmup_help)


def build_parser(family):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=FAMILIES, help="the family (implied by --dgm-config)")
    ap.add_argument("--dgm-config", metavar="CKPT", help="the setup of a dgm checkpoint")
    ap.add_argument("--n", type=int, default=5000, help="samples to draw (default 5000)")
    ap.add_argument("--out", default="samples.npy", help="the samples (.npy, float32 [N, 784])")
    ap.add_argument("--png", metavar="FILE", help="also the first 64 samples as a PNG grid")
    ap.add_argument("--save", metavar="FILE.pt", help="save the trained state and setup")
    ap.add_argument("--sample-only", metavar="FILE",
                    help="no training: sample from a --save file or a dgm checkpoint")
    add_loop_options(ap)
    ap.add_argument("--test-rows", type=int, default=10000,
                    help="vae: the test ELBO on the first N test images (0: none)")
    ap.add_argument("--no-freeze-d", action="store_true",
                    help="gan: compute D's weight gradients in the generator's update, as dgm")
    add_run_options(ap, epochs=True, warmup_help="warm-up steps (dgm's family default)")
    if family:
        g = ap.add_argument_group("%s's model options (dgm train %s's)" % (family, family))
        for flag, dest, help_text in family_args(family):
            g.add_argument(flag, dest=dest, metavar="X", help=help_text)
    return ap


def family_of(argv):
    """--model, or the family a --dgm-config / --sample-only file names."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--model")
    pre.add_argument("--dgm-config")
    pre.add_argument("--sample-only")
    a, _ = pre.parse_known_args(argv)
    if a.model:
        return a.model
    for path in (a.dgm_config, a.sample_only):
        if path and path.endswith(".pt"):
            return torch.load(path, map_location="cpu")["family"]
        if path:
            return read_dgm_meta(path).get("model")
    return None


def resolve(args, family, ckpt):
    """The model config (dgm's option names -> values) and the run, from dgm's defaults, a
    checkpoint's metadata and the flags given."""
    cfg = dict(MODEL_OPTIONS[family])
    meta = {}
    if ckpt:
        meta = read_dgm_meta(ckpt)
        if meta.get("model") != family:
            raise SystemExit("%s: %s is a %s checkpoint, not %s" % (PROG, ckpt, meta.get("model"), family))
        if meta.get("data") not in (None, "fashion-mnist"):
            print("warning: %s was trained on %s; this peer trains on Fashion-MNIST"
                  % (ckpt, meta.get("data")), flush=True)
        cfg.update(json.loads(meta.get("config", "{}")))
    for key, _ in MODEL_OPTIONS[family]:
        v = getattr(args, "opt_" + key.replace("-", "_"), None)
        if v is not None:
            cfg[key] = v
    run = run_defaults(family, cfg)
    extra = json.loads(meta["extra"]) if "extra" in meta else {}
    if "train_run" in extra:
        run = run_from_record(extra["train_run"])
    if meta.get("step"):  # what dgm trained (the run's length, or where it stopped)
        run["steps"], run["epochs"] = int(meta["step"]), None
    if args.optimizer and args.optimizer != run["optimizer"]:  # dgm resets the optimizer
        run.update(optim_defaults(args.optimizer))
    if args.lr is not None:
        run["lr"] = args.lr
    if args.betas:
        run["betas"] = tuple(float(b) for b in args.betas.split(","))
    if args.weight_decay is not None:
        run["weight_decay"] = args.weight_decay
    if args.clip is not None:
        run["clip"] = args.clip
    if args.batch:
        run["batch"] = args.batch
    if args.steps:
        run["steps"], run["epochs"] = args.steps, None
    if args.epochs:
        run["steps"], run["epochs"] = None, args.epochs
    if args.lr_warmup is not None:
        run["warmup"] = args.lr_warmup
    return cfg, run


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_timed(t, total, run, device, n_params, cfg):
    """Runs the trainer's `total` steps, each timed (synchronized), and returns the result
    fields: s_per_step the median after the first UNTIMED steps, as dgm's side is read."""
    times = []
    loop0 = time.perf_counter()
    for _ in range(total):
        s0 = time.perf_counter()
        t.train_step()
        sync(device)
        times.append(time.perf_counter() - s0)
    train_s = time.perf_counter() - loop0
    timed = times[UNTIMED:] if len(times) > UNTIMED else times
    s_per_step = statistics.median(timed) if timed else float("nan")
    print("trained %d steps in %.1f s: %.4f s/step (median after the first %d)"
          % (total, train_s, s_per_step, UNTIMED), flush=True)
    return dict(what="result", steps=total, batch=run["batch"], lr=run["lr"],
                warmup=run["warmup"], optimizer=run["optimizer"], adam=t.adam,
                s_per_step=s_per_step, s_per_step_mean=train_s / max(total, 1), train_s=train_s,
                loss=t.loss if math.isfinite(t.loss) else None, params=n_params, cfg=cfg)


def main():
    wall0 = time.perf_counter()
    family = family_of(sys.argv[1:])
    ap = build_parser(family)
    args = ap.parse_args()
    if family not in FAMILIES:
        ap.error("give --model (%s), --dgm-config CKPT or --sample-only FILE" % ", ".join(FAMILIES))
    device = torch.device(args.device)
    info = set_threads(args.threads, device=str(device))
    torch.manual_seed(args.seed)

    saved = None
    if args.sample_only and args.sample_only.endswith(".pt"):
        saved = torch.load(args.sample_only, map_location="cpu")
        cfg, run = saved["cfg"], saved["run"]
        for key, _ in MODEL_OPTIONS[family]:  # sampling options may be given
            v = getattr(args, "opt_" + key.replace("-", "_"), None)
            if v is not None and key in SAMPLING_OPTIONS[family]:
                cfg[key] = v
            elif v is not None:
                ap.error("--%s: not a sampling option; --sample-only keeps the trained model's" % key)
    else:
        cfg, run = resolve(args, family, args.dgm_config or args.sample_only)
    model = MODELS[family](cfg, device).to(device)
    opts = sampling_opts(family, cfg)
    res = dict(bench="images_peer", family=family, **info)

    if args.sample_only:
        if saved is not None:
            model.load_state_dict(saved["state"])
            res["trained_steps"] = saved.get("steps")
        else:  # dgm's tensors under dgm's names (no num_batches_tracked in dgm)
            st = read_safetensors(args.sample_only)
            missing, unexpected = model.load_state_dict(st, strict=False)
            missing = [k for k in missing if not k.endswith("num_batches_tracked")]
            if missing or unexpected:
                raise SystemExit("%s: %s does not load into the %s peer: missing %s, unexpected %s"
                                 % (PROG, args.sample_only, family, missing[:5], unexpected[:5]))
            res["trained_steps"] = int(read_dgm_meta(args.sample_only).get("step", 0))
        print("sampling %d from %s (%s)" % (args.n, args.sample_only, describe_sampler(family, opts)),
              flush=True)
        t0 = time.perf_counter()
        x = draw(model, args.n, args.seed, opts, args.sample_batch, device)
        sample_s = time.perf_counter() - t0
        np.save(args.out, x)
        if args.png:
            write_grid(args.png, x)
        res.update(what="samples", source=args.sample_only, n=args.n, sample_s=sample_s,
                   sampler=describe_sampler(family, opts), out=args.out,
                   min=float(x.min()), max=float(x.max()), sampling=opts)
        print("wrote %s: %d samples in %.1f s" % (args.out, args.n, sample_s), flush=True)
        print("json: " + json.dumps(res), flush=True)
        return

    train = read_idx_images(os.path.join(args.data_dir, FILES["train"])).to(device)
    total = steps_of(run, train.shape[0])
    log_every = args.log_every if args.log_every is not None else run["log_every"]
    gen = torch.Generator().manual_seed(args.seed)  # the loader's permutations
    if family == "gan":
        t = GANTrainer(model, train, run, total, gen, args.adam, log_every, not args.no_freeze_d)
    else:
        t = Trainer(model, train, run, total, gen, args.adam, log_every)
    n_params = sum(p.numel() for p in (model.trainable() if family != "gan" else
                                       list(model.generator.parameters()) +
                                       list(model.discriminator.parameters())))
    print("%s peer: %d steps of batch %d, %s lr %g (warm-up %d, %s), clip %g; %d trainable "
          "parameters; config %s" % (family, total, run["batch"], run["optimizer"], run["lr"],
                                     run["warmup"], run["schedule"], run["clip"], n_params,
                                     json.dumps(cfg)), flush=True)
    model.train()
    res.update(train_timed(t, total, run, device, n_params, cfg))
    if args.save:
        torch.save(dict(family=family, cfg=cfg, run=run, steps=total, state=model.state_dict(),
                        torch=torch.__version__), args.save)
    if family == "vae" and args.test_rows > 0:
        test = read_idx_images(os.path.join(args.data_dir, FILES["test"]))[:args.test_rows].to(device)
        model.eval()
        res["test_elbo"] = model.test_elbo(test, args.seed)
        res["test_rows"] = test.shape[0]
        print("test negative ELBO: %.3f nats per image (%d images, one z each)"
              % (res["test_elbo"], test.shape[0]), flush=True)
    t0 = time.perf_counter()
    x = draw(model, args.n, args.seed, opts, args.sample_batch, device)
    sample_s = time.perf_counter() - t0
    np.save(args.out, x)
    if args.png:
        write_grid(args.png, x)
    print("wrote %s: %d samples (%s) in %.1f s" % (args.out, args.n, describe_sampler(family, opts),
                                                   sample_s), flush=True)
    res.update(n=args.n, sample_s=sample_s, sampler=describe_sampler(family, opts), out=args.out,
               min=float(x.min()), max=float(x.max()), sampling=opts,
               wall_s=time.perf_counter() - wall0)
    print("json: " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

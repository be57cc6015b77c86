#!/usr/bin/python3
"""PyTorch peer of `dgm train gan --loss wgan-gp --data gauss8`: the WGAN-GP paper's toy run.

The model is what dgm's wgan-gp defaults build (host/models/gan.c, Gulrajani et al. 2017's
gan_toy.py at width 256): generator Linear(2,256) -> ReLU (x3) -> Linear(256,2), critic
Linear(2,256) -> ReLU (x3) -> Linear(256,1), no batch norm, PyTorch's default
initialization (dgm's layers use it too), under dgm's checkpoint names. Per iteration, as
dgm: 5 critic steps, each on a fresh data batch of 256 against 256 fakes (z ~ N(0, I) in 2-D,
the generator without grad), loss mean D(fake) - mean D(real) + 10 * mean (|grad D(x^)| - 1)^2
at x^ = e real + (1 - e) fake, e ~ U(0, 1) per sample; then one generator step on 256 fresh
z, loss -mean D(G(z)). Adam lr 1e-4, betas (0.5, 0.9), one per player.

The data are dgm's gauss8 toy (FFJORD's 8 gaussians: centres 4 (+-1, 0), (0, +-1),
(+-1/sqrt2, +-1/sqrt2) / 1.414, std 0.5 / 1.414), 100,000 training samples drawn with numpy
(the same distribution as dgm's, not the same numbers), batches as dgm's loader serves them.

  --iters N   generator steps (default 10,000: dgm's default run)
  --seed S    torch and numpy seeds
  --threads T torch.set_num_threads(T)
Prints the seconds per iteration and the mode coverage of 2,500 samples as `dgm eval
--metric modes,high_quality,reverse_kl` reports it (a JSON line prefixed "json: ").
Run it with Debian's python (/usr/bin/python3, python3-torch).
"""
import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from peer_common import Loader, add_threads_arg, set_threads
from torch_gan2d import mode_coverage
from toy2d_data import GAUSS8_CENTRES, GAUSS8_STD, gauss8

BATCH = 256
CRITIC_STEPS = 5
LAMBDA = 10.0
TRAIN_COUNT = 100000
EVAL_SAMPLES = 2500
WIDTH = 256


def mlp(inp, out):
    return nn.Sequential(nn.Linear(inp, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(),
                         nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, out))


class Player(nn.Module):
    def __init__(self, inp, out):
        super().__init__()
        self.net = mlp(inp, out)

    def forward(self, x):
        return self.net(x)


def critic_step(g, d, opt, real):
    with torch.no_grad():
        fake = g(torch.randn(real.shape[0], 2))
    e = torch.rand(real.shape[0], 1)
    xhat = (e * real + (1 - e) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(d(xhat).sum(), xhat, create_graph=True)
    gp = ((grad.square().sum(dim=1) + 1e-12).sqrt() - 1).square().mean()
    loss = d(fake).mean() - d(real).mean() + LAMBDA * gp
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    add_threads_arg(ap)
    args = ap.parse_args()
    info = set_threads(args.threads)
    torch.manual_seed(args.seed)
    data = torch.tensor(gauss8(TRAIN_COUNT, np.random.RandomState(args.seed)), dtype=torch.float32)
    loader = Loader(data, BATCH, torch.Generator().manual_seed(args.seed))
    g, d = Player(2, 2), Player(2, 1)
    kw = dict(lr=1e-4, betas=(0.5, 0.9))
    g_opt, d_opt = torch.optim.Adam(g.parameters(), **kw), torch.optim.Adam(d.parameters(), **kw)
    start = time.perf_counter()
    for it in range(args.iters):
        for _ in range(CRITIC_STEPS):
            d_loss = critic_step(g, d, d_opt, loader.next())
        g_loss = -d(g(torch.randn(BATCH, 2))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        if (it + 1) % 1000 == 0:
            print("iteration %d: critic loss %.4f, generator loss %.4f" % (it + 1, d_loss.item(),
                                                                          g_loss.item()), flush=True)
    sec = time.perf_counter() - start
    with torch.no_grad():
        samples = g(torch.randn(EVAL_SAMPLES, 2))
    mc = mode_coverage(samples, torch.tensor(GAUSS8_CENTRES, dtype=torch.float64), GAUSS8_STD)
    print("%d iterations in %.1f s (%.4f s each), seed %d: %d/%d modes, high quality %.4f, "
          "reverse KL %.4f" % (args.iters, sec, sec / args.iters, args.seed, mc["modes"],
                               mc["total_modes"], mc["high_quality"], mc["reverse_kl"]))
    print("json: " + json.dumps(dict(bench="wgan_gp2d_torch", seed=args.seed, iters=args.iters,
                                     seconds=sec, s_per_iter=sec / args.iters, **mc, **info)))


if __name__ == "__main__":
    main()

"""PyTorch peers of dgm's convolutional networks (dgm/nn.h): the time-conditioned UNet, the
InfoGAN-style DCGAN pair and the convolutional VAE's encoder and decoder, as module trees
whose state_dict names are dgm's parameter names.

  --check DIR   loads DIR/nets.safetensors (bench_unet --export: dgm's parameters, inputs
                and outputs) into each network with load_state_dict(strict=True) and
                compares the outputs with dgm's; exits 1 on a mismatch
  --bench       one training step of the default UNet (eps-prediction MSE, Adam, batch
                128), the median over timed steps, as bench_unet times dgm's

Reads safetensors with its own few lines (numpy), so no package beyond torch is needed.
"""
import argparse
import json
import math
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(h["shape"]).copy())
    return out


def group_norm(ch):
    return nn.GroupNorm(min(32, ch), ch, eps=1e-5)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, dropout):
        super().__init__()
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(tdim, 2 * cout)
        self.norm2 = group_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x, e_act):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(e_act).chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        h = self.conv2(self.drop(F.silu(h)))
        return (x if self.skip is None else self.skip(x)) + h


class Attention(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.norm = group_norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        a = torch.softmax(torch.einsum("bci,bcj->bij", q, k) / math.sqrt(c), dim=-1)
        o = torch.einsum("bij,bcj->bci", a, v).reshape(b, c, h, w)
        return x + self.proj(o)


class UNet(nn.Module):
    """dgm_unet: the same blocks, order and names (dgm/nn.h)."""

    def __init__(self, in_ch=1, out_ch=1, emb_dim=32, channels=(32, 64, 64),
                 attention=(False, True, True), blocks=2, dropout=0.0):
        super().__init__()
        c0, tdim, levels = channels[0], 4 * channels[0], len(channels)
        self.attention = attention
        self.time_embed = nn.Sequential(nn.Linear(emb_dim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.conv_in = nn.Conv2d(in_ch, c0, 3, padding=1)
        skip, ch = [c0], c0
        self.down = nn.ModuleList()
        for l, c in enumerate(channels):
            lv = nn.Module()
            lv.res = nn.ModuleList()
            if attention[l]:
                lv.attn = nn.ModuleList()
            for _ in range(blocks):
                lv.res.append(ResBlock(ch, c, tdim, dropout))
                ch = c
                if attention[l]:
                    lv.attn.append(Attention(ch))
                skip.append(ch)
            if l + 1 < levels:
                lv.downsample = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
                skip.append(ch)
            self.down.append(lv)
        self.mid = nn.Module()
        self.mid.res1 = ResBlock(ch, ch, tdim, dropout)
        self.mid.attn = Attention(ch)
        self.mid.res2 = ResBlock(ch, ch, tdim, dropout)
        ups = [None] * levels
        for l in reversed(range(levels)):
            lv = nn.Module()
            lv.res = nn.ModuleList()
            if attention[l]:
                lv.attn = nn.ModuleList()
            for _ in range(blocks + 1):
                lv.res.append(ResBlock(ch + skip.pop(), channels[l], tdim, dropout))
                ch = channels[l]
                if attention[l]:
                    lv.attn.append(Attention(ch))
            if l > 0:
                lv.upsample = nn.Conv2d(ch, ch, 3, padding=1)
            ups[l] = lv
        self.up = nn.ModuleList(ups)
        self.norm_out = group_norm(ch)
        self.conv_out = nn.Conv2d(ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, e):
        t = F.silu(self.time_embed(e))
        h = self.conv_in(x)
        hs = [h]
        for l, lv in enumerate(self.down):
            for i, r in enumerate(lv.res):
                h = r(h, t)
                if self.attention[l]:
                    h = lv.attn[i](h)
                hs.append(h)
            if hasattr(lv, "downsample"):
                h = lv.downsample(h)
                hs.append(h)
        h = self.mid.res2(self.mid.attn(self.mid.res1(h, t)), t)
        for l in reversed(range(len(self.up))):
            lv = self.up[l]
            for i, r in enumerate(lv.res):
                h = r(torch.cat([h, hs.pop()], 1), t)
                if self.attention[l]:
                    h = lv.attn[i](h)
            if hasattr(lv, "upsample"):
                h = lv.upsample(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class DCGANGenerator(nn.Module):
    def __init__(self, channels=1, height=28, width=28, latent=64, hidden=1024, base=64,
                 batch_norm=True, output="tanh"):
        super().__init__()
        self.shape, self.bn, self.output = (2 * base, height // 4, width // 4), batch_norm, output
        self.fc1 = nn.Linear(latent, hidden, bias=not batch_norm)
        self.fc2 = nn.Linear(hidden, 2 * base * (height // 4) * (width // 4), bias=not batch_norm)
        self.deconv1 = nn.ConvTranspose2d(2 * base, base, 4, 2, 1, bias=not batch_norm)
        self.deconv2 = nn.ConvTranspose2d(base, channels, 4, 2, 1)
        if batch_norm:
            self.bn1 = nn.BatchNorm1d(hidden)
            self.bn2 = nn.BatchNorm1d(2 * base * (height // 4) * (width // 4))
            self.bn3 = nn.BatchNorm2d(base)

    def forward(self, z):
        bn = (lambda name, v: getattr(self, name)(v)) if self.bn else (lambda name, v: v)
        h = F.relu(bn("bn1", self.fc1(z)))
        h = F.relu(bn("bn2", self.fc2(h))).reshape(-1, *self.shape)
        h = F.relu(bn("bn3", self.deconv1(h)))
        h = self.deconv2(h)
        return torch.tanh(h) if self.output == "tanh" else h


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels=1, height=28, width=28, hidden=1024, base=64, out_features=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, base, 4, 2, 1)
        self.conv2 = nn.Conv2d(base, 2 * base, 4, 2, 1)
        self.fc1 = nn.Linear(2 * base * (height // 4) * (width // 4), hidden)
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2).flatten(1)
        return self.fc2(F.leaky_relu(self.fc1(h), 0.2))


def sinusoidal(t, dim):
    """dgm_time_embedding: sines then cosines, f_i = exp(-ln(10000)·i/(half-1))."""
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / max(half - 1, 1))
    a = t.double().reshape(-1, 1) * f
    return torch.cat([torch.sin(a), torch.cos(a)], 1).float()


def check(directory):
    st = read_safetensors(directory + "/nets.safetensors")

    def part(prefix):
        return {k[len(prefix) + 1:]: v for k, v in st.items() if k.startswith(prefix + ".")}

    nets = [
        ("unet", UNet(), lambda m: m(st["input.x"], st["input.e"])),
        ("generator", DCGANGenerator(), lambda m: m(st["input.z"])),
        ("discriminator", DCGANDiscriminator(), lambda m: m(st["input.x"])),
        ("encoder", DCGANDiscriminator(hidden=400, base=32, out_features=40), lambda m: m(st["input.x"])),
        ("decoder", DCGANGenerator(latent=20, hidden=400, base=32, batch_norm=False, output="none"),
         lambda m: m(st["input.z_vae"])),
    ]
    ok = True
    for name, net, run in nets:
        net.load_state_dict(part(name), strict=True)
        net.eval()
        with torch.no_grad():
            got = run(net)
        want = st["output." + name]
        err = (got - want).abs().max().item()
        scale = want.abs().max().item()
        good = err <= 1e-4 * max(1.0, scale)
        ok &= good
        print("%-14s strict load ok, %d tensors; max |torch - dgm| = %.3g (outputs up to %.3g): %s"
              % (name, len(part(name)), err, scale, "ok" if good else "MISMATCH"))
        print("json: " + json.dumps({"bench": "convnets_check", "net": name, "max_abs_diff": err,
                                     "max_abs_output": scale, "ok": bool(good)}))
    return ok


def bench(batch, steps, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = UNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x0 = torch.rand(batch, 1, 28, 28) * 2 - 1
    eps = torch.randn(batch, 1, 28, 28)
    e = sinusoidal(torch.rand(batch) * 999, 32)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(net(0.8 * x0 + 0.6 * eps, e), eps)
        loss.backward()
        opt.step()

    step()
    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    med = statistics.median(times)
    print("torch (%d threads): %.3f s/step (median of %d; range %.3f-%.3f), peak RSS %.0f MiB"
          % (threads, med, steps, min(times), max(times), rss))
    print("json: " + json.dumps({"bench": "unet", "what": "torch", "threads": threads,
                                 "batch": batch, "seconds_per_step": med, "min": min(times),
                                 "max": max(times), "steps": steps, "peak_rss_mib": rss,
                                 "torch": torch.__version__}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.check:
        sys.exit(0 if check(a.check) else 1)
    if a.bench:
        bench(a.batch, a.steps, a.threads)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch peer of dgm's VAE benchmark: pytorch/examples' VAE on the same Fashion-MNIST.

The model is pytorch/examples' vae/main.py: fc1 784->400, fc21/fc22 400->20, fc3 20->400,
fc4 400->784, ReLU, sigmoid output, loss = BCE summed over pixels + KLD. One difference,
to optimize exactly what dgm optimizes: the training loss is divided by the batch size
(dgm's loss is the mean over the batch of that per-sample sum; pytorch/examples sums over
the batch). Adam lr 1e-3, batch 128, the last partial batch kept (469 steps per epoch).

The data are the IDX files dgm reads (Debian's dataset-fashion-mnist, or $DGM_DATA_DIR),
read with gzip + numpy: no torchvision. Batches are gathered from one in-memory tensor
with a fresh torch.randperm each epoch (as dgm's loader does on its device), not through
torch.utils.data.DataLoader, whose per-sample Python work would only slow the peer down.

  --epochs N --time-epoch    train N epochs, print seconds per epoch (JSON lines: "epoch"
                             each, "median_epoch" their median, the headline, with min, max,
                             drift_ratio = last epoch / first, drift (beyond 1.10 either
                             way) and seconds_each; "best_epoch" the fastest, same fields)
  --threads T                torch.set_num_threads(T) (OPENBLAS_NUM_THREADS: set it in
                             the environment; Debian's torch does its GEMMs in OpenBLAS)
  --save PATH                after training, write the weights as a dgm checkpoint
  --load PATH                load a dgm checkpoint (strict) and print the test negative
                             ELBO, nats per sample, as pytorch/examples' test loss defines
                             it: BCE summed over pixels + KL, one z per x, averaged over
                             the 10000 test images (--eval-seeds K: mean over K seeds)

Run it with Debian's python (/usr/bin/python3, python3-torch) and safetensors.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from peer_common import report_windows

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
FILES = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}
# What dgm_model_load needs in __metadata__ (host/models/checkpoint.c): format, model,
# config (the model's JSON options) and dim ("dim s0 s1": sample size and shape).
DGM_CONFIG = {"hidden": [400], "latent": 20, "decoder": "bernoulli", "decoder-var": "learned",
              "beta": 1.0, "kl-warmup": 0}


def data_dir():
    for d in (os.environ.get("DGM_DATA_DIR"), DEFAULT_DATA):
        if d and os.path.exists(os.path.join(d, FILES["train"])):
            return d
    sys.exit("torch_vae.py: no Fashion-MNIST IDX files in $DGM_DATA_DIR or " + DEFAULT_DATA)


def read_idx_images(path):
    """An IDX file of unsigned bytes [n, rows, cols] (gzip or plain) -> float32 [n, rows*cols]
    in [0, 1], as dgm_dataset_load_idx scales it."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x803:
        sys.exit(f"{path}: not an IDX3 file of unsigned bytes (magic {magic:#x})")
    x = np.frombuffer(raw, dtype=np.uint8, count=n * rows * cols, offset=16)
    return torch.from_numpy(x.reshape(n, rows * cols).astype(np.float32) / 255.0)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """pytorch/examples': BCE summed over pixels and batch + KLD (summed)."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def train_epoch(model, optimizer, x_train, batch, generator):
    model.train()
    n = x_train.shape[0]
    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch):
        data = x_train[perm[start:start + batch]]
        optimizer.zero_grad()
        recon, mu, logvar = model(data)
        # dgm's loss: the mean over the batch of the per-sample negative ELBO.
        loss = loss_function(recon, data, mu, logvar) / data.shape[0]
        loss.backward()
        optimizer.step()
    return loss.item()


@torch.no_grad()
def test_neg_elbo(model, x_test, seed):
    """pytorch/examples' test loss: sum over the test set of BCE + KL, / number of samples."""
    model.eval()
    torch.manual_seed(seed)
    total = 0.0
    for start in range(0, x_test.shape[0], 1000):
        data = x_test[start:start + 1000]
        recon, mu, logvar = model(data)
        total += loss_function(recon, data, mu, logvar).double().item()
    return total / x_test.shape[0]


def save_dgm_checkpoint(model, path, step):
    from safetensors.torch import save_file
    tensors = {k: v.detach().contiguous().float() for k, v in model.state_dict().items()}
    meta = {"format": "dgm-checkpoint", "model": "vae",
            "config": json.dumps(DGM_CONFIG, separators=(",", ":")),
            "dim": "784 28 28", "step": str(step), "data": "fashion-mnist",
            "written_by": "benchmarks/peers/torch_vae.py (torch %s)" % torch.__version__}
    save_file(tensors, path, metadata=meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    ap.add_argument("--time-epoch", action="store_true", help="print seconds per epoch")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--load", metavar="PATH", help="evaluate a dgm checkpoint")
    ap.add_argument("--eval-seeds", type=int, default=1,
                    help="with --load: average the test bound over this many seeds")
    ap.add_argument("--save", metavar="PATH", help="train, then write a dgm checkpoint")
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    d = data_dir()
    x_test = read_idx_images(os.path.join(d, FILES["test"]))
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset")}

    if args.load:
        from safetensors.torch import load_file
        model = VAE()
        model.load_state_dict(load_file(args.load), strict=True)
        vals = [test_neg_elbo(model, x_test, args.seed + s) for s in range(args.eval_seeds)]
        mean = sum(vals) / len(vals)
        print("test negative ELBO of %s: %.4f nats/sample (mean of %d seed%s: %s)"
              % (args.load, mean, len(vals), "s" if len(vals) > 1 else "",
                 ", ".join("%.3f" % v for v in vals)))
        print("json: " + json.dumps({"bench": "vae_torch", "what": "eval", "path": args.load,
                                      "neg_elbo": mean, "per_seed": vals}))
        return

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train = read_idx_images(os.path.join(d, FILES["train"]))
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = (x_train.shape[0] + args.batch - 1) // args.batch
    times = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = train_epoch(model, optimizer, x_train, args.batch, gen)
        sec = time.perf_counter() - t0
        times.append(sec)
        print("epoch %d: %.3f s, loss %.3f" % (epoch, sec, loss), flush=True)
        if args.time_epoch:
            print("json: " + json.dumps(dict(bench="vae_torch", what="epoch", epoch=epoch,
                                             seconds=sec, loss=loss, steps=steps_per_epoch,
                                             **info)), flush=True)
    if args.time_epoch:
        report_windows("vae_torch", "seconds", times, info, each="epoch", unit="s/epoch",
                       epochs=args.epochs)
    if args.save:
        save_dgm_checkpoint(model, args.save, args.epochs * steps_per_epoch)
        neg = test_neg_elbo(model, x_test, args.seed)
        print("wrote %s; its test negative ELBO here: %.4f nats/sample" % (args.save, neg))


if __name__ == "__main__":
    main()

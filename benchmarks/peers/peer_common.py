"""What the PyTorch peers of dgm's benchmarks share: torch's version, dgm's data loader and
its one-optimizer training loop (StepTrainer), the choice of Adam implementation, torch's
thread setting and the run's settings in their JSON lines, and timed windows of training.

Imported by the peers from their own folder (python puts a script's folder on sys.path).
"""
import math
import os
import time

import torch

ADAM_CHOICES = ("auto", "foreach", "single", "fused")


def torch_version():
    """(major, minor) of torch.__version__ ("1.13.0a0+..." -> (1, 13))."""
    parts = []
    for p in torch.__version__.split(".")[:2]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


class Loader:
    """dgm's loader: shuffled batches from a fixed set, a new permutation per epoch, no
    drop_last (the epoch's last batch holds what is left)."""

    def __init__(self, x, batch, generator):
        self.x, self.batch, self.gen = x, batch, generator
        self.perm, self.pos = None, x.shape[0]

    def next(self):
        if self.pos >= self.x.shape[0]:
            self.perm, self.pos = torch.randperm(self.x.shape[0], generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return self.x[idx]


class StepTrainer:
    """dgm train's loop over one optimizer: batch -> loss -> backward -> step, the loss read
    back (and checked finite) only every log_every steps, as dgm reads it. A subclass sets
    self.loader and self.opt and defines batch_loss(x); before_step (after the backward)
    and after_step (after the update, self.step counting it) are its hooks."""

    prog = "peer"
    log_every = 500
    step = 0
    loss = float("nan")

    def batch_loss(self, x):
        raise NotImplementedError

    def before_step(self):
        pass

    def after_step(self):
        pass

    def logged(self):
        """Called with self.loss set, at each log_every-th step."""

    def train_step(self):
        x = self.loader.next()
        loss = self.batch_loss(x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.before_step()
        self.opt.step()
        self.step += 1
        self.after_step()
        if self.log_every > 0 and self.step % self.log_every == 0:
            self.loss = loss.item()
            if not math.isfinite(self.loss):
                raise SystemExit("%s: the loss is not finite at step %d" % (self.prog, self.step))
            self.logged()
        return loss

    def run(self, n):
        loss = None
        for _ in range(n):
            loss = self.train_step()
        return loss


def add_adam_arg(ap, auto):
    """--adam {auto,foreach,single,fused}; auto: fused from torch 2.4, else `auto`."""
    ap.add_argument("--adam", choices=ADAM_CHOICES, default="auto",
                    help="Adam implementation (auto: fused from torch 2.4, else %s; "
                         "fused: CUDA only before 2.4)" % auto)


def adam_kwargs(adam, auto, **kw):
    """torch.optim.Adam's keywords for the implementation `adam` names: foreach (the
    multi-tensor path), single (the single-tensor loop), fused, or auto: fused where torch
    has a CPU one (2.4 and later), else `auto`. Returns (the implementation, keywords)."""
    if adam == "auto":
        adam = "fused" if torch_version() >= (2, 4) else auto
    if adam == "foreach":
        kw["foreach"] = True
    elif adam == "single":
        kw["foreach"] = False
    elif adam == "fused":
        kw["fused"] = True
    return adam, kw


def add_threads_arg(ap):
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")


def set_threads(threads, **extra):
    """torch.set_num_threads(threads) when threads > 0; returns the run's settings for the
    JSON lines: torch's version, its threads, OPENBLAS_NUM_THREADS, then `extra`."""
    if threads > 0:
        torch.set_num_threads(threads)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset")}
    info.update(extra)
    return info


def timed_windows(run, n, windows, report):
    """`windows` windows of run(n) (which returns the last loss tensor), seconds per 1,000
    steps each; report(window, seconds, loss) after each, the loss read after the clock.
    Returns the seconds."""
    times = []
    for w in range(1, windows + 1):
        t0 = time.perf_counter()
        loss = run(n)
        sec = (time.perf_counter() - t0) * 1000.0 / n
        times.append(sec)
        report(w, sec, loss.item())
    return times

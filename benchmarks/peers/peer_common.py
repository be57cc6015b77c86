"""What the PyTorch peers of dgm's benchmarks share: torch's version, dgm's data loader and
its one-optimizer training loop (StepTrainer), the choice of Adam implementation, torch's
thread setting and the run's settings in their JSON lines, timed windows of training and
their spread (median, range, drift), the same fields dgm's benchmarks report
(benchmarks/bench_common.h: bench_spread_of).

Imported by the peers from their own folder (python puts a script's folder on sys.path).
"""
import json
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


DRIFT = 1.10  # as dgm's BENCH_DRIFT: the last window more than 10 % off the first drifts


def spread(times):
    """The spread of timed windows (or epochs) `times`, as dgm's benchmarks report it: the
    median (the headline number; with an even count, the mean of the two middle ones), min,
    max, drift_ratio = the last window's time over the first's, drift = two or more windows
    and drift_ratio beyond DRIFT either way, and seconds_each (every window, in order)."""
    n = len(times)
    if n == 0:
        return {}
    s = sorted(times)
    median = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
    ratio = times[-1] / times[0] if times[0] > 0 else 1.0
    return dict(median=median, min=s[0], max=s[-1], drift_ratio=ratio,
                drift=n >= 2 and (ratio > DRIFT or ratio < 1.0 / DRIFT),
                seconds_each=list(times))


def print_spread(sp, each, unit):
    """One line, as dgm's bench_print_spread: "windows: median 1.262 s/1k steps (min 1.240,
    max 2.350, spread 88%); last/first 1.87  DRIFT: ..."; `each` names one window."""
    if not sp:
        return
    line = ("%ss: median %.3f %s (min %.3f, max %.3f, spread %.0f%%); last/first %.2f"
            % (each, sp["median"], unit, sp["min"], sp["max"],
               100.0 * (sp["max"] - sp["min"]) / sp["median"] if sp["median"] > 0 else 0.0,
               sp["drift_ratio"]))
    if sp["drift"]:
        line += "  DRIFT: the last %s is more than %.0f%% off the first" % (
            each, 100.0 * (DRIFT - 1.0))
    print(line, flush=True)


def report_windows(bench, field, times, info, each="window", unit="s/1k steps", **extra):
    """The JSON lines of a run's timed windows `times`: "median_<each>" (the headline: `field`
    holds the median, with the spread's fields) and, for older readers, "best_<each>"
    (`field` holds the best, the spread's fields too); the spread's line first. `extra`:
    more keys of both lines (windows, iters, ...). Returns the spread."""
    sp = spread(times)
    if not sp:
        return sp
    print_spread(sp, each, unit)
    for what, v in (("median_" + each, sp["median"]), ("best_" + each, sp["min"])):
        rec = dict(bench=bench, what=what)
        rec[field] = v
        rec.update(extra)
        rec.update(sp)
        rec.update(info)
        print("json: " + json.dumps(rec), flush=True)
    return sp


def train_in_windows(t, args, bench, info, extra=lambda: ""):
    """The loop of the 2-D score peers: with --time-only N, --windows windows of N steps after
    --warmup ones (no full run); else args.steps steps in windows of 1,000. Each window
    printed (extra(): more text for its line) and as a JSON line. t.run(n) trains n steps
    and returns the last loss tensor; t.step counts them. Returns (the windows' seconds per
    1,000 steps, their spread as report_windows gives it, the run's total seconds or None
    for --time-only)."""
    import json
    import time

    def window(w, n, sec_per_k, loss):
        print("window %d: %.3f s per 1k steps (%d steps), loss %.4f%s at step %d"
              % (w, sec_per_k, n, loss, extra(), t.step), flush=True)
        print("json: " + json.dumps(dict(bench=bench, what="window", window=w,
                                         seconds_per_1k_steps=sec_per_k, steps=n, loss=loss,
                                         at_step=t.step, **info)), flush=True)

    times, total_sec = [], None
    if args.time_only > 0:
        t.run(args.warmup)
        times = timed_windows(t.run, args.time_only, args.windows,
                              lambda w, sec, loss: window(w, args.time_only, sec, loss))
    else:
        total_sec, done = 0.0, 0
        while done < args.steps:
            n = min(1000, args.steps - done)
            t0 = time.perf_counter()
            loss = t.run(n)
            sec = time.perf_counter() - t0
            total_sec += sec
            done += n
            times.append(sec * 1000.0 / n)
            window(len(times), n, times[-1], loss.item())
    sp = report_windows(bench, "seconds_per_1k_steps", times, info, windows=len(times))
    return times, sp, total_sec


def add_run_args(ap):
    """--seed and the timing mode's --time-only N, --windows, --warmup (the 2-D peers')."""
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-only", type=int, default=0, metavar="N",
                    help="time --windows windows of N steps instead of a full run")
    ap.add_argument("--windows", type=int, default=3, help="timed windows with --time-only")
    ap.add_argument("--warmup", type=int, default=100, help="untimed steps with --time-only")

#!/usr/bin/python3
"""The GEMM floor of the score SDE's 2-D NLL (docs/benchmark-notes.md, issue 26): the time
the products of the probability-flow ODE's network evaluations take alone, through the
BLAS PyTorch and dgm both use here (Debian's OpenBLAS), each shape timed alone, best of 5.

One evaluation of the velocity with the exact divergence, for 1,000 rows of 2-D data and
the default network (the MLP [x, 32-wide embedding] 34-128-128-128-2): the forward pass
(1000x34 . 34x128, two 1000x128 . 128x128, 1000x128 . 128x2) and, per dimension, one
input-gradient pass (1000x2 . 2x128, two 1000x128 . 128x128, 1000x128 . 128x34).

Usage: benchmarks/nll_gemm_floor.py [EVALUATIONS] (default 5150: the peer's count for the
10,000 moons points of run_bench_sde2d.sh). OPENBLAS_NUM_THREADS and --threads T
(torch.set_num_threads) set the threads.
"""
import argparse
import time

import torch


def best(m, k, n, reps=200):
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    t_best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        t_best = min(t_best, (time.perf_counter() - t0) / reps)
    return t_best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("evaluations", nargs="?", type=float, default=5150)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    n = 1000
    fwd = best(n, 34, 128) + 2 * best(n, 128, 128) + best(n, 128, 2)
    grad = best(n, 2, 128) + 2 * best(n, 128, 128) + best(n, 128, 34)
    per = fwd + 2 * grad
    print("per evaluation of 1,000 rows: forward %.3f ms, one gradient pass %.3f ms, with the "
          "divergence %.3f ms; %d evaluations: %.2f s"
          % (fwd * 1e3, grad * 1e3, per * 1e3, a.evaluations, per * a.evaluations))


if __name__ == "__main__":
    main()

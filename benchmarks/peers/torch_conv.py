"""PyTorch peer of benchmarks/bench_conv: forward + backward (dx, dW, db) of the same
convolutions (benchmarks/conv_shapes.h, read from there so the lists cannot drift), timed
the same way: warm-up calls, then the best of `trials` windows of at least min_seconds.
PyTorch runs its CPU convolutions through oneDNN (mkldnn) as it ships.

Usage: torch_conv.py [--threads N] [--quick] [--only NAME]
Prints "json: " lines with the seconds per forward + backward of each shape.
"""
import argparse
import json
import os
import re
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def shapes():
    text = open(os.path.join(HERE, "..", "conv_shapes.h")).read()
    rows = re.findall(r'\{"(\w+)",\s*([\d,\s]+)\}', text)
    out = []
    for name, nums in rows:
        n, c, h, w, o, k, stride, pad, transposed = (int(v) for v in nums.split(","))
        out.append(dict(name=name, n=n, c=c, h=h, w=w, o=o, k=k, stride=stride, pad=pad,
                        transposed=bool(transposed)))
    return out


def bench(fn, min_seconds, trials, warmup=2):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(trials):
        iters, start = 0, time.perf_counter()
        while True:
            fn()
            iters += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / iters)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    min_s, trials = (0.2, 1) if a.quick else (1.0, 3)
    g = torch.Generator().manual_seed(0)
    for s in shapes():
        if a.only and a.only != s["name"]:
            continue
        if s["transposed"]:
            wshape = (s["c"], s["o"], s["k"], s["k"])
        else:
            wshape = (s["o"], s["c"], s["k"], s["k"])
        x = (torch.rand(s["n"], s["c"], s["h"], s["w"], generator=g) - 0.5).requires_grad_()
        w = (torch.rand(*wshape, generator=g) - 0.5).requires_grad_()
        b = (torch.rand(s["o"], generator=g) - 0.5).requires_grad_()
        conv = F.conv_transpose2d if s["transposed"] else F.conv2d
        y = conv(x, w, b, stride=s["stride"], padding=s["pad"])
        dy = torch.rand(y.shape, generator=g) - 0.5

        def step():
            x.grad = w.grad = b.grad = None
            conv(x, w, b, stride=s["stride"], padding=s["pad"]).backward(dy)

        sec = bench(step, min_s, trials)
        print(f"{s['name']:<24} {sec * 1e3:9.3f} ms")
        print("json: " + json.dumps({"bench": "conv", "shape": s["name"], "what": "torch",
                                     "threads": a.threads, "seconds": sec,
                                     "torch": torch.__version__,
                                     "mkldnn": torch.backends.mkldnn.is_available()}), flush=True)


if __name__ == "__main__":
    main()

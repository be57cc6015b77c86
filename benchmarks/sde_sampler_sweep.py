#!/usr/bin/python3
"""The score SDE's samplers and likelihood against their steps and tolerances, on one
trained checkpoint: the table docs/benchmarks.md keeps ("W2 and NLL against sampler and
steps").

Per sampler setting, `dgm sample CKPT -n 2000 --seed S --set ...` and the exact W2 of the
samples to the reference rows (`dgm compare A.npy REF.npy --metric w2`), with the network
evaluations per sample (dgm's note on stderr) and the wall-clock seconds of the command:
  pc, reverse-diffusion predictor + 1 Langevin corrector, N = 25 .. 1000 (VP's reverse
      diffusion needs N > β_max = 20);
  pc, Euler–Maruyama predictor without a corrector, N = 10 .. 1000;
  the probability-flow ODE by Euler, Heun and RK4 in N = 10 .. 200 steps, and by the
      adaptive Dormand–Prince solver at rtol = atol = 1e-3 .. 1e-5.
Then the NLL of the NLL rows by the probability-flow ODE (always adaptive) at tolerances
1e-3 .. 1e-7, with its evaluations per batch and seconds.

Usage: benchmarks/sde_sampler_sweep.py --dgm build/dgm --ckpt DIR/checkpoint.safetensors
         --ref REF.npy --nll NLL.npy [--nll-rows N] [--seed 1] [--quick]
  (run_bench_sde2d.sh's work folder has dgm-moons/checkpoint.safetensors, moons_ref.npy and
  moons_nll.npy). Prints a Markdown table per part and JSON lines (prefix "json: ").
  --nll-rows N: the first N rows of the NLL file (default 2000) — the NLL is per point, so
  its tolerance sweep needs no more.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile
import time


def run(cmd, env):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
    return p.stdout, p.stderr, time.time() - t0


def evaluations(stderr):
    m = re.search(r"(\d+) network evaluations", stderr)
    return int(m.group(1)) if m else None


def sample_rows(a, env, tmp):
    settings = []
    for n in (25, 50, 100, 250, 500, 1000):
        settings.append(("pc: reverse diffusion + Langevin", "N = %d" % n, ["sample-steps=%d" % n]))
    for n in (10, 50, 100, 1000):
        settings.append(("pc: Euler–Maruyama, no corrector", "N = %d" % n,
                         ["sample-steps=%d" % n, "predictor=euler-maruyama", "corrector=none"]))
    for solver in ("euler", "heun", "rk4"):
        for n in (10, 20, 50, 200):
            settings.append(("ode: " + solver, "N = %d" % n,
                             ["sampler=ode", "solver=" + solver, "sample-steps=%d" % n]))
    for tol in ("1e-3", "1e-4", "1e-5"):
        settings.append(("ode: dopri5 (adaptive)", "tol " + tol, ["sampler=ode", "rtol=" + tol, "atol=" + tol]))
    if a.quick:
        settings = settings[::4]
    print("| sampler | steps | evaluations per sample | W2 | seconds (2,000 samples) |")
    print("|---|---|---:|---:|---:|")
    for name, steps, sets in settings:
        out = os.path.join(tmp, "s.npy")
        cmd = [a.dgm, "sample", a.ckpt, "-n", "2000", "--seed", str(a.seed), "-o", out, "--device", "cpu"]
        for s in sets:
            cmd += ["--set", s]
        _, err, sec = run(cmd, env)
        w2 = json.loads(run([a.dgm, "compare", out, a.ref, "--metric", "w2"], env)[0])["w2"]
        nfe = evaluations(err)
        print("| %s | %s | %s | %.4f | %.1f |" % (name, steps, nfe, w2, sec))
        print("json: " + json.dumps(dict(bench="sde_sampler_sweep", sampler=name, steps=steps, set=sets,
                                         evaluations=nfe, w2=w2, seconds=sec)))


def nll_rows(a, env, tmp):
    import numpy as np
    x = np.load(a.nll)[:a.nll_rows].astype(np.float32)
    keep = len(x)
    path = os.path.join(tmp, "nll.npy")
    np.save(path, x)
    print("\n| NLL by the probability-flow ODE, dopri5 | evaluations per batch of 1,000 | NLL (nats) | seconds |")
    print("|---|---:|---:|---:|")
    tols = ("1e-3", "1e-5", "1e-7") if a.quick else ("1e-3", "1e-4", "1e-5", "1e-6", "1e-7")
    for tol in tols:
        cmd = [a.dgm, "eval", a.ckpt, "--data", path, "--metric", "nll", "--device", "cpu",
               "--set", "rtol=" + tol, "--set", "atol=" + tol]
        out, err, sec = run(cmd, env)
        nll = json.loads(out)["nll"]
        nfe = evaluations(err)
        print("| rtol = atol = %s | %s | %.4f | %.1f |" % (tol, nfe, nll, sec))
        print("json: " + json.dumps(dict(bench="sde_nll_sweep", tol=float(tol), rows=keep, evaluations=nfe,
                                         nll=nll, seconds=sec)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dgm", default="build/dgm")
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--nll", required=True)
    ap.add_argument("--nll-rows", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    with tempfile.TemporaryDirectory() as tmp:
        sample_rows(a, env, tmp)
        nll_rows(a, env, tmp)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""FID against the sampler and its steps for an image checkpoint of ddpm or fm: the table
docs/benchmarks.md keeps ("FID against sampling steps on Fashion-MNIST").

Per setting, `dgm eval CKPT --metric fid,is -n N --seed S --set ...` (FID of N samples to
the test set and the Inception-style score, through dgm's classifier), with the network
evaluations per sample and the wall-clock seconds of the command:
  ddpm: DDIM (η = 0) in 10, 20, 50, 100 steps; ancestral sampling (all T steps);
  fm:   Euler in 5, 10, 20, 50, 100 steps; Heun in 5, 10, 20, 50; RK4 in 5, 10, 20.

Usage: benchmarks/image_sampler_sweep.py --dgm build/dgm --ckpt DIR/checkpoint.safetensors
         [-n 5000] [--seed 1] [--only SAMPLER:STEPS,...] [--quick]
  --quick: 100 samples and two settings (a smoke test of the script).
Prints a Markdown table and JSON lines (prefix "json: ").
"""
import argparse
import json
import subprocess
import time


def settings(kind, timesteps):
    if kind == "ddpm":
        rows = [("ddim", s, s) for s in (10, 20, 50, 100)]
        rows.append(("ancestral", timesteps, timesteps))
        return rows
    if kind == "fm":
        evals = {"euler": 1, "heun": 2, "rk4": 4}
        steps = {"euler": (5, 10, 20, 50, 100), "heun": (5, 10, 20, 50), "rk4": (5, 10, 20)}
        return [(solver, s, s * evals[solver]) for solver in ("euler", "heun", "rk4") for s in steps[solver]]
    raise SystemExit("image_sampler_sweep: %s checkpoints have no sampler sweep (ddpm or fm)" % kind)


def checkpoint_config(dgm, ckpt):
    p = subprocess.run([dgm, "info", ckpt], capture_output=True, text=True)
    if p.returncode:
        raise SystemExit("dgm info failed: " + p.stderr)
    lines = dict(l.split(": ", 1) for l in p.stdout.splitlines() if ": " in l and not l.startswith(" "))
    return lines["model"], json.loads(lines["config"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dgm", default="build/dgm")
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="SAMPLER:STEPS,... (default: the whole sweep)")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    kind, config = checkpoint_config(a.dgm, a.ckpt)
    rows = settings(kind, int(config.get("timesteps", 1000)))
    if a.only:
        want = {tuple(x.split(":")) for x in a.only.split(",")}
        rows = [r for r in rows if (r[0], str(r[1])) in want]
    n = a.n
    if a.quick:
        rows, n = rows[:2], 100
    key = "sampler" if kind == "ddpm" else "solver"
    print("| %s | steps | network evaluations per sample | FID (%d samples) | IS | seconds |" % (key, n))
    print("|---|---|---|---|---|---|")
    for sampler, steps, nfe in rows:
        cmd = [a.dgm, "eval", a.ckpt, "--metric", "fid,is", "-n", str(n), "--seed", str(a.seed),
               "--set", "%s=%s" % (key, sampler), "--set", "sample-steps=%d" % steps]
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        secs = time.time() - t0
        if p.returncode:
            raise SystemExit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
        r = json.loads(p.stdout)
        print("| %s | %d | %d | %.2f | %.2f | %.0f |" % (sampler, steps, nfe, r["fid"], r["is"], secs), flush=True)
        print("json: " + json.dumps({"kind": kind, key: sampler, "steps": steps, "nfe": nfe, "n": n,
                                     "fid": r["fid"], "is": r["is"], "seconds": round(secs, 1)}), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The benchmark report of benchmarks/run: reads WORK (machine.json, NAME.jsonl and NAME.log
of each benchmark, failed.txt) and writes the report (Markdown) and, beside it in images/,
benchmark-ratios.png. Every ratio is of two numbers measured on one device in one run.

Usage: report.py WORK REPORT.md
       report.py --images IMAGES.jsonl   the image families' section alone, to stdout"""
import json
import os
import re
import sys

TARGET = 1.25  # issue 14: every training step within 1.25x of its GEMM-only time
DRIFT = 1.10  # a run whose last timed window is more than 10 % off its first drifts


def records(work, name):
    path = os.path.join(work, name + ".jsonl")
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]


def blas_line(work, name):
    """The first 'cpu BLAS:' line of a benchmark's logs (its own and its sub-logs)."""
    paths = [os.path.join(work, name + ".log")]
    sub = os.path.join(work, name)
    if os.path.isdir(sub):
        paths += sorted(os.path.join(sub, f) for f in os.listdir(sub) if f.endswith(".log"))
    for p in paths:
        try:
            for line in open(p, errors="replace"):
                if line.startswith("cpu BLAS:"):
                    return line[len("cpu BLAS:"):].strip()
        except OSError:
            pass
    return ""


def dgm_timing(work, name, bench, field, value, device="cpu"):
    """The dgm result line (what "dgm") of `bench` on `device` behind a summary's dgm time
    `value`: NAME.jsonl holds one per thread setting of a sweep, and the summary took the
    fastest, so the one whose `field` is `value`; else the last; None without any."""
    hits = [r for r in records(work, name) if r.get("bench") == bench and r.get("what") == "dgm"
            and r.get("device", "cpu") == device and isinstance(r.get(field), (int, float))]
    for r in reversed(hits):
        if value is not None and abs(r[field] - value) <= 1e-4 * abs(value):
            return r
    return hits[-1] if hits else None


def timing_of(rec):
    """A row's dgm timing fields from its dgm result line: whether its time is the median
    of the timed windows (older logs: the best), the drift (the last window's time over the
    first's) and whether it is flagged; None where the line lacks them."""
    if not rec:
        return dict(dgm_stat=None, drift=None, drifting=None)
    drift = rec.get("drift_ratio")
    drifting = rec.get("drift")
    if drifting is None and drift is not None:
        drifting = drift > DRIFT or drift < 1 / DRIFT
    return dict(dgm_stat="median" if "median" in rec else "best", drift=drift, drifting=drifting)


def last(recs, **kw):
    hits = [r for r in recs if all(r.get(k) == v for k, v in kw.items())]
    return hits[-1] if hits else None


def fmt(v, spec=".3f"):
    return "" if v is None else format(v, spec)


def peer_stat_of(summary):
    """What a summary's peer time is: "median" (the median of the peer's timed windows, as
    the drivers record since they compare medians), "best" (an older log, whose peer time
    is its best window), None without a peer time."""
    if not summary or summary.get("peer_s") is None:
        return None
    return summary.get("peer_stat", "best")


def row(model, data, device, unit, dgm, floor, peer=None, blas="", metric="", dgm_q=None,
        peer_q=None, timing=None, peer_stat=None, **extra):
    """One row of the per-model table (extra: steps, where the timed loop has them; timing:
    dgm's result line, for timing_of; peer_stat: peer_stat_of its summary)."""
    return dict(model=model, data=data, device=device, unit=unit, dgm=dgm, floor=floor,
                peer=peer, blas=blas, metric=metric, dgm_q=dgm_q, peer_q=peer_q,
                peer_stat=peer_stat, **timing_of(timing), **extra)


def modes(q):
    """A GAN's quality: modes hit / high-quality share."""
    return "%d / %.1f %%" % (q["modes"], 100 * q["high_quality"])


def rows_of(work):
    """One row per model and data: device, unit, dgm, floor, peer, quality."""
    rows = []
    vae_recs = records(work, "vae")
    vae_row = dict(model="VAE (MLP 784-400-20)", data="Fashion-MNIST", unit="s/epoch")
    vae = last(vae_recs, bench="vae_summary")
    if vae:
        q = last(vae_recs, bench="vae_quality")
        rows.append(row(device="cpu", dgm=vae["dgm_s"], floor=vae["floor_s"],
                        peer=vae.get("peer_s"), blas=blas_line(work, "vae"),
                        metric="test −ELBO after 1 epoch (nats, lower is better)",
                        dgm_q=q and q["dgm_neg_elbo"], peer_q=q and q["peer_neg_elbo"],
                        timing=dgm_timing(work, "vae", "vae", "seconds_per_epoch", vae["dgm_s"]),
                        peer_stat=peer_stat_of(vae), **vae_row))
    cuda_vae = [r for r in vae_recs if r.get("bench") == "vae" and r.get("device") == "cuda"]
    d = next((r for r in cuda_vae if r["what"] == "dgm"), None)
    f = next((r for r in cuda_vae if r["what"] == "floor"), None)
    if d and f:
        rows.append(row(device="cuda", dgm=d["seconds_per_epoch"], floor=f["seconds_per_epoch"],
                        blas="cuBLAS", timing=d, **vae_row))
    gan_recs = records(work, "gan2d")
    gan = last(gan_recs, bench="gan2d_summary")
    if gan:
        q = last(gan_recs, bench="gan2d_quality")
        rows.append(row("GAN (MLP, non-saturating)", "grid25", "cpu", "s/1k it", gan["dgm_s"],
                        gan["floor_s"], gan.get("peer_s"), blas_line(work, "gan2d"),
                        "modes of 25 / high-quality share",
                        q and modes(q["dgm"]), q and modes(q["peer"]),
                        timing=dgm_timing(work, "gan2d", "gan2d", "seconds_per_1k_iters",
                                          gan["dgm_s"]), peer_stat=peer_stat_of(gan)))
    for r in records(work, "flow2d"):
        if r.get("bench") != "flow2d_summary":
            continue
        rows.append(row("RealNVP (2-D)", r["dataset"], "cpu", "s/1k steps", r["dgm_s"],
                        r["floor_s"], r.get("peer_s"), blas_line(work, "flow2d"),
                        "test NLL, nats (true density %.4f)" % r["true_nll"],
                        r["dgm_nll"], r.get("peer_nll"), steps=r["steps"],
                        timing=dgm_timing(work, "flow2d", "flow2d", "seconds_per_1k_steps",
                                          r["dgm_s"]), peer_stat=peer_stat_of(r)))
    for r in records(work, "diffusion2d"):
        if r.get("bench") != "diffusion2d_summary":
            continue
        name = {"ddpm": "DDPM (MLP 3x128)", "fm": "flow matching (I-CFM, MLP 3x64)"}[r["model"]]
        rows.append(row(name, "moons", "cpu", "s/1k steps", r["dgm_s"], r["gemm_floor_s"],
                        r.get("peer_s"), blas_line(work, "diffusion2d"),
                        "W2 to the data (%s; floor %.4f)" % (r["sampler"], r["floor_w2"]),
                        r["dgm_w2"], r.get("peer_w2"), steps=r["steps"],
                        timing=dgm_timing(work, "diffusion2d", "diffusion2d_" + r["model"],
                                          "seconds_per_1k_steps", r["dgm_s"]),
                        peer_stat=peer_stat_of(r)))
    score = records(work, "score2d")
    for r in score:
        if r.get("bench") != "score2d_summary":
            continue
        fam, ds = r["family"], r["dataset"]
        floor = last(score, bench="diffusion2d_" + fam, what="floor")
        if fam == "ebm":
            metric, dq, pq = "test NLL, nats", r.get("dgm_nll"), r.get("peer_nll")
        else:
            metric, dq, pq = "W2 to the data", r.get("dgm_w2"), r.get("peer_w2")
        if ds == "gauss8":
            metric = "modes of 8 / high-quality share"
            dq = modes(dict(modes=r["dgm_modes"], high_quality=r["dgm_high_quality"]))
            pq = r.get("peer_modes") is not None and modes(
                dict(modes=r["peer_modes"], high_quality=r["peer_high_quality"])) or None
        name = {"ebm": "EBM (MLP 3x128, CD)", "ncsn": "NCSN (MLP 3x128)"}[fam]
        rows.append(row(name, ds, "cpu", "s/1k steps", r["dgm_run_s"],
                        floor and floor["seconds_per_1k_steps"], r.get("peer_s"),
                        blas_line(work, "score2d"), metric, dq, pq, steps=r["steps"],
                        timing=last(score, bench="diffusion2d_" + fam, what="dgm"),
                        peer_stat="median" if r.get("peer_s") is not None else None))
    sde = records(work, "sde2d")
    for r in sde:
        if r.get("bench") != "sde2d_summary":
            continue
        ds, blas = r["dataset"], blas_line(work, "sde2d")
        floor = last(sde, bench="diffusion2d_sde", what="floor")
        metric = "W2 to the data, PC / ODE"
        dq = "%.4f / %.4f" % (r["dgm_w2_pc"], r["dgm_w2_ode"])
        pq = "%.4f / %.4f" % (r["peer_w2_pc"], r["peer_w2_ode"]) if "peer_w2_pc" in r else None
        if ds == "gauss8" and "dgm_modes_pc" in r:
            metric = "modes of 8 / high-quality share (PC); " + metric
            dq = modes(dict(modes=r["dgm_modes_pc"], high_quality=r["dgm_high_quality_pc"])) + "; " + dq
            if pq and "peer_modes_pc" in r:
                pq = modes(dict(modes=r["peer_modes_pc"],
                                high_quality=r["peer_high_quality_pc"])) + "; " + pq
        rows.append(row("score SDE (VP, MLP 3x128)", ds, "cpu", "s/1k steps", r["dgm_run_s"],
                        floor and floor["seconds_per_1k_steps"], r.get("peer_s"), blas, metric,
                        dq, pq, steps=r["steps"],
                        timing=last(sde, bench="diffusion2d_sde", what="dgm"),
                        peer_stat="median" if r.get("peer_s") is not None else None))
        rows.append(row("score SDE NLL (probability-flow ODE, one run)", ds, "cpu",
                        "s/10k points", r["dgm_nll_s"], None, r.get("peer_nll_s"), blas,
                        "NLL, nats (true density %.4f)" % r["true_nll"], r["dgm_nll"],
                        r.get("peer_nll"), steps=r["steps"]))
    # MAF and FFJORD's CNF: dgm's time is its training run's own clock (no timed windows,
    # so no drift; no GEMM floor), the peer's the median window of its fastest setting
    for name, model in (("maf2d", "MAF (5 MADE blocks 64-64, batch norm)"),
                        ("cnf2d", "FFJORD CNF (ConcatSquash 64x3, RK4)")):
        for r in records(work, name):
            if r.get("bench") != name + "_summary":
                continue
            rows.append(row(model, r["dataset"], "cpu", "s/1k steps", r["dgm_run_s"], None,
                            r.get("peer_s"), blas_line(work, name),
                            "test NLL, nats (true density %.4f)" % r["true_nll"],
                            r["dgm_nll"], r.get("peer_nll"), steps=r["steps"],
                            peer_stat="median" if r.get("peer_s") is not None else None))
    return rows


def fma_peaks(work):
    """{threads: GFLOP/s} of the CPU's FMA peak, as bench_matmul measured it."""
    return {r["threads"]: r["gflops"] for r in records(work, "matmul")
            if r.get("what") == "fma_peak" and r.get("gflops")}


def blas_threads(blas):
    """The thread count in a 'cpu BLAS:' line ("..., 2 threads; ..."), or None."""
    m = re.search(r"(\d+) threads", blas or "")
    return int(m.group(1)) if m else None


def floor_gflops(work):
    """{bench: (GFLOP/s of its CPU GEMM floor, its BLAS line)} from the floor records (the
    last of each; a benchmark run under several thread settings keeps its last)."""
    out = {}
    for name in ("vae", "gan2d", "flow2d", "diffusion2d", "score2d", "sde2d"):
        for r in records(work, name):
            if r.get("what") == "floor" and r.get("device", "cpu") == "cpu" and "gemm_gflops" in r:
                out[r.get("bench", name)] = (r["gemm_gflops"], blas_line(work, name))
    return out


def dgm_cell(r):
    """dgm's time: the median of its timed windows; an older log's best window says so."""
    return fmt(r["dgm"]) + (" (best)" if r["dgm_stat"] == "best" else "")


def peer_cell(r):
    """The peer's time: the median of its timed windows; an older log's best window says so."""
    return fmt(r["peer"]) + (" (best)" if r["peer_stat"] == "best" else "")


def drift_cell(r):
    """The last timed window over the first, flagged past DRIFT either way; n/a when the
    log does not give it."""
    if r["drift"] is None:
        return "n/a"
    return ("**%.2f drift**" if r["drifting"] else "%.2f") % r["drift"]


def quality(v):
    if v is None:
        return ""
    return v if isinstance(v, str) else "%.4f" % v


def plot(rows, path):
    """Horizontal bars per row: dgm / GEMM floor (with the 1.25 target) and peer / dgm."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return False
    seen, kept = set(), []
    for r in rows:  # one bar pair per timed loop (RealNVP's two data sets share one)
        key = (r["model"], r["device"], r["dgm"], r["floor"])
        if r["floor"] and key not in seen:
            seen.add(key)
            kept.append(dict(r, data=r["data"] if r["model"] != "RealNVP (2-D)" else "2-D"))
    rows = kept
    if not rows:
        return False
    W, left, bar, gap = 900, 330, 14, 16
    H = 60 + len(rows) * (2 * bar + gap) + 40
    vmax = max([r["dgm"] / r["floor"] for r in rows] + [r["peer"] / r["dgm"] for r in rows if r["peer"]] + [2.0])
    scale = (W - left - 60) / vmax
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 10), "dgm / GEMM floor (blue; target 1.25, dashed) and PyTorch / dgm (orange; > 1: dgm faster)",
           fill="black")
    y = 40
    for r in rows:
        d.text((10, y + 6), ("%s, %s (%s)" % (r["model"], r["data"], r["device"]))[:52], fill="black")
        a = r["dgm"] / r["floor"]
        d.rectangle([left, y, left + a * scale, y + bar], fill=(60, 110, 200))
        d.text((left + a * scale + 4, y + 1), "%.2f" % a, fill="black")
        if r["peer"]:
            p = r["peer"] / r["dgm"]
            d.rectangle([left, y + bar, left + p * scale, y + 2 * bar], fill=(235, 140, 40))
            d.text((left + p * scale + 4, y + bar + 1), "%.2f" % p, fill="black")
        y += 2 * bar + gap
    for v, dash in ((1.0, False), (TARGET, True)):
        x = left + v * scale
        for yy in range(36, y, 6 if dash else 1):
            d.line([x, yy, x, yy + (3 if dash else 1)], fill="gray")
        d.text((x - 8, y + 4), "%g" % v, fill="gray")
    img.save(path)
    return True


def likelihood_cells(r):
    """The model's likelihood where it has one: bits/dim (realnvp) or the test negative ELBO
    in nats (vae), dgm's and the peer's."""
    for key, unit in (("bpd", " bpd"), ("elbo", " nats")):
        if r.get("dgm_" + key) is not None:
            return "%.3f%s" % (r["dgm_" + key], unit), fmt(r.get("peer_" + key))
    return "", ""


def images_section(recs):
    """The image families' table (run_bench_images.sh's images_summary lines)."""
    images = [r for r in recs if r.get("bench") == "images_summary"]
    if not images:
        return []
    o = ["## Image families on Fashion-MNIST (run_bench_images.sh: each family's defaults, "
         "and the options the family column names)", "",
         "FID and IS of N samples through dgm's classifier against the 10,000 test images (FIDs "
         "of fewer samples come out higher: compare rows of equal N only); the peer is the same "
         "network, budget and sampler in PyTorch (target: dgm's FID ≤ 1.1× the peer's). "
         "s/step: the median training step of each side.", "",
         "| family | steps | N | dgm FID | PyTorch FID | ratio | dgm IS | PyTorch IS "
         "| likelihood: dgm | PyTorch | dgm s/step | PyTorch s/step |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in images:
        lik, peer_lik = likelihood_cells(r)
        args = r.get("dgm_args", "").strip()
        o.append("| %s | %d | %d | %.2f | %s | %s | %.2f | %s | %s | %s | %.3f | %s |" % (
            r["family"] + (" `%s`" % args if args else ""), r["steps"], r["n"], r["dgm_fid"], fmt(r.get("peer_fid"), ".2f"),
            fmt(r.get("fid_ratio"), ".2f"), r["dgm_is"], fmt(r.get("peer_is"), ".2f"), lik,
            peer_lik, r["dgm_s_per_step"], fmt(r.get("peer_s_per_step"), ".3f")))
    o.append("")
    return o


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--images":
        # the image families' section alone, from run_bench_images.sh's images.jsonl
        print("\n".join(images_section([json.loads(l) for l in open(sys.argv[2]) if l.strip()])))
        return
    work, report = sys.argv[1], sys.argv[2]
    m = json.load(open(os.path.join(work, "machine.json")))
    failed = [l.strip() for l in open(os.path.join(work, "failed.txt"))] if os.path.exists(
        os.path.join(work, "failed.txt")) else []
    failed = [f for f in failed if f]
    rows = rows_of(work)
    end = os.path.join(work, "load_end")
    load_end = open(end).read().strip() if os.path.exists(end) else "not recorded"
    img_rel = "images/benchmark-ratios.png"
    img_path = os.path.join(os.path.dirname(os.path.abspath(report)), img_rel)
    os.makedirs(os.path.dirname(img_path), exist_ok=True)
    have_plot = plot(rows, img_path)

    o = []
    o.append("# Benchmark report")
    o.append("")
    o.append("Written by `benchmarks/run`%s on %s. Regenerate it with `benchmarks/run` "
             "(about 55 minutes on an idle 2-core machine, longer with other work; `--quick` for a smoke run). How each number is "
             "measured, the profiles behind them and the earlier runs: "
             "[benchmark-notes.md](benchmark-notes.md)."
             % (" --quick" if m.get("quick") else "", m["date"]))
    o.append("")
    if m.get("quick"):
        o.append("**A quick run**: short timing windows and 1,000 training steps (cnf2d: "
                 "300); the quality columns are not the issues' targets.")
        o.append("")
    o.append("## Machine")
    o.append("")
    isa = "AVX-512" if m.get("avx512") else "AVX2" if m.get("avx2") else "no AVX2"
    o.append("- CPU: %s, %d logical cores (%s), %s GiB" % (m["cpu"], m["cores"], isa, m["mem_gib"]))
    o.append("- GPU: %s" % (m["gpu"] or "none (every number below is from the CPU)"))
    o.append("- dgm %s, %s%s; PyTorch %s (Python %s); Linux %s"
             % (m["dgm"], (m["compiler"] or [""])[0],
                ("; " + m["cuda"][0]) if m.get("cuda") else "", m["torch"] or "absent",
                m["python"], m["kernel"]))
    if m.get("openblas_coretype"):
        o.append("- OpenBLAS kernels: `OPENBLAS_CORETYPE=%s`%s" % (
            m["openblas_coretype"],
            " (set by benchmarks/run for dgm and the peers alike: OpenBLAS fell back to its "
            "generic kernels on this CPU)" if m.get("coretype_by_run") else " (set by the user)"))
    blas = sorted({r["blas"] for r in rows if r["blas"]})
    o.append("- BLAS that ran: %s" % ("; ".join(blas) if blas else "unknown"))
    peak = fma_peaks(work)
    if peak:
        o.append("- FMA peak, measured (bench_matmul: 8-wide FMA chains in registers): %s"
                 % ", ".join("%.1f GFLOP/s on %d thread%s" % (g, t, "" if t == 1 else "s")
                             for t, g in sorted(peak.items())))
    o.append("- 1-minute load average at the start and at the end: %s and %s (on a machine "
             "with other work the times are inflated, the ratios less so)"
             % (m.get("load", "?"), load_end))
    o.append("")
    note = os.environ.get("BENCH_NOTE") or m.get("note")
    if note:
        o.append("**Note on this run:** %s" % note)
        o.append("")
    if failed:
        o.append("**Failed** (see their logs in the run's WORK folder): %s" % ", ".join(failed))
        o.append("")
    o.append("## Per model")
    o.append("")
    o.append("Time per step: the median timed window on both sides, dgm's and PyTorch's "
             "(the same model, its thread settings tuned: the fastest setting by that median), "
             "so peer / dgm compares two medians; every window's time is in the "
             "`seconds_each` of the `json:` lines (dgm's in `WORK/NAME.log`, the peer's in "
             "its sweep's logs under `WORK/NAME/`). The GEMM floor is the time of the step's matrix products "
             "alone, through the same BLAS, in the same run. peer / dgm > 1: dgm is faster. "
             "Target (issue 14): dgm / floor ≤ %.2f. Drift: dgm's last timed window over its "
             "first, **flagged** when more than %.0f %% off either way (a loop that slows "
             "down or speeds up as it runs, which the median alone does not show); n/a and "
             "\"(best)\": a log from before the windows' median and drift were recorded, "
             "whose time (dgm's or the peer's) is its best window." % (TARGET, 100 * (DRIFT - 1)))
    if any(r["model"].startswith(("MAF", "FFJORD")) for r in rows):
        o.append("")
        o.append("MAF and FFJORD CNF (run_bench_maf2d.sh, run_bench_cnf2d.sh): dgm's time is "
                 "its whole training run's own clock (elapsed seconds at the last logged step "
                 "over the steps), not timed windows, so no drift (n/a) and no GEMM floor; the "
                 "peer's is the median window of its fastest thread setting. Their targets: "
                 "dgm's test NLL ≤ the peer's + 0.03 nats, peer / dgm ≥ 2.")
    o.append("")
    o.append("| model | data | device | unit | dgm (median) | drift (last / first) | PyTorch (median) | peer / dgm | GEMM floor | dgm / floor | quality | dgm | PyTorch |")
    o.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["dgm"] / r["floor"] if r["floor"] else None
        o.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["model"], r["data"], r["device"], r["unit"], dgm_cell(r), drift_cell(r),
            peer_cell(r),
            fmt(r["peer"] / r["dgm"] if r["peer"] else None, ".2f"), fmt(r["floor"]),
            ("**%.2f**" % ratio) if ratio and ratio > TARGET else fmt(ratio, ".2f"),
            r["metric"], quality(r["dgm_q"]), quality(r["peer_q"])))
    o.append("")
    if have_plot:
        o.append("![ratios](%s)" % img_rel)
        o.append("")
    small = {r["model"]: r for r in records(work, "small_gemm")
             if r.get("bench") == "small_gemm_step"}
    if small:
        o.append("## Small products: dgm's loops against OpenBLAS (bench_small_gemm)")
        o.append("")
        o.append("Products with a side of at most 4 (the 2-D layers' 1-3 inputs, 1-2 outputs "
                 "and their gradients) run where `dgm_cpu_small_gemm` sends them: dgm's own "
                 "loops, or, with OpenBLAS's AVX-512 kernels, OpenBLAS for those with an inner "
                 "dimension above 4 (a build before 2026-12-07 kept every one on its loops; "
                 "per-shape times in `WORK/small_gemm.log`). The GEMM floor above keeps "
                 "OpenBLAS for every product; with these products at dgm's time instead, the "
                 "floor moves by the difference and dgm's ratio to it with it:")
        o.append("")
        o.append("| model | data | small products a step: OpenBLAS µs | dgm µs | floor with them at dgm's time | dgm / that floor |")
        o.append("|---|---|---|---|---|---|")
        prefix = {"realnvp": "RealNVP", "fm": "flow matching", "ddpm": "DDPM", "gan": "GAN"}
        for key, name in prefix.items():
            sm = small.get(key)
            if not sm:
                continue
            for r in rows:
                if not r["model"].startswith(name) or r["device"] != "cpu" or not r["floor"]:
                    continue
                low = r["floor"] - 1000.0 * (sm["openblas_s"] - sm["dgm_s"])
                o.append("| %s | %s | %.1f | %.1f | %.3f %s | %.2f |" % (
                    r["model"], r["data"], 1e6 * sm["openblas_s"], 1e6 * sm["dgm_s"], low,
                    r["unit"], r["dgm"] / low))
        o.append("")
    floors, peak = floor_gflops(work), fma_peaks(work)
    if floors and peak:
        o.append("## The GEMM floors against the FMA peak")
        o.append("")
        o.append("How near each model's matrix products come to the cores' arithmetic ceiling: "
                 "the floor's GFLOP/s over the FMA peak on as many threads as the BLAS ran "
                 "(small matrices cannot reach it; the 2048³ product of bench_matmul shows "
                 "what OpenBLAS reaches on large ones).")
        o.append("")
        o.append("| benchmark | BLAS threads | GEMM floor GFLOP/s | FMA peak GFLOP/s | floor / peak |")
        o.append("|---|---|---|---|---|")
        for name, (g, blas) in floors.items():
            t = blas_threads(blas) or max(peak)
            p = peak.get(t) or peak[max(peak)]
            o.append("| %s | %d | %.1f | %.1f | %.0f %% |" % (name, t, g, p, 100 * g / p))
        o.append("")
    mm = [r for r in records(work, "matmul") if r.get("bench") == "matmul" and "variant" in r]
    if mm:
        o.append("## Matrix products (bench_matmul: a Linear layer's forward and backward)")
        o.append("")
        o.append("| device | M×K×N | raw BLAS GFLOP/s | dgm GFLOP/s | dgm time / raw time | dgm+bias+ReLU GFLOP/s |")
        o.append("|---|---|---|---|---|---|")
        keys = []
        for r in mm:
            k = (r["device"], r["m"], r["k"], r["n"])
            if k not in keys:
                keys.append(k)
        for k in keys:
            v = {r["variant"]: r for r in mm if (r["device"], r["m"], r["k"], r["n"]) == k}
            raw, dg, db = v.get("raw"), v.get("dgm"), v.get("dgm+b")
            o.append("| %s | %d×%d×%d | %s | %s | %s | %s |" % (
                k[0], k[1], k[2], k[3], fmt(raw and raw["gflops"], ".1f"),
                fmt(dg and dg["gflops"], ".1f"),
                fmt(dg["seconds"] / raw["seconds"] if raw and dg else None, ".2f"),
                fmt(db and db["gflops"], ".1f")))
        o.append("")
    conv = [r for r in records(work, "conv") if r.get("bench") == "conv_summary"]
    if conv:
        o.append("## Convolutions (bench_conv: forward + backward, the UNet's at batch 128, the DCGAN's at 64)")
        o.append("")
        o.append("dgm runs its CPU convolutions through oneDNN; `im2col` is dgm's own im2col + "
                 "OpenBLAS method (DGM_CPU_CONV=im2col), the peer PyTorch's F.conv2d / "
                 "conv_transpose2d at its faster thread setting.")
        o.append("")
        o.append("| shape | dgm ms | dgm GFLOP/s | im2col ms | PyTorch ms | PyTorch / dgm |")
        o.append("|---|---|---|---|---|---|")
        for r in conv:
            o.append("| %s | %.3f | %.1f | %s | %s | %s |" % (
                r["shape"], r["dgm_s"] * 1e3, r["gflops"],
                fmt(r["im2col_s"] and r["im2col_s"] * 1e3), fmt(r["peer_s"] and r["peer_s"] * 1e3),
                fmt(r["dgm_s"] and r["peer_s"] and r["peer_s"] / r["dgm_s"], ".2f")))
        o.append("")
    unet = [r for r in records(work, "unet") if r.get("bench") == "unet_summary"]
    if unet:
        r = unet[-1]
        o.append("## The UNet (bench_unet: one training step, batch %d)" % r["batch"])
        o.append("")
        o.append("| | s/step | peak RSS MiB |")
        o.append("|---|---|---|")
        o.append("| dgm | %.3f | %.0f |" % (r["dgm_s"], r["dgm_rss_mib"]))
        if r.get("peer_s"):
            o.append("| PyTorch (%d threads) | %.3f | %.0f |" % (r["peer_threads"], r["peer_s"],
                                                              r["peer_rss_mib"]))
        o.append("")
        if r.get("strict_load"):
            o.append("The PyTorch module tree loads %s strictly (max |PyTorch − dgm| output %.2g)."
                     % (", ".join(r["strict_load"]), r["max_abs_diff"]))
            o.append("")
    o += images_section(records(work, "images"))
    steps = [r for r in records(work, "diffusion2d") if r.get("bench") == "diffusion2d_steps"]
    if steps:
        o.append("## Diffusion and flow matching on moons: W2 against sampling steps")
        o.append("")
        o.append("| model | sampler | steps | W2 (mean ± sd over 5 reference sets) |")
        o.append("|---|---|---|---|")
        for r in steps:
            o.append("| %s | %s | %d | %.4f ± %.4f |" % (r["model"], r["sampler"], r["steps"],
                                                       r["w2"], r["w2_sd"]))
        o.append("")
    o.append("Raw results: the `json:` lines of each benchmark's log (`WORK/NAME.log`).")
    open(report, "w").write("\n".join(o) + "\n")
    print("wrote %s%s" % (report, " and " + img_path if have_plot else ""))


if __name__ == "__main__":
    main()

"""2-D toy data in numpy, shared by the benchmark scripts (run_bench_flow2d.sh,
run_bench_diffusion2d.sh, run_bench_score2d.sh), which import it from this folder: sklearn's
moons, FFJORD's 8 gaussians, and the true densities' test NLL."""
import math

import numpy as np


def make_moons(n, noise, rng):
    """sklearn.datasets.make_moons(n, noise=noise): two half circles, n/2 points each on an
    even grid of t in [0, pi] (outer (cos t, sin t), inner (1 - cos t, 1 - sin t - 0.5)),
    shuffled, then N(0, noise^2) added to every coordinate. Raw coordinates."""
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    x = x[rng.permutation(n)]
    return x + rng.normal(scale=noise, size=x.shape)


GAUSS8_STD = 0.5 / 1.414
S = 1.0 / math.sqrt(2.0)
GAUSS8_DIRS = np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (S, S), (S, -S), (-S, S), (-S, -S)])
GAUSS8_CENTRES = 4.0 * GAUSS8_DIRS / 1.414


def gauss8(n, rng):
    """FFJORD's 8gaussians (dgm's gauss8, host/data/toy.c): centres (+-1,0), (0,+-1),
    (+-1/sqrt2, +-1/sqrt2) times 4, std 0.5, everything divided by 1.414."""
    k = rng.randint(8, size=n)
    return (rng.randn(n, 2) * 0.5 + 4.0 * GAUSS8_DIRS[k]) / 1.414


def logmeanexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).mean(axis=axis, keepdims=True))).squeeze(axis)


def mixture_nll(x, centres, std):
    """-mean log of an equal-weight mixture of N(centre, std^2 I) in 2-D."""
    out = []
    for i in range(0, len(x), 500):
        d2 = ((x[i:i + 500, None, :] - centres[None, :, :]) ** 2).sum(-1)
        out.append(logmeanexp(-0.5 * d2 / std ** 2, axis=1) - math.log(2 * math.pi * std ** 2))
    return -float(np.concatenate(out).mean())


def moons_nll(x, noise, grid=4000):
    """The moons' density: t uniform on [0, pi] per arc (midpoint rule), noise Gaussian."""
    t = (np.arange(grid) + 0.5) * np.pi / grid
    arcs = np.concatenate([np.stack([np.cos(t), np.sin(t)], 1),
                           np.stack([1 - np.cos(t), 1 - np.sin(t) - 0.5], 1)])
    return mixture_nll(x, arcs, noise)


def checkerboard(n, rng):
    """FFJORD's checkerboard (dgm's, host/data/toy.c): x uniform in [-4, 4), y uniform in
    the cells of the other parity, the 8 dark squares of side 2 of an 8x8 board."""
    x1 = rng.rand(n) * 4 - 2
    x2 = rng.rand(n) - rng.randint(0, 2, n) * 2 + np.floor(x1) % 2
    return np.stack([x1, x2], 1) * 2


def checkerboard_nll(x):
    """Uniform on 8 squares of area 4: log 32 inside, infinite outside (none of its own
    draws fall outside)."""
    x1, x2 = x[:, 0] / 2, x[:, 1] / 2
    inside = (np.abs(x1) < 2) & (x2 >= -2) & (x2 < 2) & ((np.floor(x2) % 2) == (np.floor(x1) % 2))
    return math.log(32.0) if inside.all() else float("inf")


# The toys of the flow benchmarks (maf2d, cnf2d): name -> (draw(n, seed), the seeds of the
# training and test rows, the true density's NLL of rows).
FLOW_TOYS = {
    "moons": (lambda n, s: make_moons(n, 0.1, np.random.RandomState(s)), (1, 2),
              lambda x: moons_nll(x, 0.1)),
    "gauss8": (lambda n, s: gauss8(n, np.random.RandomState(s)), (3, 4),
               lambda x: mixture_nll(x, GAUSS8_CENTRES, GAUSS8_STD)),
    "checkerboard": (lambda n, s: checkerboard(n, np.random.RandomState(s)), (5, 6),
                     checkerboard_nll),
}


def write_flow_toys(work, bench, names, n_train=20000, n_test=5000):
    """WORK/NAME_train.npy and NAME_test.npy (float32) of each toy, a line and a JSON line
    ("json: ", bench BENCH_data) with the true density's test NLL, the floor of any model."""
    import json
    for name in names:
        draw, (s_train, s_test), true_nll = FLOW_TOYS[name]
        train = draw(n_train, s_train).astype(np.float32)
        test = draw(n_test, s_test).astype(np.float32)
        np.save("%s/%s_train.npy" % (work, name), train)
        np.save("%s/%s_test.npy" % (work, name), test)
        nll = true_nll(test.astype(np.float64))
        print("%-12s train %s, test %s; the true density's test NLL %.4f nats"
              % (name, train.shape, test.shape, nll))
        print("json: " + json.dumps(dict(bench=bench + "_data", dataset=name, train=len(train),
                                         test=len(test), true_nll=nll)))

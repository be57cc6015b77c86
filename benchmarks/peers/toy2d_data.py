"""2-D toy data in numpy, shared by the benchmark scripts (run_bench_flow2d.sh,
run_bench_diffusion2d.sh), which import it from this folder."""
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

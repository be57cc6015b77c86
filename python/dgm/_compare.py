"""dgm.compare: distances between two sample sets (dgm/metrics.h), as `dgm compare` computes
them."""

import ctypes

import numpy as np

from . import _core
from . import _lib
from .errors import InvalidArgument, ShapeMismatch, Unsupported, make

L = _lib.lib

# As in host/cli/cmd_compare.c, so that compare(a, b) equals `dgm compare a.npy b.npy`.
PAIRWISE_MAX = 5000
SLICED_DIRECTIONS = 500
HISTOGRAM = ("kl", "js", "tv", "hellinger", "chi2")
METRICS = HISTOGRAM + ("w1", "w2", "sliced-w2", "mmd", "energy")
_M64 = (1 << 64) - 1


def _mix64(z):
    """splitmix64's finalizer (cmd_compare.c's mix64)."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _subsample(x, k, seed):
    """k of the rows of x, chosen by cmd_compare.c's seeded partial Fisher-Yates shuffle and
    kept in their order (the same rows as `dgm compare`)."""
    n = x.shape[0]
    idx = np.arange(n, dtype=np.int64)
    s = seed
    for i in range(k):
        s = _mix64(s)
        j = i + s % (n - i)
        idx[i], idx[j] = idx[j], idx[i]
    return np.ascontiguousarray(x[np.sort(idx[:k])])


def _capped(x, side, cap, seed):
    if x.shape[0] <= cap:
        return x
    return _subsample(x, cap, _mix64((seed ^ (0x5EED + side)) & _M64))


def _metric_list(metric):
    if isinstance(metric, str):
        names, single = metric.split(","), "," not in metric
    elif isinstance(metric, (list, tuple)) and metric and all(isinstance(m, str) for m in metric):
        names, single = list(metric), False
    else:
        raise InvalidArgument(f"metric={metric!r}: expected a name or a list of names "
                              f"({', '.join(METRICS)})")
    out = []
    for m in names:
        m = m.strip().replace("_", "-")
        if m == "hellinger2":
            m = "hellinger"
        if m in ("fid", "is"):
            raise Unsupported(f"metric '{m}': use `dgm compare --metric {m}` (it needs dgm's "
                              "Fashion-MNIST classifier); dgm.compare has " + ", ".join(METRICS))
        if m not in METRICS:
            raise InvalidArgument(f"unknown metric '{m}' (known: {', '.join(METRICS)})")
        if m not in out:
            out.append(m)
    return out, single


def compare(a, b, metric="w2", *, seed=0, bins=0, extent=None, pseudo_count=0.5,
            bandwidth=0.0, directions=SLICED_DIRECTIONS, max_points=PAIRWISE_MAX):
    """A distance or divergence between two sample sets a [na, ...] and b [nb, ...] of the
    same row width (a is P and b is Q where it matters), as `dgm compare A B --metric NAME`
    computes it (the same subsampling and random directions for the same seed):

      kl, js, tv, hellinger, chi2  histogram divergences (rows of 1 to 3 values) over `bins`
                                   per axis (0: 64, 32, 16 for 1, 2, 3 values) on `extent`
                                   (None: the padded union bounding box; else lo0, hi0, lo1,
                                   hi1, ...), kl and chi2 with `pseudo_count` per cell
      w1, w2     exact 1- and 2-Wasserstein distances; the larger set is subsampled to the
                 smaller one's size and both to at most max_points rows
      sliced-w2  sliced 2-Wasserstein over `directions` random directions, all rows
      mmd        unbiased MMD^2, Gaussian kernel; sigma = bandwidth, or the median heuristic
                 when bandwidth <= 0; each set at most max_points rows
      energy     the energy distance; each set at most max_points rows

    metric: one name -> a float; a list or a comma-separated string of names -> a dict."""
    names, single = _metric_list(metric)
    seed = _core.check_seed(seed)
    x = [_core.rows(a, "a"), _core.rows(b, "b")]
    width = [int(np.prod(v.shape[1:], dtype=np.int64)) if v.ndim > 1 else 1 for v in x]
    if width[0] != width[1]:
        raise ShapeMismatch(f"a has {width[0]} values per row (shape {x[0].shape}), b has "
                            f"{width[1]} (shape {x[1].shape}): the sets must have the same dimension")
    dim = width[0]
    x = [v.reshape(v.shape[0], dim) for v in x]
    max_points = _core.check_count(max_points, "max_points")
    directions = _core.check_count(directions, "directions")
    ctx = _core.new_ctx("cpu", seed)
    results = {}
    try:
        hist = None
        for name in names:
            value = ctypes.c_double()
            status = _lib.OK
            if name in HISTOGRAM:
                if hist is None:
                    o = L.dgm_histogram_options_default()
                    o.bins = int(bins)
                    o.pseudo_count = float(pseudo_count)
                    ext = None
                    if extent is not None:
                        ext = np.ascontiguousarray(extent, dtype=np.float64).ravel()
                        if ext.size != 2 * dim:
                            raise InvalidArgument(f"extent has {ext.size} values; sets of "
                                                  f"dimension {dim} need {2 * dim}")
                        o.extent = ext.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
                    hist = _lib.Divergences()
                    status = L.dgm_histogram_divergences(
                        ctx, _core.fptr(x[0]), x[0].shape[0], _core.fptr(x[1]), x[1].shape[0],
                        dim, ctypes.byref(o), ctypes.byref(hist))
                    if status:
                        hist = None
                if hist is not None:
                    value.value = {"kl": hist.kl, "js": hist.js, "tv": hist.tv,
                                   "hellinger": hist.hellinger2, "chi2": hist.chi2}[name]
            elif name == "sliced-w2":
                status = L.dgm_sliced_wasserstein2(
                    ctx, _core.fptr(x[0]), x[0].shape[0], _core.fptr(x[1]), x[1].shape[0], dim,
                    directions, _mix64(seed ^ 0x51CED), ctypes.byref(value))
            else:
                cap = max_points
                if name in ("w1", "w2"):
                    cap = min(cap, x[0].shape[0], x[1].shape[0])
                c = [_capped(x[k], k, cap, seed) for k in range(2)]
                pa, pb, na, nb = _core.fptr(c[0]), _core.fptr(c[1]), c[0].shape[0], c[1].shape[0]
                if name == "w1":
                    status = L.dgm_wasserstein1(ctx, pa, pb, na, dim, ctypes.byref(value))
                elif name == "w2":
                    status = L.dgm_wasserstein2(ctx, pa, pb, na, dim, ctypes.byref(value))
                elif name == "mmd":
                    status = L.dgm_mmd2_rbf(ctx, pa, na, pb, nb, dim, float(bandwidth),
                                            ctypes.byref(value), None)
                else:
                    status = L.dgm_energy_distance(ctx, pa, na, pb, nb, dim, ctypes.byref(value))
            if status:
                raise make(status, _lib.text(L.dgm_last_error(ctx)) or f"{name} failed")
            results[name] = value.value
    finally:
        L.dgm_ctx_free(ctx)
    return results[names[0]] if single else results

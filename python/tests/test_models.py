"""Train, save, load, sample and score from Python, and the same numbers as the dgm command."""

import json
import os
import subprocess

import numpy as np
import pytest

import dgm
from conftest import cli_blas, fashion_mnist_dir, read_idx_images


def test_version_and_tables():
    assert dgm.version() == dgm.__version__
    assert dgm.version().count(".") == 2
    assert {"gaussian", "vae", "gan", "realnvp", "ddpm", "fm", "ebm", "ncsn", "sde", "maf", "cnf"} <= set(dgm.kinds())
    o = dgm.options("vae")
    assert o["kl-warmup"]["default"] == "0" and o["kl-warmup"]["help"]
    assert dgm.options("gaussian") == {}
    assert "moons" in dgm.toy_names()
    assert dgm.metric_names("realnvp") == ["nll", "bpd"]
    t = dgm.train_defaults("vae")
    assert t["run"] == "epochs" and t["length"] == 10 and t["optimizer"] == "adam"
    assert t["lr"] == 1e-3 and t["betas"] == (0.9, 0.999)
    # a model option that changes the defaults
    assert dgm.train_defaults("gan", loss="wgan-gp") != dgm.train_defaults("gan")
    assert dgm.summary("realnvp")


@pytest.mark.parametrize("kind", ["realnvp", "gaussian"])
def test_round_trip(kind, runs, tmp_path):
    out = tmp_path / kind
    m = dgm.train(kind, "moons", steps=300, out=str(out), device="cpu")
    assert m.kind == kind and m.dim == 2 and m.shape == (2,)
    assert m.train_result["steps"] == 300 and not m.train_result["stopped"]
    ckpt = out / "checkpoint.safetensors"
    assert m.train_result["checkpoint"] == str(ckpt) and ckpt.exists()
    x = m.sample(500, seed=3)
    assert x.shape == (500, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    # near the data: dgm's moons have mean (0, 0.3) and standard deviations (1.75, 1.0)
    data = dgm.dataset("moons", "test")
    assert data.shape == (10000, 2)
    assert np.allclose(x.mean(axis=0), data.mean(axis=0), atol=0.4)
    assert np.allclose(x.std(axis=0), data.std(axis=0), rtol=0.3)
    # W2 to the data: N(0, I) is at 1.05, the best Gaussian at about 0.6
    assert dgm.compare(x, data[:500]) < {"realnvp": 0.45, "gaussian": 0.8}[kind]
    with dgm.load(str(ckpt), device="cpu") as loaded:
        assert loaded.kind == kind and loaded.config == m.config
        assert loaded.sample(500, seed=3).tobytes() == x.tobytes()
        assert loaded.score(x) == m.score(x)
        # save() writes a checkpoint that loads to the same model
        loaded.save(str(tmp_path / "again.safetensors"))
    again = dgm.load(str(tmp_path / "again.safetensors"), device="cpu")
    assert again.sample(100, seed=1).tobytes() == m.sample(100, seed=1).tobytes()
    # without a seed, successive calls draw on
    assert not np.array_equal(m.sample(10), m.sample(10))
    m.close()
    assert m.closed
    with pytest.raises(dgm.StateError):
        m.sample(1)
    m.close()  # twice is fine


def test_train_from_numpy_and_images():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2000, 3)) * [1.0, 2.0, 0.5] + [3.0, -1.0, 0.0]  # float64: converted
    g = dgm.train("gaussian", data, steps=400, device="cpu", lr=0.05)
    s = g.sample(4000, seed=0)
    assert s.shape == (4000, 3)
    assert np.allclose(s.mean(axis=0), [3.0, -1.0, 0.0], atol=0.3)
    # images keep their shape: [n, 8, 8] in [0, 1]
    imgs = rng.random((256, 8, 8)).astype(np.float32)
    v = dgm.train("vae", imgs, steps=5, batch=64, hidden=(32,), latent=4, kl_warmup=10,
                  device="cpu")
    assert v.shape == (8, 8) and v.dim == 64
    assert v.config["hidden"] in ("32", 32, [32]) and str(v.config["kl-warmup"]) == "10"
    y = v.sample(4, seed=0)
    assert y.shape == (4, 8, 8) and ((y >= 0) & (y <= 1)).all()
    assert np.isfinite(v.score(imgs[:10]))


def test_sample_equals_cli(flow, cli, tmp_path):
    m = dgm.load(flow, device="cpu", seed=123)  # the load's seed does not matter for seed=S
    for seed, n in ((0, 300), (7, 5000)):
        path = tmp_path / f"s{seed}.npy"
        subprocess.run([cli, "sample", flow, "-n", str(n), "--seed", str(seed), "-o", str(path),
                        "--device", "cpu"], check=True, capture_output=True)
        ref = np.load(path)
        x = m.sample(n, seed=seed)
        assert ref.dtype == np.float32 and ref.shape == x.shape
        assert x.tobytes() == ref.tobytes()
    # a fresh load with --seed S samples the same as the CLI without seed= at all
    ref0 = np.load(tmp_path / "s0.npy")
    assert dgm.load(flow, device="cpu", seed=0).sample(300).tobytes() == ref0.tobytes()


def test_trained_model_samples_like_its_checkpoint(runs, cli, tmp_path):
    """The Model dgm.train returns samples as `dgm sample` on the checkpoint it wrote."""
    m = dgm.train("realnvp", "moons", steps=50, out=str(tmp_path / "r"), device="cpu", seed=5)
    path = tmp_path / "s.npy"
    subprocess.run([cli, "sample", m.train_result["checkpoint"], "-n", "200", "--seed", "11",
                    "-o", str(path), "--device", "cpu"], check=True, capture_output=True)
    assert m.sample(200, seed=11).tobytes() == np.load(path).tobytes()


def test_train_equals_cli_train(cli, tmp_path):
    """dgm.train and `dgm train` write the same checkpoint for the same arguments."""
    if cli_blas(cli) and cli_blas(cli) != dgm.blas_library():
        pytest.skip(f"dgm calls {dgm.blas_library()}, the dgm command {cli_blas(cli)} (numpy "
                    "imported before dgm?): their products may differ in the last bits")
    dgm.train("realnvp", "moons", steps=60, out=str(tmp_path / "py"), device="cpu", seed=2,
              batch=32, lr=2e-3)
    subprocess.run([cli, "train", "realnvp", "--data", "moons", "--steps", "60", "--out",
                    str(tmp_path / "cli"), "--device", "cpu", "--seed", "2", "--batch", "32",
                    "--lr", "2e-3"], check=True, capture_output=True)
    a = (tmp_path / "py" / "checkpoint.safetensors").read_bytes()
    b = (tmp_path / "cli" / "checkpoint.safetensors").read_bytes()
    # the tensors, byte for byte (the JSON header names the run's folder)
    ha, hb = (8 + int.from_bytes(f[:8], "little") for f in (a, b))
    assert len(a) - ha == len(b) - hb > 0
    assert a[ha:] == b[hb:]


@pytest.mark.parametrize("metric", [None, "bpd"])
def test_score_equals_cli_eval(flow, cli, tmp_path, metric):
    x = np.random.default_rng(1).normal(size=(300, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    cmd = [cli, "eval", flow, "--data", str(tmp_path / "x.npy"), "--device", "cpu"]
    if metric:
        cmd += ["--metric", metric]
    printed = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    m = dgm.load(flow, device="cpu")
    v = m.score(x, metric)
    assert float(f"{v:.10g}") == printed[metric or "nll"]


def test_log_density(flow):
    m = dgm.load(flow, device="cpu")
    x = m.sample(5000, seed=2)  # more rows than one chunk (4096)
    lp = m.log_density(x)
    assert lp.shape == (5000,) and lp.dtype == np.float32 and np.isfinite(lp).all()
    assert -lp.astype(np.float64).mean() == pytest.approx(m.score(x), rel=1e-5)
    # row by row the same values as in one call
    assert np.allclose(m.log_density(x[4095:4098]), lp[4095:4098], rtol=1e-6, atol=1e-6)
    # the density integrates to about 1 over the plane (a grid over the data's box)
    g = np.linspace(-3, 4, 141)
    xx, yy = np.meshgrid(g, g)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
    mass = np.exp(m.log_density(pts).astype(np.float64)).sum() * (g[1] - g[0]) ** 2
    assert 0.8 < mass < 1.1
    # a VAE has no exact density
    imgs = np.random.default_rng(0).random((64, 4)).astype(np.float32)
    v = dgm.train("vae", imgs, steps=2, batch=32, device="cpu")
    with pytest.raises(dgm.Unsupported) as e:
        v.log_density(imgs)
    assert "vae" in str(e.value) or "density" in str(e.value)


def test_inputs_are_converted(flow):
    m = dgm.load(flow, device="cpu")
    x = m.sample(400, seed=4)
    ref = m.score(x)
    assert m.score(x.astype(np.float64)) == ref                # converted
    assert m.score(np.asfortranarray(x)) == ref                # contiguous copy
    big = np.zeros((400, 4), np.float32)
    big[:, ::2] = x
    assert m.score(big[:, ::2]) == ref                          # a strided view
    assert m.score(x.astype(">f4")) == ref                     # byte order
    assert m.score(x.tolist()) == pytest.approx(ref, rel=1e-12)  # nested lists


def test_compare_equals_cli(cli, tmp_path):
    rng = np.random.default_rng(5)
    a = rng.normal(size=(700, 2)).astype(np.float32)
    b = (rng.normal(size=(500, 2)) * 1.2 + 0.3).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    names = "kl,js,tv,hellinger,chi2,w1,w2,sliced-w2,mmd,energy"
    out = subprocess.run([cli, "compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                          "--metric", names, "--seed", "3"], check=True, capture_output=True,
                         text=True).stdout
    printed = json.loads(out)
    got = dgm.compare(a, b, metric=names, seed=3)
    assert list(got) == names.split(",")
    for k, v in printed.items():
        assert float(f"{got[k]:.10g}") == v, k
    # one name gives a float; '_' for '-'
    assert dgm.compare(a, b, "sliced_w2", seed=3) == got["sliced-w2"]
    assert dgm.compare(a, a) == 0.0


def test_fashion_mnist(tmp_path):
    d = fashion_mnist_dir()
    if d is None:
        pytest.skip("Fashion-MNIST is not installed (apt install dataset-fashion-mnist, or DGM_DATA_DIR)")
    m = dgm.train("vae", "fashion-mnist", steps=50, out=str(tmp_path / "vae"), device="cpu")
    ckpt = m.train_result["checkpoint"]
    with dgm.load(ckpt, device="cpu") as v:
        assert v.kind == "vae" and v.shape == (28, 28) and v.dim == 784
        x = v.sample(16, seed=0)
        assert x.shape == (16, 28, 28) and ((x >= 0) & (x <= 1)).all()
        test = read_idx_images(os.path.join(d, "t10k-images-idx3-ubyte.gz"), 200)
        elbo = v.score(test)
        assert np.isfinite(elbo) and 100 < elbo < 600  # nats; about 244 when fully trained
        assert v.score(test, "iwae") == pytest.approx(elbo, rel=0.1)


def test_load_bytes_equals_load(flow):
    """A checkpoint's bytes in memory load as the file does; broken bytes are BadFormat."""
    data = open(flow, "rb").read()
    a = dgm.load(flow, device="cpu").sample(100, seed=4)
    b = dgm.load_bytes(data, device="cpu").sample(100, seed=4)
    assert a.tobytes() == b.tobytes()
    for cut in (0, 7, len(data) // 2):
        with pytest.raises(dgm.BadFormat):
            dgm.load_bytes(data[:cut], device="cpu")
    with pytest.raises(dgm.InvalidArgument):
        dgm.load_bytes("not bytes")


def test_ebm_likelihood_and_its_note(tmp_path):
    """An EBM's score is its grid-normalized NLL, and the model says how log Z was found."""
    m = dgm.train("ebm", "moons", steps=50, out=str(tmp_path / "ebm"), device="cpu",
                  hidden="32,32", sample_steps=20)
    assert m.note == ""
    x = dgm.dataset("moons", "test")[:500]
    nll = m.score(x, "nll")
    assert np.isfinite(nll)
    assert "log Z = " in m.note and "grid over [" in m.note
    # log_density is the same normalized density
    assert abs(-float(m.log_density(x).mean()) - nll) < 1e-3
    m.close()


def test_cnf_reports_its_solver_to_the_callback(tmp_path):
    seen = []
    dgm.train("cnf", "moons", steps=20, device="cpu", out=str(tmp_path / "c"), hidden="8",
              log_every=10, progress_every=10, on_step=lambda p: seen.append(p) and False)
    assert [p.step for p in seen] == [10, 20] and all(p.logged for p in seen)
    f = seen[-1].model_fields
    assert f["nfe"] == 32 and f["solver_steps"] == 8 and f["end_time"] > 0 and "step_gap" in f
    lines = [json.loads(l) for l in open(tmp_path / "c" / "metrics.jsonl")]
    assert lines[-1]["nfe"] == 32 and lines[-1]["end_time"] == f["end_time"]

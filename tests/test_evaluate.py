"""evaluate() and Report: values equal the metric functions, shared work, exports, plots."""
import json
import math
import warnings

import numpy as np
import pytest

import fastdis
from fastdis._shared import sharing

SMALL = dict(metrics=["mig", "modularity", "jemmig", "z_min_var", "z_diff", "irs", "sap"])


@pytest.fixture(scope="module")
def demo():
    return fastdis.datasets.make_dsprites_like("partial", small=True)


@pytest.fixture(scope="module")
def full_report(demo):
    factors, codes = demo
    return fastdis.evaluate(factors, codes, random_state=3,
                            factor_names=list(fastdis.datasets.DSPRITES_FACTORS))


def test_available_metrics():
    names = fastdis.available_metrics()
    assert list(names)[:2] == ["mig", "rmig"] and len(names) == 16
    assert list(fastdis.available_metrics("posterior")) == ["interpretability", "informativeness",
                                                            "separability"]
    assert "Chen et al. 2018" in names["mig"] and "Eastwood & Williams 2018" in names["dci"]
    assert set(fastdis.available_metrics("intervention")) == {"z_diff", "z_min_var", "z_max_var", "irs"}
    with pytest.raises(ValueError, match="family must be"):
        fastdis.available_metrics("bogus")


def test_every_value_equals_the_metric_function(demo, full_report):
    factors, codes = demo
    point = [n for n in fastdis.available_metrics() if n not in fastdis.available_metrics("posterior")]
    assert list(full_report) == point  # "all" without a posterior: the point-code metrics
    for name in point:
        direct = getattr(fastdis, name)(factors, codes, random_state=3)
        if name == "dci":
            got = full_report["dci"]
            np.testing.assert_array_equal(got.importance, direct.importance)
            assert full_report["dci.disentanglement"] == direct.disentanglement
            assert full_report["dci.informativeness"] == direct.informativeness
        else:
            assert full_report[name] == direct, name
    assert not full_report.errors


def test_shared_work_is_done_once(demo):
    factors, codes = demo
    names = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig", "z_diff", "z_min_var"]
    with sharing() as scope:
        for name in names:
            getattr(fastdis, name)(factors, codes, random_state=0)
    # one min/max pass, one histogram pass, one factor encoding, one grouping per factor
    # (all five in one pass)
    assert scope.computed == {"ranges": 1, "information": 1, "encoded factors": 1, "grouping": 5,
                              "grouping of each factor": 1}
    with sharing() as scope:
        fastdis.mig(factors, codes)
        fastdis.mig(factors, codes, n_bins=10)  # another binning: another pass
    assert scope.computed["information"] == 2


def test_report_exports(full_report):
    r = full_report
    assert r.factor_names == ["shape", "scale", "orientation", "posX", "posY"]
    assert r.code_names[0] == "code0" and r.n_samples == 11520
    scores = r.scores()
    assert "dci.completeness" in scores and "dci" not in scores
    d = json.loads(r.to_json())
    assert d["version"] == fastdis.__version__ and d["settings"]["random_state"] == 3
    assert np.array(d["dci"]["importance"]).shape == (10, 5)
    assert np.array(d["mutual_info"]).shape == (5, 10)
    assert d["scores"]["mig"] == pytest.approx(r["mig"])
    assert set(d["seconds"]) == set(r)
    md = r.to_markdown().splitlines()
    assert md[0] == "| metric | value | seconds |" and len(md) == 2 + len(scores)
    text = repr(r)
    assert text.startswith(f"fastdis {fastdis.__version__} report: 11,520 samples")
    assert all(name in text for name in scores)
    with pytest.raises(KeyError):
        r["bogus"]


def test_to_frame(full_report):
    pd = pytest.importorskip("pandas")
    frame = full_report.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["value", "seconds"]
    assert frame.loc["mig", "value"] == full_report["mig"]


def test_plots_render(full_report, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = full_report.plot_mi()
    assert [t.get_text() for t in ax.get_yticklabels()] == full_report.factor_names
    ax = full_report.plot_dci()
    assert "DCI importance" in ax.get_title()
    path = tmp_path / "report.png"
    fig = full_report.plot(path)
    assert path.stat().st_size > 10_000 and len(fig.axes) >= 2
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close("all")
    only_mig = fastdis.evaluate(*fastdis.datasets.make_dsprites_like(small=True), metrics=["mig"])
    with pytest.raises(ValueError, match="no DCI importance matrix"):
        only_mig.plot_dci()
    only_sap = fastdis.evaluate(*fastdis.datasets.make_dsprites_like(small=True), metrics="sap")
    with pytest.raises(ValueError, match="no mutual information matrix"):
        only_sap.plot_mi()


def test_families_options_and_reproducibility(demo):
    factors, codes = demo
    a = fastdis.evaluate(factors, codes, "intervention", random_state=1)
    assert list(a) == ["z_diff", "z_min_var", "z_max_var", "irs"]
    b = fastdis.evaluate(factors, codes, "intervention", random_state=1, n_threads=1)
    assert a.scores() == b.scores()
    r = fastdis.evaluate(factors, codes, ["mig"], mig={"convention": "dlib"})
    assert r["mig"] == fastdis.mig(factors, codes, convention="dlib")
    assert r.settings["options"] == {"mig": {"convention": "dlib"}}


def test_a_failing_metric_is_recorded_or_raised():
    rng = np.random.default_rng(0)
    factors = np.column_stack([np.arange(300), rng.integers(0, 3, 300)])  # a continuous factor
    codes = rng.normal(size=(300, 3))
    with pytest.warns(RuntimeWarning, match="z_max_var could not be computed: .* looks continuous"), \
            pytest.warns(fastdis.DegenerateWarning, match="column 0 has 300 distinct values"):
        r = fastdis.evaluate(factors, codes, ["mig", "z_max_var"])
    assert math.isnan(r["z_max_var"]) and "z_max_var" in r.errors
    assert "NaN (" in r.to_markdown() and math.isfinite(r["mig"])
    assert json.loads(r.to_json())["scores"]["z_max_var"] is None
    with pytest.raises(ValueError):
        fastdis.evaluate(factors, codes, ["z_max_var"], on_error="raise")


def test_bad_input():
    f, z = np.zeros((10, 2), dtype=int), np.zeros((10, 2))
    with pytest.raises(ValueError, match="unknown metric 'bogus'"):
        fastdis.evaluate(f, z, ["bogus"])
    with pytest.raises(ValueError, match="metrics is empty"):
        fastdis.evaluate(f, z, [])
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_bins'"):
        fastdis.evaluate(f, z, n_bins=3)
    with pytest.raises(TypeError, match="options for mig must be a dict"):
        fastdis.evaluate(f, z, mig=3)
    with pytest.raises(ValueError, match="on_error must be"):
        fastdis.evaluate(f, z, on_error="ignore")
    with pytest.raises(ValueError, match="factor_names has 3 names for 2 factor columns"):
        fastdis.evaluate(f, z, ["mig"], factor_names=["a", "b", "c"])
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity in column 1"):
        fastdis.evaluate(f, bad)
    with pytest.raises(ValueError, match="same number of samples"):
        fastdis.evaluate(f, z[:5])


def test_array_likes(demo, tmp_path):
    factors, codes = demo
    expected = fastdis.mig(factors, codes)
    np.save(tmp_path / "c.npy", codes)
    memmap = np.load(tmp_path / "c.npy", mmap_mode="r")
    assert fastdis.evaluate(factors, memmap, ["mig"])["mig"] == expected

    class OnlyDLPack:  # a tensor from another library, seen through DLPack only
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kw):
            return self.a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    assert fastdis.evaluate(factors, OnlyDLPack(codes), ["mig"])["mig"] == expected


def test_pandas_names():
    pd = pytest.importorskip("pandas")
    factors, codes = fastdis.datasets.make_dsprites_like(small=True)
    f = pd.DataFrame(factors, columns=list(fastdis.datasets.DSPRITES_FACTORS))
    z = pd.DataFrame(codes, columns=[f"z{i}" for i in range(codes.shape[1])])
    r = fastdis.evaluate(f, z, ["mig"])
    assert r.factor_names[0] == "shape" and r.code_names[-1] == "z9"
    assert r["mig"] == fastdis.mig(factors, codes)


def test_torch_tensors():
    torch = pytest.importorskip("torch")
    factors, codes = fastdis.datasets.make_dsprites_like(small=True)
    r = fastdis.evaluate(torch.from_numpy(factors), torch.from_numpy(codes), ["mig"])
    assert r["mig"] == fastdis.mig(factors, codes)


def test_progress_bar_on_stderr(capsys):
    pytest.importorskip("tqdm")
    factors, codes = fastdis.datasets.make_dsprites_like(small=True)
    r = fastdis.evaluate(factors, codes, ["mig", "sap"], progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "fastdis:" in captured.err and "0/2" in captured.err
    assert list(r) == ["mig", "sap"]


def test_string_factors_give_each_metric_s_own_value_or_error(demo):
    """On string labels every metric gives in evaluate what its function gives on them: a
    value, or its exception recorded as "<type>: <message>"; labels are labels where the
    metric only counts them (relabelled factors, same value)."""
    factors, codes = demo[0][::4], demo[1][::4]
    labels = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"))[factors]
    names = ["mig", "z_min_var", "sap", "dci", "explicitness"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what each metric warns is not the point here
        r = fastdis.evaluate(labels, codes, names, random_state=0)
        for name in names:
            try:
                direct = getattr(fastdis, name)(labels, codes, random_state=0)
            except Exception as exc:  # noqa: BLE001 - whatever it is, evaluate records it
                assert r.errors[name] == f"{type(exc).__name__}: {exc}"
                assert math.isnan(r["dci.disentanglement" if name == "dci" else name])
                continue
            assert name not in r.errors
            if name == "dci":
                np.testing.assert_array_equal(r["dci"].importance, direct.importance)
            else:
                assert r[name] == direct, name
    assert r["mig"] == fastdis.mig(factors, codes)
    assert r["z_min_var"] == fastdis.z_min_var(factors, codes, random_state=0)


@pytest.mark.parametrize("exc", [ZeroDivisionError("float division by zero"),
                                 RuntimeError("solver diverged"), MemoryError("no room"),
                                 OverflowError("value too large"), KeyError("scale")])
def test_any_exception_of_a_metric_is_recorded_and_the_others_run(demo, monkeypatch, exc):
    factors, codes = demo

    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(fastdis.metrics, "z_min_var", broken)
    with pytest.warns(RuntimeWarning, match=f"z_min_var could not be computed: {type(exc).__name__}"):
        r = fastdis.evaluate(factors, codes, ["mig", "z_min_var", "sap"], random_state=5)
    assert list(r) == ["mig", "z_min_var", "sap"]
    assert math.isnan(r["z_min_var"]) and r.errors == {"z_min_var": f"{type(exc).__name__}: {exc}"}
    assert r["mig"] == fastdis.mig(factors, codes) and r["sap"] == fastdis.sap(factors, codes, random_state=5)
    with pytest.raises(type(exc)):
        fastdis.evaluate(factors, codes, ["z_min_var"], on_error="raise")


def test_an_interrupt_is_not_recorded(demo, monkeypatch):
    factors, codes = demo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastdis.metrics, "mig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fastdis.evaluate(factors, codes, ["mig", "sap"])


def test_a_nan_score_is_recorded_as_an_error(demo, monkeypatch):
    factors, codes = demo
    monkeypatch.setattr(fastdis.metrics, "irs", lambda *a, **k: float("nan"))
    r = fastdis.evaluate(factors, codes, ["irs", "mig"])
    assert math.isnan(r["irs"]) and r.errors == {"irs": "gave NaN"}
    assert "NaN (gave NaN)" in r.to_markdown()


def _swapped_metric(*args, **kwargs):
    raise AssertionError("a metric ran on swapped arguments")


@pytest.mark.parametrize("step", [1, 4])  # 11,520 rows: decided on a sample; 2,880: on all rows
def test_swapped_arguments_are_refused_before_any_metric(demo, monkeypatch, step):
    factors, codes = demo[0][::step], demo[1][::step]
    for name in fastdis.available_metrics():
        monkeypatch.setattr(fastdis.metrics, name, _swapped_metric)
    with pytest.raises(ValueError, match=r"factors and codes look swapped: .* column 0: "
                                         rf"{len(np.unique(codes[:, 0]))} in {len(codes)} rows"):
        fastdis.evaluate(codes, factors)
    with pytest.raises(ValueError, match="look swapped"):  # integer codes passed as factors too
        fastdis.evaluate(np.round(codes * 1e6).astype(np.int64), factors, ["mig"])


def test_continuous_factors_with_continuous_codes_or_many_levels_are_not_swapped(monkeypatch):
    rng = np.random.default_rng(1)
    n = 30_000
    # 12,000 levels in 30,000 rows: under half the rows, though a 10,000-row sample shows
    # more than 5,000 distinct values
    many_levels = rng.permutation(np.arange(n) % 12_000)[:, None]
    assert len(np.unique(many_levels[np.linspace(0, n - 1, 10_000).astype(int)])) > 5_000
    discrete_codes = rng.integers(0, 4, size=(n, 2)).astype(np.float64)
    monkeypatch.setattr(fastdis.metrics, "irs", lambda *a, **k: 0.5)
    assert fastdis.evaluate(many_levels, discrete_codes, ["irs"])["irs"] == 0.5
    continuous = rng.normal(size=(n, 2))
    assert fastdis.evaluate(continuous, rng.normal(size=(n, 3)), ["irs"])["irs"] == 0.5


def test_random_state_follows_the_one_rule(demo):
    factors, codes = demo
    seed = int(np.random.default_rng(7).integers(2**32))
    expected = fastdis.evaluate(factors, codes, ["z_diff", "sap"], random_state=seed)
    r = fastdis.evaluate(factors, codes, ["z_diff", "sap"], random_state=np.random.default_rng(7))
    assert r.scores() == expected.scores() and r.settings["random_state"] == seed
    for bad, kind in [(-1, ValueError), (2**32, ValueError), (1.5, TypeError)]:
        with pytest.raises(kind, match="random_state must be"):
            fastdis.evaluate(factors, codes, ["mig"], random_state=bad)


def test_n_threads_bounds_every_pool_inside_evaluate(monkeypatch):
    """evaluate(n_threads=1): no metric's fit sees more than one BLAS / OpenMP thread, nor
    asks its kernel for more (the logistic regressions of z_diff and explicitness, DCI's
    Lasso moments)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastdis import _kernels
    from fastdis.metrics._logistic import Logistic

    seen = []
    original = Logistic.fit_columns

    def fit_columns(self, *args, **kwargs):
        seen.append(max([lib["num_threads"] for lib in threadpoolctl.threadpool_info()]
                        + [self.n_threads], default=1))
        return original(self, *args, **kwargs)

    moments = _kernels.fold_moments

    def fold_moments(*args):
        seen.append(args[-1])  # its n_threads
        return moments(*args)

    monkeypatch.setattr(Logistic, "fit_columns", fit_columns)
    monkeypatch.setattr(_kernels, "fold_moments", fold_moments)
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 3, size=(600, 2))
    codes = factors + 0.2 * rng.normal(size=(600, 2))
    report = fastdis.evaluate(factors, codes, ["z_diff", "explicitness", "dci"], n_threads=1,
                              z_diff=dict(n_train=200, n_eval=50, batch_size=8))
    assert not report.errors
    assert len(seen) >= 2 + 1 and max(seen) == 1


def test_one_convention_for_every_metric_that_has_it():
    factors, codes = fastdis.datasets.make_dsprites_like("partial", small=True)
    report = fastdis.evaluate(factors, codes, ["mig", "rmig", "irs", "z_max_var", "dci"],
                              convention="ubisoft", irs={"convention": None})
    assert report["mig"] == fastdis.mig(factors, codes, convention="ubisoft")
    assert report["irs"] == fastdis.irs(factors, codes)  # its own option wins
    assert report["z_max_var"] == fastdis.z_max_var(factors, codes, convention="ubisoft",
                                                    random_state=0)
    effective = report.settings["effective"]
    assert effective["rmig"]["convention"] == "ubisoft" and effective["rmig"]["n_bins"] == 10
    assert effective["irs"]["convention"] is None and effective["irs"]["diff_quantile"] == 1.0
    assert effective["dci"]["convention"] == "ubisoft"
    dlib = fastdis.evaluate(factors, codes, ["rmig", "z_max_var"], convention="dlib")
    assert all(v["convention"] is None for v in dlib.settings["effective"].values())
    assert dlib["rmig"] == fastdis.rmig(factors, codes)
    # do_tran: the posterior metrics only (it has no point-code version of rmig)
    std = np.full(codes.shape, 0.3)
    post = fastdis.evaluate(factors, codes, ["rmig", "informativeness"], std=std,
                            convention="do_tran")
    assert post.settings["effective"]["rmig"]["convention"] is None
    assert post.settings["effective"]["informativeness"]["convention"] == "do_tran"
    assert post["informativeness"] == float(np.mean(fastdis.informativeness(
        codes, std=std, convention="do_tran")))
    with pytest.raises(ValueError, match="convention must be None"):
        fastdis.evaluate(factors, codes, ["mig"], convention="disentanglement_lib")

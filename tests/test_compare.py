"""Many models, many seeds: compare()'s table against numpy and scipy on the runs' own
scores; reports read back from JSON; flat per-factor scores; the notebook view."""
import json

import numpy as np
import pytest

import fastdis
from fastdis.datasets import make_dsprites_like

pd = pytest.importorskip("pandas")
stats = pytest.importorskip("scipy.stats")


@pytest.fixture(scope="module")
def reports():
    out = {}
    for encoder in ("partial", "entangled"):
        out[encoder] = [fastdis.evaluate(*make_dsprites_like(encoder, small=True, random_state=s),
                                         ["mig", "sap", "dci"], random_state=s) for s in range(4)]
    return out


def test_table_is_mean_std_and_t_interval_of_the_runs(reports):
    c = fastdis.compare(reports, confidence=0.9)
    for model, runs in reports.items():
        for metric in ("mig", "sap", "dci.completeness"):
            values = np.array([r.scores()[metric] for r in runs])
            row = c.table.loc[(metric, model)]
            assert row["n"] == 4
            assert row["mean"] == pytest.approx(values.mean(), rel=1e-12)
            assert row["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
            half = stats.t.ppf(0.95, 3) * values.std(ddof=1) / 2.0
            assert row["ci_high"] - row["mean"] == pytest.approx(half, rel=1e-9)
    assert c.table.loc[("mig", "partial"), "mean"] > c.table.loc[("mig", "entangled"), "mean"]
    assert set(c.runs.columns) == {"model", "run", "metric", "value"}
    assert len(c.runs) == 2 * 4 * 5  # mig, sap, dci's three parts


def test_runs_as_arrays_json_paths_and_single_runs(reports, tmp_path):
    path = tmp_path / "r.json"
    reports["partial"][0].to_json(path)
    pairs = [make_dsprites_like("perfect", small=True, random_state=s) for s in range(2)]
    c = fastdis.compare({"from json": str(path), "arrays": pairs}, ["mig", "dci"])
    assert c.table.loc[("mig", "from json"), "mean"] == reports["partial"][0]["mig"]
    assert np.isnan(c.table.loc[("mig", "from json"), "ci_low"])  # one run: no interval
    assert c.table.loc[("mig", "arrays"), "mean"] == pytest.approx(
        np.mean([fastdis.mig(*p) for p in pairs]))
    assert "sap" not in c.runs["metric"].tolist()


def test_bad_runs_are_refused():
    with pytest.raises(TypeError, match="non-empty dict"):
        fastdis.compare([])
    with pytest.raises(TypeError, match="must be a Report"):
        fastdis.compare({"m": [3]})
    with pytest.raises(ValueError, match="no runs"):
        fastdis.compare({"m": []})
    with pytest.raises(ValueError, match="confidence"):
        fastdis.compare({"m": [fastdis.Report(1, [], [], {})]}, confidence=1.5)


def test_plot(reports, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    fig = fastdis.compare(reports, ["mig", "dci"]).plot(path=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0 and len(fig.axes) == 4
    import matplotlib.pyplot as plt
    plt.close("all")


def test_report_round_trips_through_json(reports, tmp_path):
    factors, codes = make_dsprites_like("partial", small=True)
    report = fastdis.evaluate(factors, codes, std=np.full(codes.shape, 0.3))
    text = report.to_json()
    back = fastdis.Report.from_json(text)
    assert back.to_json() == text
    report.to_json(tmp_path / "r.json")
    from_file = fastdis.Report.from_json(tmp_path / "r.json")
    assert from_file.scores(per_factor=True).keys() == report.scores(per_factor=True).keys()
    np.testing.assert_array_equal(back["dci"].importance, report["dci"].importance)
    assert back["separability.wsepin"] == report["separability.wsepin"]
    assert isinstance(back["interpretability"], fastdis.InterpretabilityResult)
    np.testing.assert_array_equal(back.mutual_info, report.mutual_info)


def test_flat_per_factor_scores(reports):
    report = reports["partial"][0]
    flat = report.scores(per_factor=True)
    names = report.factor_names
    for k, name in enumerate(names):
        assert flat[f"mig/{name}"] == report.details["mig"]["per_factor"][k]
        assert flat[f"dci.informativeness/{name}"] == report["dci"].per_factor_informativeness[k]
    assert "mig/" + names[0] not in report.scores()
    json.dumps(flat)


def test_notebook_view(reports):
    html = reports["partial"][0]._repr_html_()
    assert html.startswith("<div>") and "<td>mig</td>" in html and "</table>" in html

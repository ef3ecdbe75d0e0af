"""Documentation is part of the API: docstrings complete, examples run."""
import doctest
import inspect
import pathlib
import re

import pytest

import fastdis
import fastdis._compare
import fastdis._discretize
import fastdis._evaluate
import fastdis._histogram
import fastdis._information
import fastdis.datasets
import fastdis.metrics._dci
import fastdis.metrics._explicitness
import fastdis.metrics._irs
import fastdis.metrics._sap
import fastdis.metrics.intervention
import fastdis.metrics.information
import fastdis.metrics.posterior
import fastdis.metrics.unsupervised

ROOT = pathlib.Path(__file__).resolve().parents[1]
PUBLIC = [getattr(fastdis, name) for name in fastdis.__all__
          if callable(getattr(fastdis, name)) and not isinstance(getattr(fastdis, name), type)]
METRICS = [fastdis.mig, fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.modularity,
           fastdis.dcimig, fastdis.dci, fastdis.sap, fastdis.explicitness]
REPORT_METHODS = [fastdis.Report.plot_mi, fastdis.Report.plot_dci,
                  fastdis.Report.plot_informativeness, fastdis.Report.plot_pairwise,
                  fastdis.Report.from_json, fastdis.Comparison.plot]


def documented_parameters(doc):
    """Names in the Parameters section of a dedented numpydoc docstring."""
    section = doc.split("Parameters\n----------\n", 1)[1].split("\nReturns", 1)[0]
    names = set()
    for line in section.splitlines():
        m = re.match(r"^(?:\*\*)?(\w+(?:, \w+)*) :", line)
        if m:
            names.update(n.strip() for n in m.group(1).split(","))
    return names


@pytest.mark.parametrize("func", PUBLIC + [fastdis.datasets.make_dsprites_like] + REPORT_METHODS,
                         ids=lambda f: f.__name__)
def test_numpydoc_sections_and_every_parameter(func):
    doc = inspect.getdoc(func)
    assert doc, f"{func.__name__} has no docstring"
    for section in ("Parameters\n----------", "Returns\n-------"):
        assert section in doc, f"{func.__name__}: missing {section.split()[0]}"
    params = set(inspect.signature(func).parameters) - {"self"}
    missing = params - documented_parameters(doc)
    assert not missing, f"{func.__name__}: undocumented parameters {sorted(missing)}"


@pytest.mark.parametrize("func", METRICS, ids=lambda f: f.__name__)
def test_metric_docstrings_cite_paper_and_conventions(func):
    doc = func.__doc__
    assert re.search(r"\((\w+[ ,&.]+)+.*(19|20)\d\d\)", doc.splitlines()[0]), "paper in summary"
    assert ".. math::" in doc
    assert "convention=\"ubisoft\"" in doc


@pytest.mark.parametrize("module", [fastdis._compare, fastdis.metrics.unsupervised,
                                    fastdis.metrics.information, fastdis.metrics._dci,
                                    fastdis.metrics.intervention, fastdis.metrics._irs,
                                    fastdis.metrics._sap, fastdis.metrics._explicitness,
                                    fastdis._discretize, fastdis._histogram,
                                    fastdis._information, fastdis.datasets, fastdis._evaluate,
                                    fastdis.metrics.posterior])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_readme_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "MIG" in out and "survey code's MIG" in out


def test_readme_setup_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    setup = re.search(r"## Set-up.*?```bash\n(.*?)```", readme, flags=re.S).group(1)
    install, test = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert install.split(" && ")[0] in ci
    assert ci.rstrip().splitlines()[-1] == test


def test_show_config(capsys):
    info = fastdis.show_config()
    assert info["version"] == fastdis.__version__
    assert isinstance(info["openmp"], bool) and info["max_threads"] >= 1
    assert "openmp" in capsys.readouterr().out


ALL_METRICS = [fastdis.mig, fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.modularity,
               fastdis.dcimig, fastdis.z_diff, fastdis.z_min_var, fastdis.z_max_var, fastdis.irs,
               fastdis.sap, fastdis.explicitness, fastdis.dci, fastdis.informativeness,
               fastdis.separability, fastdis.interpretability, fastdis.udr,
               fastdis.gaussian_total_correlation, fastdis.gaussian_wasserstein_correlation,
               fastdis.mutual_info_score]


@pytest.mark.parametrize("func", ALL_METRICS, ids=lambda f: f.__name__)
def test_every_metric_has_examples_and_references(func):
    doc = inspect.getdoc(func)
    assert "Examples\n--------\n>>> " in doc, f"{func.__name__}: no Examples"
    refs = doc.split("References\n----------\n", 1)
    assert len(refs) == 2 and re.search(r"(19|20)\d\d", refs[1]), f"{func.__name__}: no References"

"""fastdis: fast, reference-exact disentanglement metrics.

Building blocks: :func:`discretize`, :func:`mutual_info_matrix`, :func:`entropy`,
:class:`JointHistogram`. Information metrics: :func:`mig`, :func:`rmig`,
:func:`mig_sup`, :func:`jemmig`, :func:`modularity`, :func:`dcimig`. Intervention
metrics: :func:`z_diff`, :func:`z_min_var`, :func:`z_max_var`, :func:`irs`. Predictor
metrics: :func:`sap`, :func:`explicitness`, :func:`dci`. On the encoder's posterior (means
and variances, Do & Tran 2020): :func:`informativeness`, :func:`separability`,
:func:`interpretability`. All of them at once, sharing their work: :func:`evaluate` ->
:class:`Report`. The intervention metrics of an encoder on fresh batches drawn from a data
set's generative protocol: :func:`intervention_scores`.
"""
__version__ = "0.1.0.dev0"

from ._config import show_config
from ._discretize import discretize
from ._histogram import JointHistogram
from ._information import entropy, mutual_info_matrix
from ._warnings import DegenerateWarning
from . import datasets
from .metrics import (DCIResult, InterpretabilityResult, SeparabilityResult, dci, dcimig,
                      explicitness, informativeness, interpretability, irs, jemmig, mig,
                      mig_sup, modularity, rmig, sap, separability, z_diff, z_max_var,
                      z_min_var)
from .metrics.unsupervised import (UDRResult, gaussian_total_correlation,
                                   gaussian_wasserstein_correlation, mutual_info_score, udr,
                                   unsupervised_scores)
from ._evaluate import available_metrics, evaluate
from ._report import Report
from ._compare import Comparison, compare
from ._encode_model import encode
from .metrics.fresh import intervention_scores

__all__ = [
    "__version__", "show_config", "discretize", "mutual_info_matrix", "entropy",
    "JointHistogram", "DegenerateWarning", "datasets",
    "mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig",
    "z_diff", "z_min_var", "z_max_var", "irs", "sap", "explicitness", "dci", "DCIResult",
    "informativeness", "separability", "interpretability", "SeparabilityResult",
    "InterpretabilityResult",
    "gaussian_total_correlation", "gaussian_wasserstein_correlation", "mutual_info_score",
    "unsupervised_scores", "udr", "UDRResult",
    "evaluate", "available_metrics", "Report", "compare", "Comparison", "encode",
    "intervention_scores",
]

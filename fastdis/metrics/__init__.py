"""Disentanglement metrics, by family."""
from .information import dcimig, jemmig, mig, mig_sup, modularity, rmig
from .intervention import irs, z_diff, z_max_var, z_min_var
from .posterior import (InterpretabilityResult, SeparabilityResult, informativeness,
                        interpretability, separability)
from .predictor import DCIResult, dci, explicitness, sap
from .unsupervised import (UDRResult, gaussian_total_correlation,
                           gaussian_wasserstein_correlation, mutual_info_score, udr,
                           unsupervised_scores)

__all__ = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig",
           "z_diff", "z_min_var", "z_max_var", "irs", "sap", "explicitness", "dci", "DCIResult",
           "informativeness", "separability", "interpretability", "SeparabilityResult",
           "InterpretabilityResult", "gaussian_total_correlation",
           "gaussian_wasserstein_correlation", "mutual_info_score", "unsupervised_scores", "udr",
           "UDRResult"]

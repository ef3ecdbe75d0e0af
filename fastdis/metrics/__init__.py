"""Disentanglement metrics, by family."""
from .information import dcimig, jemmig, mig, mig_sup, modularity, rmig
from .intervention import irs, z_diff, z_max_var, z_min_var
from .posterior import (InterpretabilityResult, SeparabilityResult, informativeness,
                        interpretability, separability)
from .predictor import DCIResult, dci, explicitness, sap

__all__ = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig",
           "z_diff", "z_min_var", "z_max_var", "irs", "sap", "explicitness", "dci", "DCIResult",
           "informativeness", "separability", "interpretability", "SeparabilityResult",
           "InterpretabilityResult"]

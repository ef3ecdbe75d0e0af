"""Disentanglement metrics, by family."""
from .information import dcimig, jemmig, mig, mig_sup, modularity, rmig

__all__ = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig"]

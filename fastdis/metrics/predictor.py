"""Predictor-based disentanglement metrics (Carbonneau et al. 2023, section 4.2).

SAP, Explicitness and DCI on scikit-learn estimators. The estimators are scikit-learn's;
fastdis adds closed forms where they exist (SAP's regression scores), seeded splits and
subsamples, parallel per-factor fits within one thread budget, and the conventions of the
reference codes. Each metric lives in its own module (``_sap``, ``_explicitness``,
``_dci`` with its fits in ``_dci_fit``; what they share in ``_fitting``); this one is
their public face.
"""
from ._dci import DCI_ESTIMATORS, DCIResult, dci
from ._explicitness import explicitness
from ._sap import sap

__all__ = ["sap", "explicitness", "dci", "DCIResult", "DCI_ESTIMATORS"]

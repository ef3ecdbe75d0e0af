"""
Mutual information and DCI importance
=====================================

A report's factor x code matrices: the codes ordered by the factor they carry, so that a
disentangled representation shows a diagonal.
"""
import matplotlib.pyplot as plt

import fastdis
from fastdis.datasets import make_dsprites_like

factors, codes = make_dsprites_like("partial", small=True)
report = fastdis.evaluate(factors, codes, ["mig", "dci"],
                          factor_names=["shape", "scale", "orientation", "x", "y"])
fig, axes = plt.subplots(2, 1, figsize=(7, 6))
report.plot_mi(ax=axes[0])
report.plot_dci(ax=axes[1])
fig.tight_layout()

"""
Several models, several seeds
=============================

``fastdis.compare`` tabulates mean, standard deviation and a 95 % interval per metric and
model, and plots every seed.
"""
import fastdis
from fastdis.datasets import make_dsprites_like

runs = {encoder: [make_dsprites_like(encoder, small=True, random_state=seed)
                  for seed in range(3)]
        for encoder in ("perfect", "partial", "entangled")}
comparison = fastdis.compare(runs, ["mig", "dci", "sap"])
print(comparison.table.round(3))
comparison.plot()

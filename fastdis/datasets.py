"""Data: built-in demo data (a dSprites-like factor grid and synthetic encoders, no
download), and readers of the standard ground-truth files users download themselves."""
import numpy as np

from ._ground_truth import (GroundTruthData, load_cars3d, load_dsprites, load_mpi3d,
                            load_shapes3d, load_smallnorb)
from ._validation import check_choice

__all__ = ["make_dsprites_like", "DSPRITES_FACTORS", "GroundTruthData", "load_dsprites",
           "load_shapes3d", "load_mpi3d", "load_smallnorb", "load_cars3d"]

#: Factor names and sizes of dSprites (Matthey et al. 2017), colour (constant) left out.
DSPRITES_FACTORS = {"shape": 3, "scale": 6, "orientation": 40, "posX": 32, "posY": 32}
_SMALL = {"shape": 3, "scale": 6, "orientation": 10, "posX": 8, "posY": 8}
ENCODERS = ("perfect", "partial", "entangled", "noise")


def _grid(sizes):
    mesh = np.meshgrid(*[np.arange(s, dtype=np.int64) for s in sizes], indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def make_dsprites_like(encoder="partial", noise=0.05, random_state=0, *, small=False, n_codes=10):
    """Factors on dSprites's full grid and the codes of a synthetic encoder.

    Parameters
    ----------
    encoder : {"perfect", "partial", "entangled", "noise"}, default="partial"
        How codes relate to the factors (``u_k`` is factor ``k`` scaled to [0, 1]):

        * ``"perfect"``: code ``k`` is ``u_k`` plus noise, for each factor; the
          remaining codes are pure noise (unused latent dimensions);
        * ``"partial"``: shape and scale captured alone, posX and posY mixed in one
          code and in their difference, orientation through a non-monotone map;
        * ``"entangled"``: a random rotation of all factors;
        * ``"noise"``: codes independent of the factors.
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added to every code.
    random_state : int or numpy.random.Generator, default=0
        Seed of the noise and of the rotation.
    small : bool, default=False
        Use a coarser grid (3 x 6 x 10 x 8 x 8 = 11,520 rows) for quick runs instead
        of the full 3 x 6 x 40 x 32 x 32 = 737,280 rows.
    n_codes : int, default=10
        Number of code columns, at least 5.

    Returns
    -------
    factors : ndarray of shape (n_samples, 5), int64
        Columns shape, scale, orientation, posX, posY (see ``DSPRITES_FACTORS``).
    codes : ndarray of shape (n_samples, n_codes), float32

    Examples
    --------
    >>> from fastdis.datasets import make_dsprites_like
    >>> factors, codes = make_dsprites_like(small=True)
    >>> factors.shape, codes.shape
    ((11520, 5), (11520, 10))
    """
    check_choice(encoder, "encoder", ENCODERS)
    if n_codes < 5:
        raise ValueError(f"n_codes must be >= 5, got {n_codes}")
    rng = np.random.default_rng(random_state)
    sizes = np.array(list((_SMALL if small else DSPRITES_FACTORS).values()))
    factors = _grid(sizes)
    u = (factors / (sizes - 1)).astype(np.float32)
    n = len(factors)
    codes = rng.standard_normal((n, n_codes), dtype=np.float32)  # unused dimensions: noise
    if encoder == "perfect":
        codes[:, :5] = u
    elif encoder == "partial":
        codes[:, 0] = u[:, 0]
        codes[:, 1] = u[:, 1]
        codes[:, 2] = np.cos(2 * np.pi * u[:, 2])  # orientation: not monotone
        codes[:, 3] = u[:, 3] + u[:, 4]
        codes[:, 4] = u[:, 3] - u[:, 4]
    elif encoder == "entangled":
        q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
        codes[:, :5] = u @ q.astype(np.float32)
    if encoder != "noise":
        codes[:, :5] += noise * rng.standard_normal((n, 5), dtype=np.float32)
    return factors, codes

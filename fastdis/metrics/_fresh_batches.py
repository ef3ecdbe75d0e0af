"""Fresh interventional batches: factors drawn from a data set's generative protocol,
intervened on, rendered and encoded, and each batch reduced to one feature row -- the
batches of disentanglement_lib's ``beta_vae.py`` and ``factor_vae.py``.

Every observation goes through the encoder in calls of ``encode_batch_size`` rows, whatever
the batches' sizes (a call may hold the end of one batch and the start of the next); the codes
are reduced batch by batch as soon as a batch is complete, so that only the features (one row
per batch) are kept. The factors are drawn by rounds of a fixed number of batches from one
numpy Generator, so the features depend on its seed and not on ``encode_batch_size``.
"""
import itertools

import numpy as np

from .._encode_model import _torch, encode
from .._validation import check_int

# Batches whose factors are drawn together: a constant, so that the random stream (and the
# value) does not depend on how the observations are cut into encoder calls.
_ROUND = 64
# Observations rendered at once (a whole number of encoder calls, one at least): fewer
# Python-level steps per observation, a few MB of images at a time.
_BLOCK = 1024


class Protocol:
    """The data set's protocol, checked: factor_sizes, sample_factors, observations."""

    def __init__(self, data):
        missing = [name for name in ("factor_sizes", "sample_factors", "observations")
                   if not hasattr(data, name)]
        if missing or not callable(data.sample_factors) or not callable(data.observations):
            raise TypeError(
                "data must follow the ground-truth protocol: factor_sizes (the number of "
                "values of each factor), sample_factors(n, random_state) -> (n, n_factors) "
                "and observations(factors) -> inputs of the encoder, as "
                f"fastdis.datasets.GroundTruthData does; {type(data).__name__} lacks "
                f"{', '.join(missing) or 'callable sample_factors / observations'}")
        try:
            sizes = list(data.factor_sizes)
        except TypeError:
            raise TypeError(f"data.factor_sizes must be a sequence of integers (the number of "
                            f"values of each factor), got {data.factor_sizes!r}") from None
        if len(sizes) < 2:
            raise ValueError(f"data.factor_sizes has {len(sizes)} factor(s); the metrics tell "
                             "which factor a batch intervened on, which needs two factors or more")
        for k, size in enumerate(sizes):
            check_int(size, f"data.factor_sizes[{k}]", 2)  # one value cannot be intervened on
        self.data, self.n_factors = data, len(sizes)

    def sample(self, n, rng):
        """(n, n_factors) fresh factors, a copy (the batches overwrite some columns)."""
        factors = np.array(self.data.sample_factors(n, rng))
        if factors.shape != (n, self.n_factors):
            raise ValueError(f"data.sample_factors({n}, random_state) must return an array of "
                             f"shape ({n}, {self.n_factors}), got shape {factors.shape}")
        return factors


class Encoder:
    """The encoder run on the observations of factors, checked: (n, n_codes) finite floats,
    the same n_codes every call; a distribution or (mean, log-variance) gives its mean."""

    def __init__(self, encoder, batch_size, device, bar):
        self.encoder, self.batch_size, self.device, self.bar = encoder, batch_size, device, bar
        self.block = batch_size * max(1, _BLOCK // batch_size)
        self.n_codes, self.calls = None, 0

    def __call__(self, protocol, factors):
        x = protocol.data.observations(factors)
        torch = _torch()
        if not isinstance(x, np.ndarray) and not (torch and isinstance(x, torch.Tensor)):
            x = np.asarray(x)  # lists and other array-likes: encode() takes arrays
        if len(x) != len(factors):
            raise ValueError(f"data.observations gave {len(x)} observations for {len(factors)} "
                             "factor rows")
        out = encode(self.encoder, x, batch_size=self.batch_size, device=self.device,
                     progress=False)
        codes = np.asarray(out[0] if isinstance(out, tuple) else out, dtype=np.float64)
        if len(codes) != len(factors):
            raise ValueError(f"encoder returned {len(codes)} codes for {len(factors)} "
                             "observations: it must return one row of codes per observation")
        if self.n_codes is None:
            self.n_codes = codes.shape[1]
        if codes.shape[1] != self.n_codes or self.n_codes == 0:
            raise ValueError(f"encoder returned {codes.shape[1]} codes per observation after "
                             f"{self.n_codes}: it must return the same number (at least one) "
                             "every call")
        if not np.isfinite(codes).all():
            raise ValueError("encoder returned NaN or infinite codes")
        self.calls += len(codes)
        self.bar.update(len(codes))
        return codes


def batch_features(protocol, encoder, rounds, rows, reduce):
    """One feature row per batch: ``rounds`` yields the factors of whole batches of ``rows``
    rows, in order; their observations are rendered ``encoder.block`` at a time, encoded
    ``encoder.batch_size`` at a time, and each batch's codes, (n, rows, n_codes), reduced by
    ``reduce`` once complete."""
    out, pending, codes = [], None, None
    for factors in itertools.chain(rounds, (None,)):
        if factors is not None:
            pending = factors if pending is None else np.concatenate([pending, factors])
        while pending is not None and len(pending) and (
                len(pending) >= encoder.block or factors is None):
            chunk, pending = pending[:encoder.block], pending[encoder.block:]
            new = encoder(protocol, chunk)
            codes = new if codes is None else np.concatenate([codes, new])
            n = len(codes) // rows
            if n:
                with np.errstate(over="ignore"):  # an overflow is reported below
                    out.append(reduce(codes[:n * rows].reshape(n, rows, -1)))
                codes = codes[n * rows:]
    features = np.concatenate(out)
    if not np.isfinite(features).all():
        raise ValueError("the encoder's codes are too large: their differences or squares "
                         "overflow float64")
    return features


def rounds(targets, draw):
    """The factors of every batch, by rounds of _ROUND batches."""
    for r in range(0, len(targets), _ROUND):
        yield draw(targets[r:r + _ROUND])


def pair_batches(protocol, rng, L):
    """Z-diff's batches: L pairs each, the two sharing the value of the batch's factor
    (Higgins et al. 2017; beta_vae.py); rows: the L first items, then the L second ones."""
    K = protocol.n_factors

    def draw(targets):
        n = len(targets) * L
        first, second = protocol.sample(n, rng), protocol.sample(n, rng)
        k = np.repeat(targets, L)
        second[np.arange(n), k] = first[np.arange(n), k]
        return np.concatenate([first.reshape(-1, L, K), second.reshape(-1, L, K)],
                              axis=1).reshape(-1, K)
    return draw


def fixed_batches(protocol, rng, L, vary_one):
    """The variance metrics' batches of L rows: the batch's factor fixed to one value (Kim &
    Mnih 2018; factor_vae.py), or (``vary_one``, Kim et al. 2019) every other factor fixed."""
    K = protocol.n_factors

    def draw(targets):
        factors = protocol.sample(len(targets) * L, rng).reshape(-1, L, K)
        fixed = np.arange(K)[None, :] == targets[:, None]  # (batches, K)
        if vary_one:
            fixed = ~fixed
        factors = np.where(fixed[:, None, :], factors[:, :1, :], factors)
        return factors.reshape(-1, K)
    return draw


def mean_abs_difference(codes):
    L = codes.shape[1] // 2
    return np.mean(np.abs(codes[:, :L] - codes[:, L:]), axis=1)


def batch_variance(codes):
    return np.var(codes, axis=1, ddof=1)

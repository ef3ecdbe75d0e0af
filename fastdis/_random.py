"""The one rule for ``random_state``, shared by every stochastic metric.

Every metric turns its ``random_state`` into one integer seed in [0, 2**32) here and
derives all of its randomness from that seed (the intervention samplers key their
counter-based generators with it; the predictor metrics seed numpy's ``Generator`` -- or,
under a ``convention=``, the ``RandomState`` the reference uses -- and scikit-learn's
estimators with it). 2**32 is the range both ``numpy.random.RandomState``
and scikit-learn accept, so a seed that one metric takes is taken by all of them.
"""
import numbers

import numpy as np

SEED_LIMIT = 2**32


def check_random_state(random_state, name="random_state"):
    """An integer seed in [0, 2**32) from ``random_state``.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        None draws a fresh seed from the operating system's entropy (results then differ
        between calls); an integer in [0, 2**32) is used as it is; a Generator or a
        RandomState gives one draw (and so advances), as in scikit-learn.
    name : str
        The argument's name in error messages.

    Returns
    -------
    int

    Examples
    --------
    >>> check_random_state(7)
    7
    >>> check_random_state(np.random.default_rng(0)) == check_random_state(np.random.default_rng(0))
    True
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(SEED_LIMIT))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(SEED_LIMIT, dtype=np.int64))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"{name} must be None, an integer in [0, 2**32), a numpy Generator or a "
                        f"RandomState, got {random_state!r}")
    seed = int(random_state)
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"{name} must be an integer in [0, 2**32) (4294967295 at most), got {seed}")
    return seed


def check_unused_random_state(random_state, name="random_state"):
    """Hold the ``random_state`` of a deterministic metric to the same rule, without
    drawing anything: nothing is taken from a Generator or the operating system."""
    if random_state is not None and not isinstance(random_state, (np.random.Generator,
                                                                  np.random.RandomState)):
        check_random_state(random_state, name)

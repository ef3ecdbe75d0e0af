"""The one validation path for user inputs: every public function goes through here.

Arrays are never copied when they already have a dtype and layout the kernels
read (float32/float64 codes, integer factors, any strides that are whole
elements); everything else is converted once, here.
"""
import numbers
import operator

import numpy as np

_FLOAT_KINDS = "f"
_INT_KINDS = "iub"


def _as_2d(x, name):
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a 2-D array-like, got {type(x).__name__}")
    try:
        if not hasattr(x, "__array__") and hasattr(x, "__dlpack__"):
            arr = np.from_dlpack(x)  # zero-copy view of a CPU tensor
        else:
            arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - numpy raises many types here
        raise TypeError(f"{name} could not be converted to a numpy array: {exc}") from exc
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 1:
            hint = f"; use {name}.reshape(-1, 1) for a single column"
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_columns), "
            f"got a {arr.ndim}-D array of shape {arr.shape}{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    return arr


def _kernel_layout(arr):
    """Return arr itself if the kernels can read it in place, else an aligned copy."""
    item = arr.itemsize
    if (arr.flags.aligned and arr.dtype.isnative
            and arr.strides[0] % item == 0 and arr.strides[1] % item == 0):
        return arr
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))


def check_codes(codes, name="codes", min_samples=2):
    """Validate codes: a 2-D real array, returned as float32/float64 for the kernels.

    Finiteness is checked later, by the discretisation kernel, in the same pass
    that computes the column ranges.
    """
    arr = _as_2d(codes, name)
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    if kind not in _FLOAT_KINDS + _INT_KINDS:
        raise TypeError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    if arr.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples (rows), got {arr.shape[0]}")
    if arr.dtype not in (np.float32, np.float64):
        # float16 widens exactly to float32; integers and bools go to float64
        arr = arr.astype(np.float32 if arr.dtype == np.float16 else np.float64)
    return _kernel_layout(arr)


def check_factors(factors, name="factors", min_samples=2):
    """Validate factors: a 2-D array of labels (integers, floats without NaN, strings)."""
    arr = _as_2d(factors, name)
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must hold real or string labels, got complex dtype {arr.dtype}")
    if kind not in "iubfUSO":
        raise TypeError(f"{name} must hold integer, float or string labels, got dtype {arr.dtype}")
    if arr.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples (rows), got {arr.shape[0]}")
    if kind == "f":
        bad = ~np.isfinite(arr).all(axis=0)
        if bad.any():
            col = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} contains NaN or infinity in column {col}")
    if kind in _INT_KINDS:
        if kind == "b":
            arr = arr.view(np.uint8)
        return _kernel_layout(arr)
    return arr


def check_pair(factors, codes, min_samples=2):
    """Validate a (factors, codes) pair with the same number of rows."""
    f = check_factors(factors, min_samples=min_samples)
    c = check_codes(codes, min_samples=min_samples)
    if f.shape[0] != c.shape[0]:
        raise ValueError(
            f"factors and codes must have the same number of samples (rows): "
            f"factors has {f.shape[0]}, codes has {c.shape[0]}")
    return f, c


BIN_HINT = "bin it first (factor_bins=..., or fastdis.discretize)"


def continuous_looking(n_levels, n_rows):
    """The start of a message about the first factor with more distinct values than half
    the rows (it looks continuous: its values hardly repeat), or None."""
    many = np.flatnonzero(np.asarray(n_levels) > n_rows // 2)
    if not len(many):
        return None
    k = int(many[0])
    return (f"factors column {k} has {int(n_levels[k])} distinct values in {n_rows} rows: it "
            "looks continuous")


def check_int(value, name, minimum, maximum=None):
    """An integer parameter within [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = operator.index(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
    return value


def check_n_bins(n_bins):
    return check_int(n_bins, "n_bins", 2, 65535)


# The kernels take a C int.
_MAX_N_THREADS = 2**31 - 1


def check_n_threads(n_threads):
    """Validate n_threads and return the kernels' convention (0 = all available cores).

    Parameters
    ----------
    n_threads : None or int
        None uses every core available to this process (its CPU affinity), or fewer
        under an OpenMP limit (``OMP_NUM_THREADS``, ``threadpoolctl``).  An integer from
        1 to 2**31 - 1 is capped at the cores available to the process: results never
        depend on the number of threads, and asking OpenMP for thousands of threads
        makes it abort the process when it cannot create them.

    Returns
    -------
    int
        0 for None, else ``min(n_threads, available cores)``.

    Raises
    ------
    TypeError
        If n_threads is not None or an integer.
    ValueError
        If n_threads is below 1 or above 2**31 - 1.
    """
    if n_threads is None:
        return 0
    value = check_int(n_threads, "n_threads", 1, _MAX_N_THREADS)
    from ._config import _available_cores  # not at import: _config imports the kernels

    return min(value, _available_cores())


def check_base(base):
    """Logarithm base: None or e for nats, 2 for bits, any positive number != 1."""
    if base is None:
        return None
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, numbers.Real):
        raise TypeError(f"base must be a positive number or None, got {base!r}")
    base = float(base)
    if not np.isfinite(base) or base <= 0 or base == 1:
        raise ValueError(f"base must be positive, finite and != 1, got {base}")
    return base


def check_choice(value, name, choices):
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def raise_kernel_error(status, col, n_codes, what="codes"):
    """Turn a kernel status code (csrc/fastdis.h) into the exception a user should see.

    Code columns are numbered 0..n_codes-1 and factor columns n_codes.. by the kernels.
    """
    from . import _kernels as K

    if status == K.OK:
        return
    if status == K.ERR_NONFINITE:
        raise ValueError(f"{what} contains NaN or infinity in column {col}")
    if status == K.ERR_OUT_OF_RANGE:
        raise ValueError(f"{what} column {col} has values outside code_range")
    if status == K.ERR_UNKNOWN_LEVEL:
        raise ValueError(f"factors column {col - n_codes} has a value that is not one of "
                         f"the factor levels given")
    if status == K.ERR_NOMEM:
        raise MemoryError("fastdis: a kernel could not allocate its scratch memory")
    raise RuntimeError(f"fastdis: kernel rejected its arguments (status {status}); this is a bug")

"""The one validation path for user inputs: every public function goes through here.

Arrays are never copied when they already have a dtype and layout the kernels
read (float32/float64 codes, integer factors, any strides that are whole
elements); everything else is converted once, here.
"""
import decimal
import math
import numbers
import operator

import numpy as np

_FLOAT_KINDS = "f"
_INT_KINDS = "iub"


def _as_2d(x, name):
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a 2-D array-like, got {type(x).__name__}")
    x = _unmasked(x, name)
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


def _unmasked(x, name):
    """The data of a masked array without masked values; a masked value is an error,
    since np.asarray would silently read whatever lies under the mask."""
    if not isinstance(x, np.ma.MaskedArray):
        return x
    mask = np.ma.getmaskarray(x)
    if mask.any():
        where = tuple(int(i) for i in np.argwhere(mask)[0])
        n = int(mask.sum())
        raise ValueError(f"{name} is a masked array with {n} masked value{'s' * (n > 1)} "
                         f"(the first at index {where}): fill them (.filled(...)) or drop "
                         "those rows first")
    return np.ma.getdata(x)


def _kernel_layout(arr):
    """Return arr itself if the kernels can read it in place, else an aligned copy."""
    item = arr.itemsize
    if (arr.flags.aligned and arr.dtype.isnative
            and arr.strides[0] % item == 0 and arr.strides[1] % item == 0):
        return arr
    # a fresh copy: np.ascontiguousarray would return an unaligned contiguous array (a
    # buffer read at an odd offset, a block deserialised by dask.distributed) as it is
    return np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C", copy=True)


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
    """Validate factors: a 2-D array of labels (integers, floats without NaN, strings).

    Object columns must hold labels of one kind (numbers, str or bytes) and no missing
    value (None, NaN, pandas.NA, NaT); the column (and row) at fault is named.
    """
    arr = _exact_ints(factors, _as_2d(factors, name))
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must hold real or string labels, got complex dtype {arr.dtype}")
    if kind not in "iubfUSO":
        hint = ""
        if kind in "mM":
            hint = "; convert dates or durations to integers first (e.g. .astype('int64'))"
        elif arr.dtype.names is not None:
            hint = "; pass one column per field"
        raise TypeError(f"{name} must hold integer, float or string labels, got dtype "
                        f"{arr.dtype}{hint}")
    if arr.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples (rows), got {arr.shape[0]}")
    if kind == "f":
        bad = ~np.isfinite(arr).all(axis=0)
        if bad.any():
            col = int(np.flatnonzero(bad)[0])
            row = int(np.flatnonzero(~np.isfinite(arr[:, col]))[0])
            raise ValueError(nonfinite_label_message(name, col, row, arr[row, col]))
    if kind == "O":
        for col in range(arr.shape[1]):
            _check_object_labels(arr[:, col], name, col)
    if kind in _INT_KINDS:
        if kind == "b":
            arr = arr.view(np.uint8)
        return _kernel_layout(arr)
    return arr


def nonfinite_label_message(name, col, row, value):
    """The error for a missing (NaN) or infinite factor label: the first column holding
    one, its first row (chunked inputs name the same place)."""
    return (f"{name} contains NaN or infinity in column {col} (row {row}, {value}); labels "
            "must all be present and finite: drop those rows or give them a label of their own")


def check_finite_rows(values, rows, name="codes"):
    """Raise the ValueError of a NaN or infinity among ``values``, the rows numbered ``rows``
    of ``name`` (in any order, repeats allowed): the first column holding one, its first
    row. Metrics that read a subset of the rows check only those (in memory and chunked,
    the same rows: the same message)."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    col = int(np.flatnonzero(bad.any(axis=0))[0])
    at = np.flatnonzero(bad[:, col])
    first = at[np.argmin(np.asarray(rows)[at])]
    raise ValueError(nonfinite_row_message(name, col, int(np.asarray(rows)[first]),
                                           values[first, col]))


def nonfinite_row_message(name, col, row, value):
    """The error of :func:`check_finite_rows`."""
    return (f"{name} contains NaN or infinity in column {col} (row {row}, {value}, a row the "
            f"metric reads)")


def label_array(x):
    """np.asarray(x) for labels: masked arrays stay masked (check_factors refuses masked
    values) and Python ints stay exact (see _exact_ints)."""
    if isinstance(x, np.ma.MaskedArray):
        return x
    return _exact_ints(x, np.asarray(x))


def _exact_ints(x, arr):
    """arr, or the Python ints of the nested lists x as an object array where numpy made
    float64 of them (e.g. [-1, 2**63]) and so merged neighbouring labels."""
    if arr.dtype.kind != "f" or hasattr(x, "__array__") or hasattr(x, "__dlpack__"):
        return arr
    if not (np.abs(arr) >= 2.0**53).any():
        return arr  # every integer here is exact in float64
    exact = np.asarray(x, dtype=object)
    is_int = np.frompyfunc(lambda v: isinstance(v, numbers.Integral), 1, 1)
    if exact.shape == arr.shape and is_int(exact).all():
        return exact
    return arr


def _label_kind(x):
    """What an object label is: "str", "bytes", "number", "missing", "nonfinite" or its
    type name.  Missing values are recognised without importing pandas."""
    if isinstance(x, str):
        return "str"
    if isinstance(x, bytes):
        return "bytes"
    if x is None or type(x).__name__ in ("NAType", "NaTType"):
        return "missing"
    if isinstance(x, (numbers.Real, decimal.Decimal)):  # Python/numpy ints, floats, bools...
        if isinstance(x, numbers.Integral):
            return "number"
        try:
            finite = math.isfinite(x)
        except (OverflowError, TypeError, ValueError):
            finite = True
        if finite:
            return "number"
        return "missing" if x != x else "nonfinite"  # NaN marks a missing value
    if isinstance(x, (np.datetime64, np.timedelta64)) and np.isnat(x):
        return "missing"
    return type(x).__name__


_LABEL_KINDS = np.frompyfunc(_label_kind, 1, 1)


def _check_object_labels(col, name, k):
    """Column k of object labels: one kind of label, none missing (see _label_kind)."""
    with np.errstate(invalid="ignore"):  # NaN comparisons inside _label_kind
        kinds = _LABEL_KINDS(col)
    found = set(kinds.tolist())
    if found in ({"number"}, {"str"}, {"bytes"}):
        return
    for bad, what in (("missing", "a missing value"), ("nonfinite", "an infinite value")):
        if bad in found:
            row = int(np.flatnonzero(kinds == bad)[0])
            raise ValueError(f"{name} column {k} has {what} ({col[row]!r}) in row {row}: "
                             "labels must all be present and finite; drop those rows or give "
                             "them a label of their own")
    if len(found) > 1:
        first = {kind: col[int(np.flatnonzero(kinds == kind)[0])] for kind in sorted(found)}
        examples = ", ".join(f"{kind} {value!r}" for kind, value in first.items())
        raise TypeError(f"{name} column {k} mixes labels of different kinds ({examples}): use "
                        "one kind per column, e.g. convert the column with .astype(str)")
    raise TypeError(f"{name} column {k} holds {found.pop()} values: labels must be numbers or "
                    "strings")


def check_levels(factor_levels, name="factor_levels"):
    """The distinct values of each factor: a non-empty list of non-empty 1-D array-likes,
    each validated like a factors column; returned sorted and distinct."""
    if isinstance(factor_levels, (str, bytes)) or not hasattr(factor_levels, "__iter__"):
        raise TypeError(f"{name} must be a list with the levels of each factor, got "
                        f"{type(factor_levels).__name__}")
    levels = []
    for k, v in enumerate(factor_levels):
        if isinstance(v, (str, bytes)):
            raise TypeError(f"{name}[{k}] must be a 1-D array-like of the levels of factor {k}, "
                            f"got {type(v).__name__}; pass e.g. [np.arange(3), ['a', 'b']]")
        v = _unmasked(v, f"{name}[{k}]")
        arr = _exact_ints(v, np.asarray(v))
        if arr.ndim != 1:
            raise ValueError(f"{name}[{k}] must be a 1-D array-like of the levels of factor {k}, "
                             f"got a {arr.ndim}-D array of shape {arr.shape}; pass one array "
                             "per factor, e.g. [np.arange(3), np.arange(6)]")
        if arr.size == 0:
            raise ValueError(f"{name}[{k}] is empty: factor {k} needs at least one level")
        col = check_factors(arr.reshape(-1, 1), name=f"{name}[{k}]", min_samples=1)
        levels.append(np.unique(col[:, 0]))
    if not levels:
        raise ValueError(f"{name} is empty: give the levels of at least one factor")
    return levels


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

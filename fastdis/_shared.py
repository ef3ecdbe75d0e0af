"""Work shared by the metrics of one :func:`fastdis.evaluate` call.

Outside ``sharing()`` nothing is stored and every call computes. Inside it, the
expensive intermediate results (code ranges, the discretisation + joint-histogram pass,
factor encodings and row groupings) are kept, keyed by the memory of the validated
input arrays and the settings. Each entry holds a reference to the arrays of its key,
so no other array can take over that memory (and the key) while the scope lives.
"""
import contextlib
import contextvars

_SCOPE = contextvars.ContextVar("fastdis_shared", default=None)


class _Scope:
    def __init__(self):
        self.store = {}
        self.computed = {}  # kind -> how many times it was computed


@contextlib.contextmanager
def sharing():
    """Share intermediate results between the calls made in this block (one thread)."""
    token = _SCOPE.set(_Scope())
    try:
        yield _SCOPE.get()
    finally:
        _SCOPE.reset(token)


def active():
    """Whether a ``sharing()`` scope is open (results asked for are then kept)."""
    return _SCOPE.get() is not None


def memory_key(arr):
    """Where and how an array lies in memory: equal keys, equal arrays (while alive). A
    dask array: its name (a hash of its graph)."""
    if not hasattr(arr, "__array_interface__") and hasattr(arr, "dask"):
        return ("dask", arr.name)
    return (arr.__array_interface__["data"][0], arr.shape, arr.strides, arr.dtype.str)


def shared(kind, arrays, params, compute):
    """``compute()``, or its stored result for the same arrays and params in this scope."""
    scope = _SCOPE.get()
    if scope is None:
        return compute()
    key = (kind, tuple(memory_key(a) for a in arrays), params)
    if key not in scope.store:
        scope.store[key] = (compute(), arrays)
        scope.computed[kind] = scope.computed.get(kind, 0) + 1
    return scope.store[key][0]


def scope_store():
    """The open scope's store (a dict the caller may key as it needs), or None outside
    ``sharing()``. Entries must hold references to the arrays their keys name."""
    scope = _SCOPE.get()
    return None if scope is None else scope.store

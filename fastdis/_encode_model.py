"""``encode``: run an encoder over a data set in batches and collect its codes (or its
posterior means and variances) as numpy arrays. torch is imported only when the encoder or
the data are torch objects."""
import contextlib
import sys

import numpy as np

from ._progress import progress_bar
from ._validation import check_int


def _torch():
    return sys.modules.get("torch")


def _batches(data, batch_size):
    """(number of rows or None, iterator of input batches) of an array, a torch Dataset or
    any iterable of batches (a DataLoader; a batch (x, y, ...) gives x)."""
    torch = _torch()
    if isinstance(data, np.ndarray) or (torch is not None and isinstance(data, torch.Tensor)):
        n = len(data)
        return n, (data[i:i + batch_size] for i in range(0, n, batch_size))
    if torch is not None and isinstance(data, torch.utils.data.Dataset) and \
            hasattr(data, "__len__"):
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
        return len(data), (_inputs(b) for b in loader)
    if hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        n = len(data.dataset) if hasattr(data, "dataset") and hasattr(data.dataset, "__len__") \
            else None
        return n, (_inputs(b) for b in data)
    raise TypeError("data must be an array, a torch Dataset or an iterable of batches (e.g. a "
                    f"DataLoader), got {type(data).__name__}")


def _inputs(batch):
    """The inputs of a batch from a loader: the first item of (x, y, ...), or x["image"]."""
    if isinstance(batch, (tuple, list)):
        return batch[0]
    if isinstance(batch, dict):
        for key in ("image", "images", "x", "input", "inputs"):
            if key in batch:
                return batch[key]
        raise ValueError(f"a batch is a dict without an input key (image, x, input); keys: "
                         f"{sorted(batch)}")
    return batch


def _numpy(x, what):
    torch = _torch()
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"the encoder's {what} must be numbers, got dtype {x.dtype}")
    return x.reshape(len(x), -1) if x.ndim != 2 else x


def _outputs(out):
    """(codes, None) of a point encoder, or (mean, var) of a distribution: an object with
    ``mean`` and ``stddev`` / ``variance`` (torch.distributions.Normal), or a
    (mean, log-variance) pair."""
    # arrays and tensors have a mean() method but neither stddev nor variance
    if hasattr(out, "mean") and (hasattr(out, "stddev") or hasattr(out, "variance")):
        mean = _numpy(out.mean, "mean")
        var = (_numpy(out.variance, "variance") if hasattr(out, "variance")
               else _numpy(out.stddev, "stddev") ** 2)
        return mean, var
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(f"an encoder returning a tuple must return (mean, log-variance), "
                             f"got {len(out)} items")
        mean, logvar = _numpy(out[0], "mean"), _numpy(out[1], "log-variance")
        return mean, np.exp(logvar.astype(np.float64))
    return _numpy(out, "codes"), None


def encode(encoder, data, *, batch_size=256, device=None, progress=None):
    """Run ``encoder`` over ``data`` in batches and return its codes as numpy arrays.

    Parameters
    ----------
    encoder : callable
        A ``torch.nn.Module`` or any function of a batch. It may return codes (an array or
        tensor, (batch, n_codes)), a distribution with ``mean`` and ``stddev`` or
        ``variance`` (``torch.distributions.Normal``), or a ``(mean, log_variance)`` pair.
    data : array, torch Tensor, torch Dataset or iterable of batches
        The inputs, in the order of the factors they go with: an array or tensor (cut into
        batches of ``batch_size`` rows), a Dataset (read by a non-shuffling DataLoader) or a
        DataLoader / any iterable of batches (a batch ``(x, y, ...)`` gives ``x``; a dict
        its ``"image"`` or ``"x"``). Keep a DataLoader unshuffled: the rows must stay in
        the order of the factors.
    batch_size : int, default=256
    device : str or torch.device, optional
        Where a torch encoder runs (``"cuda"``); the inputs are moved there. Default: the
        encoder's own device (that of its first parameter), else the CPU.
    progress : bool, optional
        A progress bar on stderr (tqdm); default when stderr is a terminal.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_codes)
        For a point encoder.
    (mean, var) : tuple of ndarray of shape (n_samples, n_codes)
        For a distribution or a (mean, log-variance) pair: pass them on as
        ``fastdis.evaluate(factors, mean, var=var)``.

    Notes
    -----
    A torch module runs in evaluation mode (``eval()``, restored afterwards) under
    ``torch.inference_mode()``. torch is imported only when the encoder or the data are
    torch objects; a plain function of numpy arrays needs no torch.

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> images = np.random.default_rng(0).random((1000, 8, 8))
    >>> codes = fastdis.encode(lambda x: x.mean(axis=(1, 2))[:, None], images, batch_size=128)
    >>> codes.shape
    (1000, 1)
    """
    batch_size = check_int(batch_size, "batch_size", 1)
    if not callable(encoder):
        raise TypeError(f"encoder must be callable (a torch Module or a function), got "
                        f"{type(encoder).__name__}")
    torch = _torch()
    module = torch is not None and isinstance(encoder, torch.nn.Module)
    if module and device is None:
        first = next(encoder.parameters(), None)
        device = None if first is None else first.device
    n, batches = _batches(data, batch_size)
    means, variances, kind = [], [], None
    context = torch.inference_mode() if module else contextlib.nullcontext()
    was_training = encoder.training if module else None
    if module:
        encoder.eval()
    try:
        with context, progress_bar(n, "encode", progress) as bar:
            for x in batches:
                if module:
                    x = torch.as_tensor(x)
                    if device is not None:
                        x = x.to(device)
                mean, var = _outputs(encoder(x))
                if kind is None:
                    kind = var is not None
                elif kind != (var is not None):
                    raise ValueError("the encoder returned codes for some batches and a "
                                     "distribution for others")
                means.append(mean)
                if var is not None:
                    variances.append(var)
                bar.update(len(mean))
    finally:
        if module:
            encoder.train(was_training)
    if not means:
        raise ValueError("data gave no batch: nothing to encode")
    widths = sorted({m.shape[1] for m in means})
    if len(widths) > 1:
        raise ValueError(f"the encoder returned {widths[0]} codes per observation for some "
                         f"batches and {widths[-1]} for others: it must return the same number")
    codes = np.concatenate(means)
    return (codes, np.concatenate(variances)) if kind else codes


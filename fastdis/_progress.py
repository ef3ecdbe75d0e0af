"""Optional progress bars (tqdm, on stderr) for the long computations."""
import sys


class _Silent:
    def update(self, n=1):
        pass

    def set_postfix_str(self, text):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress_bar(total, desc, progress=None):
    """A tqdm bar on stderr, or a silent stand-in.

    ``progress=None`` shows the bar only when stderr is a terminal and tqdm is installed;
    True asks for it (still silent without tqdm: it is an optional dependency); False
    never shows it.
    """
    if progress is None:
        progress = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if not progress:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Silent()
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False)

"""Reading the ``fastdis evaluate`` command's files: .npy, .npz, .csv / .tsv, .parquet.

Every problem with a file becomes a :class:`UsageError` whose one-line message starts with
the file's path; nothing here prints. Things worth telling the user about a file that was
read (a header row recognised, an index column dropped or kept) are returned as notes.
"""
import csv
import os
from typing import List, NamedTuple, Optional

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
# A first column 0, 1, ..., N-1 is taken for a pandas index only from this many rows on:
# in a tiny file a sorted label column looks the same by chance.
_INDEX_MIN_ROWS = 10


class UsageError(Exception):
    """A problem with the user's files or arguments: one line, exit status 2."""


class Table(NamedTuple):
    """What a file held: the array, its column names (or None) and notes for stderr."""

    array: object
    names: Optional[List[str]]
    notes: List[str]


# --- .npy / .npz ------------------------------------------------------------------------------
def _head(path, n=8):
    with open(path, "rb") as f:
        return f.read(n)


def _check_dtype(path, dtype, what="the array"):
    if dtype.hasobject:
        raise UsageError(f"{path}: {what} holds Python objects (dtype object), which fastdis does "
                         "not load (it never unpickles files); save numbers or strings")
    if dtype.names is not None:
        raise UsageError(f"{path}: {what} is a structured array (fields {', '.join(dtype.names)}); "
                         "save a plain 2-D array")


def _read_npy(path):
    import numpy as np
    from numpy.lib import format as npy

    head = _head(path)
    if not head:
        raise UsageError(f"{path}: empty file (0 bytes), not a valid .npy file")
    if head.startswith(_ZIP_MAGIC):
        raise UsageError(f"{path}: a zip archive (a .npz file?), not a valid .npy file")
    if not head.startswith(_NPY_MAGIC):
        raise UsageError(f"{path}: not a valid .npy file (it does not start with the .npy "
                         "signature)")
    with open(path, "rb") as f:
        try:
            version = npy.read_magic(f)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read(f)
        except Exception as exc:  # noqa: BLE001 - numpy raises several types on a bad header
            raise UsageError(f"{path}: not a valid .npy file (its header cannot be read: "
                             f"{exc})") from None
        offset = f.tell()
    _check_dtype(path, dtype)
    count = 1
    for n in shape:
        count *= n
    need, size = offset + count * dtype.itemsize, os.path.getsize(path)
    if size < need:
        raise UsageError(f"{path}: truncated .npy file: its header promises {need:,} bytes, "
                         f"the file has {size:,}")
    # a memory map reads only what the metrics touch; an empty array cannot be mapped
    return np.load(path, mmap_mode="r" if count else None, allow_pickle=False)


def pick_member(path, names, key, option, kind):
    """The name of the array (``kind``: "array", "dataset") to read from a file holding
    ``names``: ``key``, or the only one when key is None."""
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    if not names:
        raise UsageError(f"{path}: holds no {kind}s")
    if key is None:
        if len(names) != 1:
            raise UsageError(f"{path} holds {len(names)} {kind}s ({shown}): name one with "
                             f"{option}")
        return names[0]
    if key not in names:
        raise UsageError(f"{path} has no {kind} {key!r} (it has {shown}): name one with "
                         f"{option}")
    return key


def _npz_member(path, archive, key, option):
    import numpy as np

    key = pick_member(path, archive.files, key, option, "array")
    try:
        array = archive[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            _check_dtype(path, np.dtype(object), f"array {key!r}")
        raise UsageError(f"{path}: array {key!r} cannot be read ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a damaged member: zlib, zipfile, EOF errors
        raise UsageError(f"{path}: array {key!r} cannot be read ({type(exc).__name__}: "
                         f"{exc})") from None
    _check_dtype(path, array.dtype, f"array {key!r}")
    return array


def _read_npz(path, key, option):
    import numpy as np

    head = _head(path)
    if not head:
        raise UsageError(f"{path}: empty file (0 bytes), not a valid .npz file")
    if head.startswith(_NPY_MAGIC):
        raise UsageError(f"{path}: a .npy file, not a .npz archive (rename it to .npy)")
    if not head.startswith(_ZIP_MAGIC):
        raise UsageError(f"{path}: not a valid .npz file (not a zip archive)")
    with open(path, "rb") as handle:  # closed here even when numpy gives up on the archive
        try:
            archive = np.load(handle, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - zipfile raises several types on a bad archive
            raise UsageError(f"{path}: not a valid .npz file ({type(exc).__name__}: "
                             f"{exc})") from None
        with archive:
            return _npz_member(path, archive, key, option)


# --- .csv / .tsv ------------------------------------------------------------------------------
def _parse_column(values):
    """int64 if every value is an integer, else float64, else the strings as given."""
    import numpy as np

    for dtype in (np.int64, np.float64):
        try:
            return np.array(values, dtype=dtype)
        except (ValueError, OverflowError):
            continue
    return np.array(values, dtype=str)


def _numeric(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _integer(cell):
    try:
        int(cell)
        return True
    except ValueError:
        return False


def _has_header(rows):
    """Whether the first row names the columns: text above numbers, or, in all-text data,
    text that never recurs below it (labels repeat down a column, names do not)."""
    first, rest = rows[0], rows[1:]
    if not rest or all(_numeric(c) for c in first):
        return False
    if all(_numeric(c) for c in rest[0]):
        return True
    return all(name not in set(column) for name, column in zip(first, zip(*rest)))


def _numbered(cells):
    return [c.strip() for c in cells] == [str(j) for j in range(len(cells))]


def _has_numbered_header(rows):
    """Whether the first row is pandas' default column names 0, 1, ..., k-1 above numbers
    (``DataFrame(array).to_csv(index=False)``). One column named ``0`` is told from a
    first value 0 only when the values below are not all integers."""
    first, rest = rows[0], rows[1:]
    if not rest or not _numbered(first) or not all(_numeric(c) for row in rest for c in row):
        return False
    return len(first) >= 2 or not all(_integer(row[0]) for row in rest)


def _is_row_numbers(column):
    import numpy as np

    return (column.dtype.kind == "i" and len(column) >= _INDEX_MIN_ROWS
            and np.array_equal(column, np.arange(len(column))))


def _read_delimited(path, delimiter, header):
    import numpy as np

    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    if not rows:
        raise UsageError(f"{path}: empty file (no rows)")
    names, notes = None, []
    if header == "yes" or (header == "auto" and _has_header(rows)):
        names, rows = rows[0], rows[1:]
    elif header == "auto" and _has_numbered_header(rows):
        names, rows = rows[0], rows[1:]
        notes.append(f"note: {path}: first row {','.join(names)} taken for pandas' default column "
                     "names, not data (--header no reads it as data)")
    if not rows:
        raise UsageError(f"{path}: a header and no rows")
    width = len(names) if names is not None else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise UsageError(f"{path}: row {i + 1} has {len(row)} fields, expected {width}")
        for j, cell in enumerate(row):
            if not cell.strip():
                raise UsageError(f"{path}: row {i + 1}, column {j} is empty (a missing value; "
                                 "every value is needed)")
    columns = [_parse_column([row[j] for row in rows]) for j in range(width)]
    # pandas writes an unnamed index as a first column with an empty header cell: whatever
    # its values (0..N-1, or shuffled / filtered / 1-based rows), they are row labels
    if names is not None and not names[0].strip() and width > 1 \
            and len(np.unique(columns[0])) == len(rows):
        columns, names = columns[1:], names[1:]
        notes.append(f"note: {path}: first column (no name, a distinct value per row) is a pandas "
                     "index: left out (write the file with to_csv(index=False))")
    elif _is_row_numbers(columns[0]):
        notes.append(f"warning: {path}: column 0 is 0, 1, ..., {len(rows) - 1}, like a pandas "
                     "index; it is used as data (left out only when its header cell is empty)")
    if not columns:
        raise UsageError(f"{path}: no columns besides the index")
    if names is not None and _numbered(names):
        names = None  # pandas' default names say nothing; the report's factor0.. say as much
    kinds = {c.dtype.kind for c in columns}
    if kinds <= {"i"}:
        array = np.column_stack(columns)
    elif kinds <= {"i", "f"}:
        array = np.column_stack(columns).astype(np.float64)
    else:
        array = np.column_stack([c.astype(str) for c in columns])
    return Table(array, names, notes)


# --- .parquet ---------------------------------------------------------------------------------
def _read_parquet(path):
    import numpy as np

    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow)") from None
    table = pq.read_table(path)
    if table.num_columns == 0:
        raise UsageError(f"{path}: no columns")
    columns = [np.asarray(table.column(i)) for i in range(table.num_columns)]
    return Table(np.column_stack(columns), [str(n) for n in table.column_names], [])


# --- any file ---------------------------------------------------------------------------------
DELIMITED = (".csv", ".tsv", ".txt")
FORMATS = (".npy", ".npz", ".parquet") + DELIMITED


def read_array(path, key=None, header="auto", key_option="--factors-key / --codes-key"):
    """Read one array from a file the command was given.

    Parameters
    ----------
    path : str
        A .npy, .npz, .csv, .tsv (.txt: comma-separated) or .parquet file; rows are samples.
    key : str, optional
        The array's name inside a .npz; default its only array.
    header : {"auto", "yes", "no"}, default="auto"
        Whether a .csv / .tsv file's first row names its columns. ``"auto"``: text above
        numbers, text that never recurs below it (labels repeat down a column, names do
        not), or exactly ``0,1,...,k-1`` above numbers (pandas' default column names; one
        column named ``0`` only above non-integers).
    key_option : str
        The option that sets ``key``, named in messages.

    Returns
    -------
    Table
        ``(array, names, notes)``: names from a header row or a .parquet schema, else None;
        notes are lines for stderr about how the file was read, each starting with
        ``note:`` or ``warning:``.

    Raises
    ------
    UsageError
        Whatever keeps the file from being read, in one line starting with ``path``.
    """
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{path}: a directory, not a file")
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"{path}: unknown format {ext!r} (use .npy, .npz, .csv, .tsv or .parquet)")
    try:
        if ext == ".npy":
            return Table(_read_npy(path), None, [])
        if ext == ".npz":
            return Table(_read_npz(path, key, key_option), None, [])
        if ext == ".parquet":
            return _read_parquet(path)
        return _read_delimited(path, "\t" if ext == ".tsv" else ",", header)
    except UsageError:
        raise
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except MemoryError:
        raise UsageError(f"{path}: too large to read into memory") from None
    except Exception as exc:  # noqa: BLE001 - any reader's failure on the user's file
        raise UsageError(f"{path}: cannot read it: {type(exc).__name__}: {exc}") from None

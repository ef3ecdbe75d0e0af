"""Ground-truth data sets from the files users download themselves (dSprites, 3D Shapes,
MPI3D), read lazily, and the small protocol of disentanglement_lib's ground-truth data:
sample factors, observations from factors.

Images are never read whole up front: stored (uncompressed) arrays are memory-mapped,
HDF5 datasets read by slices, and dSprites's compressed binary images kept as packed bits
(1/8 of a byte per pixel: 377 MB for its 737,280 images) and unpacked on access.
"""
import zipfile

import numpy as np

from ._validation import check_int


class GroundTruthData:
    """A data set whose every row is one combination of discrete factors.

    Attributes
    ----------
    images : array-like of shape (n_samples, ...)
        Indexable by row numbers (a memory map, an HDF5 dataset or a lazy view).
    factors : ndarray of shape (n_samples, n_factors), int64
        Each row's factor classes, 0 .. size - 1.
    factor_names : list of str
    factor_sizes : list of int
    """

    def __init__(self, images, factors, factor_names, factor_sizes):
        self.images = images
        self.factors = np.asarray(factors, dtype=np.int64)
        self.factor_names = list(factor_names)
        self.factor_sizes = [int(s) for s in factor_sizes]
        # rows by factor combination (the mixed-radix number of its classes)
        self._radix = np.cumprod([1] + self.factor_sizes[:0:-1])[::-1].astype(np.int64)
        keys = self.factors @ self._radix
        self._row_of = np.full(int(np.prod(self.factor_sizes)), -1, dtype=np.int64)
        self._row_of[keys] = np.arange(len(keys))

    def __len__(self):
        return len(self.factors)

    def __repr__(self):
        sizes = ", ".join(f"{n}={s}" for n, s in zip(self.factor_names, self.factor_sizes))
        return f"GroundTruthData({len(self):,} rows; {sizes})"

    def sample_factors(self, n, random_state=None):
        """``n`` factor combinations drawn uniformly, (n, n_factors) int64."""
        n = check_int(n, "n", 1)
        rng = np.random.default_rng(random_state)
        return np.stack([rng.integers(0, s, n) for s in self.factor_sizes], axis=1)

    def rows(self, factors):
        """The row of each factor combination ((n, n_factors) classes)."""
        factors = np.asarray(factors, dtype=np.int64)
        if factors.ndim != 2 or factors.shape[1] != len(self.factor_sizes):
            raise ValueError(f"factors must have shape (n, {len(self.factor_sizes)}), got "
                             f"{factors.shape}")
        if (factors < 0).any() or (factors >= np.array(self.factor_sizes)).any():
            raise ValueError("factors hold classes outside 0 .. size - 1")
        rows = self._row_of[factors @ self._radix]
        if (rows < 0).any():
            raise ValueError("a factor combination has no row in this data set")
        return rows

    def observations(self, factors):
        """The images of these factor combinations, in memory, (n, ...) in their order."""
        rows = self.rows(factors)
        order = np.argsort(rows, kind="stable")  # sorted reads (HDF5 needs increasing rows)
        out = np.asarray(self.images[rows[order]])
        result = np.empty_like(out)
        result[order] = out
        return result

    def sample(self, n, random_state=None):
        """(factors, images) of ``n`` uniformly drawn combinations."""
        factors = self.sample_factors(n, random_state)
        return factors, self.observations(factors)


# --- .npz members, memory-mapped when stored ----------------------------------------------------
def _npy_header(f):
    """(shape, fortran order, dtype) of the .npy stream f, left at the start of the data."""
    version = np.lib.format.read_magic(f)
    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
              else np.lib.format.read_array_header_2_0)
    return header(f)


def _npz_member(path, name):
    """A member of an .npz: memory-mapped when stored uncompressed, else None."""
    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo(name + ".npy")
        except KeyError:
            raise ValueError(f"{path}: no array {name!r} (it has "
                             f"{', '.join(n[:-4] for n in archive.namelist())})") from None
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            name_len = int.from_bytes(local[26:28], "little")
            extra_len = int.from_bytes(local[28:30], "little")
            start = info.header_offset + 30 + name_len + extra_len
            f.seek(start)
            shape, fortran, dtype = _npy_header(f)
            offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C")


class _PackedImages:
    """Binary images kept as packed bits, unpacked on access (dSprites)."""

    def __init__(self, packed, shape):
        self._packed, self.shape, self.dtype = packed, tuple(shape), np.dtype(np.uint8)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        pixels = int(np.prod(self.shape[1:]))
        bits = np.unpackbits(self._packed[rows], axis=-1, count=pixels)
        return bits.reshape(bits.shape[:-1] + self.shape[1:])


def _packed_member(path, name, chunk=4096):
    """A binary image member read once, by chunks of rows, into packed bits."""
    with zipfile.ZipFile(path) as archive, archive.open(name + ".npy") as f:
        shape, _, dtype = _npy_header(f)
        pixels = int(np.prod(shape[1:]))
        packed = np.empty((shape[0], (pixels + 7) // 8), dtype=np.uint8)
        for r0 in range(0, shape[0], chunk):
            n = min(chunk, shape[0] - r0)
            block = np.frombuffer(f.read(n * pixels * dtype.itemsize), dtype=dtype)
            if block.size != n * pixels:
                raise ValueError(f"{path}: {name} is truncated")
            if block.max(initial=0) > 1:
                raise ValueError(f"{path}: {name} is not binary (0/1) images")
            packed[r0:r0 + n] = np.packbits(block.reshape(n, pixels).astype(np.uint8), axis=1)
    return _PackedImages(packed, shape)


#: dSprites (Matthey et al. 2017): colour (one value) left out.
DSPRITES = dict(names=["shape", "scale", "orientation", "posX", "posY"],
                sizes=[3, 6, 40, 32, 32])
#: 3D Shapes (Burgess & Kim 2018), in its labels' column order.
SHAPES3D = dict(names=["floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"],
                sizes=[10, 10, 10, 8, 4, 15])
#: MPI3D (Gondal et al., NeurIPS 2019), the order of its images.
MPI3D = dict(names=["object_color", "object_shape", "object_size", "camera_height",
                    "background_color", "horizontal_axis", "vertical_axis"],
             sizes=[6, 6, 2, 3, 3, 40, 40])


def load_dsprites(path):
    """dSprites, from the archive users download: dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    GroundTruthData
        ``factors``: the ``latents_classes`` without the constant colour (shape, scale,
        orientation, posX, posY); ``images`` (737,280, 64, 64) uint8 0/1, memory-mapped
        when the archive stores them uncompressed, else kept as packed bits (377 MB).

    References
    ----------
    Matthey, Higgins, Hassabis & Lerchner, dSprites: disentanglement testing sprites
    dataset, 2017 (github.com/deepmind/dsprites-dataset).
    """
    images = _npz_member(path, "imgs")
    if images is None:
        images = _packed_member(path, "imgs")
    with np.load(path, allow_pickle=False) as archive:
        classes = archive["latents_classes"]
    return GroundTruthData(images, classes[:, 1:], DSPRITES["names"], DSPRITES["sizes"])


def load_shapes3d(path):
    """3D Shapes from its ``3dshapes.h5`` (needs h5py): images read by slices.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    GroundTruthData
        ``factors``: each ``labels`` column's values as classes 0 .. size - 1 (sorted);
        ``images``: the HDF5 dataset (480,000, 64, 64, 3) uint8, read on access.

    References
    ----------
    Burgess & Kim, 3D Shapes dataset, 2018 (github.com/deepmind/3d-shapes).
    """
    try:
        import h5py
    except ImportError:
        raise ImportError("load_shapes3d needs h5py: pip install h5py") from None
    f = h5py.File(path, "r")
    labels = f["labels"][()]
    factors = np.stack([np.unique(c, return_inverse=True)[1].reshape(-1) for c in labels.T],
                       axis=1)
    sizes = [int(factors[:, k].max()) + 1 for k in range(factors.shape[1])]
    return GroundTruthData(f["images"], factors, SHAPES3D["names"][:len(sizes)], sizes)


def load_mpi3d(path):
    """MPI3D (toy, realistic or real) from its ``mpi3d_*.npz``: images in factor order.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    GroundTruthData
        ``factors``: each row's classes from its position (the images are stored in the
        order of the factor grid, the last factor fastest); ``images`` (1,036,800, 64, 64,
        3) uint8, memory-mapped when stored uncompressed (else read whole: 12.7 GB).

    References
    ----------
    Gondal et al., On the transfer of inductive bias from simulation to the real world: a
    new disentanglement dataset, NeurIPS 2019 (github.com/rr-learning/disentanglement_dataset).
    """
    images = _npz_member(path, "images")
    if images is None:
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"]
    sizes = MPI3D["sizes"]
    if len(images) != int(np.prod(sizes)):
        raise ValueError(f"{path}: {len(images)} images, not the {int(np.prod(sizes)):,} of "
                         "MPI3D's factor grid")
    grid = np.stack(np.unravel_index(np.arange(len(images)), sizes), axis=1)
    return GroundTruthData(images, grid, MPI3D["names"], sizes)


class _Rows:
    """Row-indexable concatenation of array-likes, or of lazily read parts: ``parts`` are
    (rows, reader) with reader(local row numbers) -> array."""

    def __init__(self, parts, shape, dtype):
        self._parts, self.shape, self.dtype = parts, tuple(shape), np.dtype(dtype)
        self._starts = np.cumsum([0] + [n for n, _ in parts])

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        scalar = rows.ndim == 0
        rows = np.atleast_1d(rows)
        out = np.empty((len(rows),) + self.shape[1:], dtype=self.dtype)
        part = np.searchsorted(self._starts, rows, side="right") - 1
        for p in np.unique(part):
            mine = part == p
            out[mine] = self._parts[p][1](rows[mine] - self._starts[p])
        return out[0] if scalar else out


_NORB_DTYPES = {507333717: np.uint8, 507333716: np.int32, 507333713: np.float32,
                507333715: np.float64}


def _norb_matrix(path):
    """A SmallNORB binary matrix (its magic number names the type), memory-mapped."""
    with open(path, "rb") as f:
        head = np.frombuffer(f.read(8), dtype="<i4")
        if len(head) < 2 or int(head[0]) not in _NORB_DTYPES:
            raise ValueError(f"{path}: not a SmallNORB binary matrix (magic number)")
        ndim = int(head[1])
        dims = np.frombuffer(f.read(4 * max(3, ndim)), dtype="<i4")[:ndim]
    return np.memmap(path, dtype=np.dtype(_NORB_DTYPES[int(head[0])]).newbyteorder("<"),
                     mode="r", offset=8 + 4 * max(3, ndim), shape=tuple(int(d) for d in dims))


#: SmallNORB (LeCun et al. 2004): training and testing sets together.
SMALLNORB = dict(names=["category", "instance", "elevation", "azimuth", "lighting"],
                 sizes=[5, 10, 9, 18, 6])
_NORB_CHUNKS = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")


def load_smallnorb(folder):
    """SmallNORB from the folder holding its six ``smallnorb-*-{dat,cat,info}.mat`` files
    (training and testing sets, as disentanglement_lib reads them).

    Parameters
    ----------
    folder : str or path-like

    Returns
    -------
    GroundTruthData
        ``factors``: category, instance, elevation, azimuth (0, 2, ..., 34 halved, as
        disentanglement_lib does) and lighting, 48,600 rows; ``images`` (48,600, 96, 96)
        uint8, the first camera of each stereo pair, memory-mapped (disentanglement_lib
        then resizes them to 64 x 64, and samples the instance at random: it is not one of
        its latent factors).

    References
    ----------
    LeCun, Huang & Bottou, "Learning methods for generic object recognition with invariance
    to pose and lighting", CVPR 2004 (cs.nyu.edu/~ylclab/data/norb-v1.0-small).
    """
    import os

    parts, factors = [], []
    for chunk in _NORB_CHUNKS:
        name = os.path.join(os.fspath(folder), f"smallnorb-{chunk}-{{}}.mat")
        dat = _norb_matrix(name.format("dat"))
        cat = np.asarray(_norb_matrix(name.format("cat")), dtype=np.int64).reshape(-1)
        info = np.asarray(_norb_matrix(name.format("info")), dtype=np.int64)
        if dat.ndim != 4 or dat.shape[1] != 2 or len(cat) != len(dat) or len(info) != len(dat):
            raise ValueError(f"{name.format('*')}: not SmallNORB's layout (N, 2, H, W)")
        parts.append((len(dat), lambda rows, dat=dat: np.asarray(dat[rows, 0])))
        features = np.column_stack([cat, info])
        features[:, 3] //= 2  # azimuth 0, 2, ..., 34
        factors.append(features)
    factors = np.concatenate(factors)
    shape = (len(factors),) + parts[0][1](np.array([0])).shape[1:]
    return GroundTruthData(_Rows(parts, shape, np.uint8), factors, SMALLNORB["names"],
                           SMALLNORB["sizes"])


#: Cars3D (Reed et al. 2015): the factors in disentanglement_lib's order.
CARS3D = dict(names=["elevation", "azimuth", "object"], sizes=[4, 24, 183])


def load_cars3d(folder):
    """Cars3D from the folder of its ``*.mat`` files, one car each (needs scipy).

    Parameters
    ----------
    folder : str or path-like

    Returns
    -------
    GroundTruthData
        ``factors``: elevation (4), azimuth (24), object (the car: its file's position in
        name order; disentanglement_lib takes the directory's listing order); ``images``
        (n_cars x 96, 128, 128, 3) uint8, each car's file read when one of its images is
        asked for (disentanglement_lib then resizes them to 64 x 64).

    References
    ----------
    Reed, Zhang, Zhang & Lee, "Deep visual analogy-making", NeurIPS 2015.
    """
    import glob
    import os

    files = sorted(glob.glob(os.path.join(os.fspath(folder), "*.mat")))
    if not files:
        raise ValueError(f"{folder}: no .mat files (Cars3D's cars)")

    def reader(path):
        def read(rows):
            from scipy.io import loadmat

            # im: (H, W, 3, azimuth, elevation) -> (azimuth, elevation, H, W, 3)
            mesh = np.einsum("abcde->deabc", loadmat(path)["im"])
            return mesh.reshape((-1,) + mesh.shape[2:])[rows]
        return read

    first = reader(files[0])(np.array([0]))
    parts = [(96, reader(path)) for path in files]
    grid = np.stack(np.unravel_index(np.arange(96), (24, 4)), axis=1)  # azimuth, elevation
    factors = np.concatenate([np.column_stack([grid[:, 1], grid[:, 0], np.full(96, i)])
                              for i in range(len(files))])
    return GroundTruthData(_Rows(parts, (96 * len(files),) + first.shape[1:], first.dtype),
                           factors, CARS3D["names"], [4, 24, len(files)])

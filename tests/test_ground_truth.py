"""Readers of the standard ground-truth files, on tiny synthetic files with the same layouts
(full factor grids, 1-4 pixel images): factors, lazy images, the sampling protocol."""
import numpy as np
import pytest

from fastdis.datasets import (GroundTruthData, load_cars3d, load_dsprites, load_mpi3d,
                              load_shapes3d, load_smallnorb)


def _grid(sizes):
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)


@pytest.fixture(scope="module")
def dsprites_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("dsprites")
    sizes = [1, 3, 6, 40, 32, 32]
    classes = _grid(sizes)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 2, (len(classes), 2, 2), dtype=np.uint8)
    values = classes.astype(float) / 10
    np.savez(d / "stored.npz", imgs=imgs, latents_classes=classes, latents_values=values)
    np.savez_compressed(d / "compressed.npz", imgs=imgs, latents_classes=classes,
                        latents_values=values)
    return d, classes, imgs


@pytest.mark.parametrize("name", ["stored.npz", "compressed.npz"])
def test_dsprites(dsprites_files, name):
    d, classes, imgs = dsprites_files
    data = load_dsprites(d / name)
    assert data.factor_names == ["shape", "scale", "orientation", "posX", "posY"]
    assert data.factor_sizes == [3, 6, 40, 32, 32] and len(data) == 737_280
    np.testing.assert_array_equal(data.factors, classes[:, 1:])
    assert isinstance(data.images, np.memmap) == (name == "stored.npz")
    rows = np.array([5, 0, 737_279, 12345])
    np.testing.assert_array_equal(data.images[rows], imgs[rows])
    factors, images = data.sample(50, random_state=1)
    np.testing.assert_array_equal(images, imgs[data.rows(factors)])
    np.testing.assert_array_equal(data.factors[data.rows(factors)], factors)


def test_dsprites_refuses_non_binary_images(tmp_path):
    classes = _grid([1, 3, 6, 40, 32, 32])
    np.savez_compressed(tmp_path / "bad.npz", imgs=np.full((len(classes), 1, 1), 7, np.uint8),
                        latents_classes=classes)
    with pytest.raises(ValueError, match="not binary"):
        load_dsprites(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", images=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="no array 'imgs'"):
        load_dsprites(tmp_path / "other.npz")


def test_shapes3d(tmp_path):
    h5py = pytest.importorskip("h5py")
    sizes = [10, 10, 10, 8, 4, 15]
    classes = _grid(sizes)
    values = [np.linspace(0, 0.9, 10)] * 3 + [np.linspace(0.75, 1.25, 8), np.arange(4.0),
                                             np.linspace(-30, 30, 15)]
    labels = np.stack([values[k][classes[:, k]] for k in range(6)], axis=1)
    images = (np.arange(len(classes))[:, None, None, None] % 251).astype(np.uint8) * \
        np.ones((1, 1, 1, 3), np.uint8)
    order = np.random.default_rng(0).permutation(len(classes))  # rows need not be in grid order
    with h5py.File(tmp_path / "3dshapes.h5", "w") as f:
        f.create_dataset("images", data=images[order])
        f.create_dataset("labels", data=labels[order])
    data = load_shapes3d(tmp_path / "3dshapes.h5")
    assert data.factor_sizes == sizes and data.factor_names[0] == "floor_hue"
    np.testing.assert_array_equal(data.factors, classes[order])
    factors = np.array([[0, 0, 0, 0, 0, 0], [9, 9, 9, 7, 3, 14], [3, 1, 4, 1, 2, 6]])
    expected = images[(factors * np.cumprod([1] + sizes[:0:-1])[::-1]).sum(1)]
    np.testing.assert_array_equal(data.observations(factors), expected)


def test_mpi3d(tmp_path):
    sizes = [6, 6, 2, 3, 3, 40, 40]
    n = int(np.prod(sizes))
    images = (np.arange(n) % 253).astype(np.uint8).reshape(n, 1, 1, 1)
    np.savez(tmp_path / "mpi3d_toy.npz", images=images)
    data = load_mpi3d(tmp_path / "mpi3d_toy.npz")
    assert isinstance(data.images, np.memmap) and data.factor_sizes == sizes
    np.testing.assert_array_equal(data.factors[[0, 1, 40, n - 1]],
                                  [[0] * 7, [0] * 6 + [1], [0] * 5 + [1, 0], [5, 5, 1, 2, 2, 39, 39]])
    np.testing.assert_array_equal(data.observations([[5, 5, 1, 2, 2, 39, 39]]), images[[n - 1]])
    np.savez(tmp_path / "short.npz", images=images[:10])
    with pytest.raises(ValueError, match="factor grid"):
        load_mpi3d(tmp_path / "short.npz")


def test_protocol_errors():
    data = GroundTruthData(np.arange(6), _grid([2, 3]), ["a", "b"], [2, 3])
    with pytest.raises(ValueError, match="shape"):
        data.rows([[0, 1, 2]])
    with pytest.raises(ValueError, match="outside"):
        data.rows([[2, 0]])
    partial = GroundTruthData(np.arange(5), _grid([2, 3])[:5], ["a", "b"], [2, 3])
    with pytest.raises(ValueError, match="no row"):
        partial.rows([[1, 2]])
    with pytest.raises(ValueError, match="n must be"):
        data.sample_factors(0)
    assert "a=2, b=3" in repr(data)


def _norb_file(path, array):
    magic = {np.uint8: 507333717, np.int32: 507333716}[array.dtype.type]
    with open(path, "wb") as f:
        f.write(np.array([magic, array.ndim], dtype="<i4").tobytes())
        dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
        f.write(np.array(dims, dtype="<i4").tobytes())
        f.write(array.astype(array.dtype.newbyteorder("<")).tobytes())


def test_smallnorb(tmp_path):
    sizes = [5, 10, 9, 18, 6]
    grid = _grid(sizes)
    rng = np.random.default_rng(2)
    halves = [grid[grid[:, 1] % 2 == 0], grid[grid[:, 1] % 2 == 1]]  # instances split in two
    images = []
    chunks = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")
    for c, chunk in enumerate(chunks):
        rows = halves[c] = halves[c][rng.permutation(len(halves[c]))]  # any row order
        pixels = rng.integers(0, 256, (len(rows), 2, 3, 2), dtype=np.uint8)
        images.append(pixels[:, 0])
        info = np.column_stack([rows[:, 1], rows[:, 2], rows[:, 3] * 2, rows[:, 4]]).astype(np.int32)
        _norb_file(tmp_path / f"smallnorb-{chunk}-dat.mat", pixels)
        _norb_file(tmp_path / f"smallnorb-{chunk}-cat.mat", rows[:, 0].astype(np.int32))
        _norb_file(tmp_path / f"smallnorb-{chunk}-info.mat", info)
    data = load_smallnorb(tmp_path)
    assert data.factor_sizes == sizes and len(data) == 48_600
    np.testing.assert_array_equal(data.factors, np.concatenate(halves))
    every = np.concatenate(images)
    pick = np.array([0, 24_299, 24_300, 48_599, 7])
    np.testing.assert_array_equal(data.images[pick], every[pick])
    assert data.images[3].shape == (3, 2)
    factors, obs = data.sample(20, random_state=0)
    np.testing.assert_array_equal(obs, every[data.rows(factors)])
    (tmp_path / "smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat").write_bytes(b"\0" * 12)
    with pytest.raises(ValueError, match="magic number"):
        load_smallnorb(tmp_path)


def test_cars3d(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(3)
    cars = [rng.integers(0, 256, (2, 2, 3, 24, 4), dtype=np.uint8) for _ in range(3)]
    for i, im in enumerate(cars):
        savemat(tmp_path / f"car_{i:03d}_mesh.mat", {"im": im})
    data = load_cars3d(tmp_path)
    assert data.factor_sizes == [4, 24, 3] and len(data) == 288
    # the row of (elevation e, azimuth a, car i) holds im[..., a, e] of car i
    for e, a, i in [(0, 0, 0), (3, 23, 2), (1, 5, 1)]:
        row = data.rows([[e, a, i]])[0]
        np.testing.assert_array_equal(data.images[row], cars[i][:, :, :, a, e])
    np.testing.assert_array_equal(data.observations([[2, 7, 1], [0, 1, 0]]),
                                  [cars[1][:, :, :, 7, 2], cars[0][:, :, :, 1, 0]])
    with pytest.raises(ValueError, match="no .mat files"):
        load_cars3d(tmp_path / "nowhere")

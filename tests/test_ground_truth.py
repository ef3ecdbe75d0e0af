"""Readers of the standard ground-truth files, on tiny synthetic files with the same layouts
(full factor grids, 1-4 pixel images): factors, lazy images, the sampling protocol."""
import zipfile

import numpy as np
import pytest

from fastdis.datasets import GroundTruthData, load_dsprites, load_mpi3d, load_shapes3d


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

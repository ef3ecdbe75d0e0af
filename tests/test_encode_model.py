"""encode(): an encoder run over data in batches; codes, or means and variances, in order."""
import numpy as np
import pytest

import fastdis


class Normal:
    """A stand-in for torch.distributions.Normal: mean and stddev attributes."""

    def __init__(self, mean, stddev):
        self.mean, self.stddev = mean, stddev


def test_point_encoder_on_an_array_in_batches():
    x = np.random.default_rng(0).random((1001, 4, 4))
    calls = []

    def encoder(batch):
        calls.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :3] * 2.0

    codes = fastdis.encode(encoder, x, batch_size=100)
    np.testing.assert_array_equal(codes, x.reshape(1001, -1)[:, :3] * 2.0)
    assert calls == [100] * 10 + [1]


def test_distributions_and_log_variance_pairs():
    x = np.random.default_rng(1).normal(size=(50, 3))
    mean, var = fastdis.encode(lambda b: Normal(b, np.abs(b) + 0.1), x, batch_size=7)
    np.testing.assert_array_equal(mean, x)
    np.testing.assert_allclose(var, (np.abs(x) + 0.1) ** 2)
    mean, var = fastdis.encode(lambda b: (b, np.log(np.abs(b) + 0.1)), x, batch_size=16)
    np.testing.assert_allclose(var, np.abs(x) + 0.1)
    report = fastdis.evaluate(np.arange(50)[:, None] % 5, mean, ["informativeness"], var=var)
    assert np.isfinite(report["informativeness"])


def test_iterables_of_labelled_batches():
    x = np.arange(40.0).reshape(20, 2)
    loader = [(x[i:i + 6], np.zeros(len(x[i:i + 6]))) for i in range(0, 20, 6)]
    np.testing.assert_array_equal(fastdis.encode(lambda b: b, loader), x)
    dicts = [{"image": x[i:i + 5], "label": None} for i in range(0, 20, 5)]
    np.testing.assert_array_equal(fastdis.encode(lambda b: b, dicts), x)


def test_bad_uses_are_refused():
    x = np.zeros((10, 2))
    with pytest.raises(TypeError, match="encoder must be callable"):
        fastdis.encode(3, x)
    with pytest.raises(TypeError, match="data must be"):
        fastdis.encode(lambda b: b, 3)
    with pytest.raises(ValueError, match="batch_size"):
        fastdis.encode(lambda b: b, x, batch_size=0)
    with pytest.raises(ValueError, match=r"\(mean, log-variance\)"):
        fastdis.encode(lambda b: (b, b, b), x)
    with pytest.raises(ValueError, match="nothing to encode"):
        fastdis.encode(lambda b: b, [])
    with pytest.raises(TypeError, match="must be numbers"):
        fastdis.encode(lambda b: np.array(["a"] * len(b)), x)


def test_torch_module_runs_in_eval_mode_and_is_restored():
    torch = pytest.importorskip("torch")

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)
            self.dropout = torch.nn.Dropout(0.5)

        def forward(self, x):
            h = self.dropout(self.linear(x.float()))
            return torch.distributions.Normal(h, torch.ones_like(h))

    enc = Encoder()
    enc.train()
    x = torch.randn(30, 4)
    mean, var = fastdis.encode(enc, torch.utils.data.TensorDataset(x, torch.zeros(30)),
                               batch_size=8)
    with torch.no_grad():
        expected = enc.linear(x).numpy()
    np.testing.assert_allclose(mean, expected, rtol=1e-5, atol=1e-7)  # no dropout: eval mode
    assert enc.training and np.allclose(var, 1.0)

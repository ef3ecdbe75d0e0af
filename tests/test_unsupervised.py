"""Unsupervised scores and UDR against disentanglement_lib's formulas written plainly here
(its unsupervised_metrics.py and udr.py: np.cov, scipy's sqrtm, sklearn's
mutual_info_score per pair, scipy's spearmanr per pair, sklearn's Lasso, its relative
strength), on the golden cases and on models that agree or not."""
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from sklearn.linear_model import Lasso
from sklearn.metrics import mutual_info_score as sk_mutual_info

import fastdis
from conftest import CASES, load_case


def dlib_unsupervised(mus):
    """compute_unsupervised_metrics on mus (n, d), as disentanglement_lib writes it."""
    mus = mus.T.astype(np.float64)  # its mus_train is (num_codes, num_points)
    cov = np.cov(mus)
    tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    sqrtm = scipy.linalg.sqrtm(cov * np.expand_dims(np.diag(cov), axis=1))
    wc = 2 * np.trace(cov) - 2 * np.trace(sqrtm)
    discrete = np.zeros_like(mus, dtype=np.int64)
    for i in range(mus.shape[0]):  # _histogram_discretize, 20 bins
        discrete[i] = np.digitize(mus[i], np.histogram(mus[i], 20)[1][:-1])
    d = mus.shape[0]
    mi = np.array([[sk_mutual_info(discrete[i], discrete[j]) for j in range(d)] for i in range(d)])
    np.fill_diagonal(mi, 0)
    return dict(gaussian_total_correlation=tc, gaussian_wasserstein_correlation=np.real(wc),
                gaussian_wasserstein_correlation_norm=np.real(wc) / np.sum(np.diag(cov)),
                mutual_info_score=np.sum(mi) / (d ** 2 - d))


@pytest.mark.parametrize("case", CASES)
def test_unsupervised_scores_equal_dlib_formulas_on_golden_cases(case):
    _, codes = load_case(case)
    expected = dlib_unsupervised(codes)
    got = fastdis.unsupervised_scores(codes)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-10), key


def test_closed_forms():
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    z = rng.multivariate_normal([0, 0], cov, size=200_000)
    # TC of a bivariate Gaussian: -0.5 log(1 - rho^2)
    rho2 = 0.6 ** 2 / 2.0
    assert fastdis.gaussian_total_correlation(z) == pytest.approx(-0.5 * np.log(1 - rho2), rel=0.02)
    independent = rng.normal(size=(200_000, 3)) * [1.0, 3.0, 0.1]
    assert abs(fastdis.gaussian_total_correlation(independent)) < 1e-4
    assert abs(fastdis.gaussian_wasserstein_correlation(independent)) < 1e-3
    duplicate = np.c_[independent[:, 0], independent[:, 0]]
    assert fastdis.gaussian_total_correlation(duplicate) == float("inf")
    # Sigma = s^2 [[1, 1], [1, 1]]: W = 4 s^2 - 2 sqrt(2) s^2, over tr Sigma = 2 s^2
    assert fastdis.gaussian_wasserstein_correlation(duplicate, normalized=True) == \
        pytest.approx(2.0 - np.sqrt(2.0))
    with pytest.raises(ValueError, match="at least 2 codes"):
        fastdis.mutual_info_score(independent[:, :1])


def dlib_udr(models, method, kl, kl_threshold=0.01, seed=0):
    """compute_udr_sklearn's scoring on the representations, as disentanglement_lib writes it."""
    reps = []
    for m, k in zip(models, kl):
        s = (m - m.mean(0)) / np.where(m.std(0) > 0, m.std(0), 1.0)
        reps.append(s * np.greater(k, 0.01))
    mask = [k > kl_threshold for k in kl]
    M = len(models)
    dis = np.zeros((M, M, 1))
    for i in range(M):
        for j in range(M):
            if i == j:
                continue
            if method == "lasso":
                corr = np.transpose(np.absolute(Lasso(random_state=seed, alpha=0.1).fit(
                    reps[i], reps[j]).coef_))
            else:
                corr_y = []
                for a in range(reps[i].shape[1]):
                    corr_y.append(np.stack([scipy.stats.spearmanr(
                        reps[i][:, a], reps[j][:, b], nan_policy="omit")[0]
                        for b in range(reps[j].shape[1])]))
                corr = np.transpose(np.absolute(np.stack(corr_y, axis=1)))
            corr = corr[mask[i], ...][..., mask[j]]
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.nanmean(np.nan_to_num(np.power(np.ndarray.max(corr, axis=0), 2) /
                                             np.sum(corr, axis=0), 0))
                y = np.nanmean(np.nan_to_num(np.power(np.ndarray.max(corr, axis=1), 2) /
                                             np.sum(corr, axis=1), 0))
            dis[i, j] = (x + y) / 2
    return np.array([np.median(np.delete(dis[:, i], i)) for i in range(M)]), dis[..., 0]


def _models(seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(1500, 4))
    mixing = rng.normal(size=(4, 4))
    return [z + 0.05 * rng.normal(size=z.shape),
            z[:, [3, 1, 0, 2]] * [1.0, -1.5, 0.7, 2.0] + 0.05 * rng.normal(size=z.shape),
            z @ mixing + 0.05 * rng.normal(size=z.shape),
            rng.normal(size=z.shape)]


@pytest.mark.parametrize("method", ["lasso", "spearman"])
@pytest.mark.parametrize("with_kl", [False, True])
def test_udr_equals_dlib_formulas(method, with_kl):
    models = _models()
    kl = [np.array([1.0, 0.005, 2.0, 0.5]), np.ones(4), np.array([0.3, 0.3, 0.0, 1.0]),
          np.ones(4)] if with_kl else [np.ones(4)] * 4
    with warnings.catch_warnings():  # spearmanr on a column the KL filter zeroed
        warnings.simplefilter("ignore")
        scores, pairwise = dlib_udr(models, method, kl)
    got = fastdis.udr(models, method=method, kl=kl if with_kl else None, random_state=0)
    np.testing.assert_allclose(got.model_scores, scores, rtol=1e-9, atol=1e-12)
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(got.pairwise[off], pairwise[off], rtol=1e-9, atol=1e-12)
    assert np.isnan(np.diag(got.pairwise)).all()
    if not with_kl:
        # the two models that are the same up to permutation and scale agree, the noise
        # model agrees with none
        assert got.pairwise[0, 1] > 0.85 and got.pairwise[1, 0] > 0.85
        assert got.pairwise[3, :3].max() < 0.5 and got.pairwise[:3, 3].max() < 0.5


def test_udr_bad_input():
    z = np.zeros((10, 2)) + np.arange(10)[:, None]
    with pytest.raises(TypeError, match="at least two models"):
        fastdis.udr([z])
    with pytest.raises(ValueError, match="same inputs"):
        fastdis.udr([z, z[:5]])
    with pytest.raises(ValueError, match="one value per code"):
        fastdis.udr([z, z], kl=[np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="method must be one of"):
        fastdis.udr([z, z], method="pearson")

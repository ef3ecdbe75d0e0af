"""Predictor metrics: fastdis beside disentanglement_lib's procedures, written plainly.

The reference procedures do what disentanglement_lib does on an array data set (the way
the golden values were made): its sampling loop draws the training and test points in
batches of 16 (a random row's factors, then a uniform row with those factor values: a
mask over every row per point; arrays grown with np.vstack), then fits one scikit-learn
model per pair (SAP) or per factor (explicitness, DCI), one after the other. fastdis fits
the same models, with the same numbers of rows, on a seeded split, in parallel.

Run with benchmarks/run.py, or:

    pytest benchmarks/bench_predictor.py --benchmark-only -k fastdis
"""
import numpy as np
import pytest

import fastdis
from conftest import benchmark_data


def data(n):
    """K = 5 factors of 10 values, d = 10 codes (the issue's case)."""
    return benchmark_data(n, 777)


def dlib_sample(factors, codes, num, rng, batch_size=16):
    """disentanglement_lib's generate_batch_factor_code on an array data set."""
    n = len(factors)
    zs = fs = None
    done = 0
    while done < num:
        b = min(num - done, batch_size)
        f = factors[rng.randint(n, size=b)]
        rows = [rng.choice(np.flatnonzero((factors == v).all(axis=1))) for v in f]
        z = codes[rows]
        zs, fs = (z, f) if done == 0 else (np.vstack((zs, z)), np.vstack((fs, f)))
        done += b
    return zs, fs


def dlib_sap(factors, codes, n_train=10000, n_test=5000, seed=0):
    from sklearn.svm import LinearSVC

    rng = np.random.RandomState(seed)
    z_tr, f_tr = dlib_sample(factors, codes, n_train, rng)
    z_te, f_te = dlib_sample(factors, codes, n_test, rng)
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            clf = LinearSVC(C=0.01, class_weight="balanced").fit(z_tr[:, i:i + 1], f_tr[:, j])
            scores[i, j] = np.mean(clf.predict(z_te[:, i:i + 1]) == f_te[:, j])
    top = np.sort(scores, axis=0)
    return float(np.mean(top[-1] - top[-2]))


def dlib_explicitness(factors, codes, n_train=10000, n_test=5000, seed=0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import MultiLabelBinarizer, StandardScaler

    rng = np.random.RandomState(seed)
    z_tr, f_tr = dlib_sample(factors, codes, n_train, rng)
    z_te, f_te = dlib_sample(factors, codes, n_test, rng)
    scaler = StandardScaler().fit(z_tr)
    z_tr, z_te = scaler.transform(z_tr), scaler.transform(z_te)
    test = []
    for k in range(factors.shape[1]):
        clf = LogisticRegression().fit(z_tr, f_tr[:, k])
        mlb = MultiLabelBinarizer()
        roc_auc_score(mlb.fit_transform(f_tr[:, k, None]), clf.predict_proba(z_tr))
        test.append(roc_auc_score(mlb.fit_transform(f_te[:, k, None]), clf.predict_proba(z_te)))
    return float(np.mean(test))


def dlib_dci_informativeness(factors, codes, n_train, n_test, seed=0):
    """compute_dci's fits; returns the test accuracy (its informativeness_test)."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.RandomState(seed)
    z_tr, f_tr = dlib_sample(factors, codes, n_train, rng)
    z_te, f_te = dlib_sample(factors, codes, n_test, rng)
    importance, test = np.zeros((codes.shape[1], factors.shape[1])), []
    for k in range(factors.shape[1]):
        model = GradientBoostingClassifier().fit(z_tr, f_tr[:, k])
        importance[:, k] = model.feature_importances_
        np.mean(model.predict(z_tr) == f_tr[:, k])
        test.append(np.mean(model.predict(z_te) == f_te[:, k]))
    return float(np.mean(test))


# (impl, metric, N) -> (callable returning the score, rounds)
CASES = {
    ("fastdis", "sap (dlib)", 10**5): (
        lambda f, z: fastdis.sap(f, z, convention="dlib", random_state=0), 3),
    ("reference", "sap (dlib)", 10**5): (dlib_sap, 1),
    ("fastdis", "explicitness (dlib)", 10**5): (
        lambda f, z: fastdis.explicitness(f, z, convention="dlib", random_state=0), 3),
    ("reference", "explicitness (dlib)", 10**5): (dlib_explicitness, 1),
    # same estimator and the same numbers of rows: 9,000 train, 1,000 test
    ("fastdis", "dci (dlib GBT)", 10**4): (
        lambda f, z: fastdis.dci(f, z, convention="dlib", random_state=0).informativeness, 3),
    ("reference", "dci (dlib GBT)", 10**4): (
        lambda f, z: dlib_dci_informativeness(f, z, 9000, 1000), 1),
    ("fastdis", "dci (hist_gradient_boosting)", 10**4): (
        lambda f, z: fastdis.dci(f, z, estimator="hist_gradient_boosting",
                                 random_state=0).informativeness, 3),
    ("fastdis", "dci (hist_gradient_boosting)", 10**6): (
        lambda f, z: fastdis.dci(f, z, estimator="hist_gradient_boosting",
                                 random_state=0).informativeness, 1),
    ("fastdis", "dci (default: lasso)", 10**6): (
        lambda f, z: fastdis.dci(f, z, random_state=0).informativeness, 1),
}


@pytest.mark.parametrize("impl,metric,n", list(CASES), ids=lambda x: str(x))
def test_predictor(benchmark, impl, metric, n):
    factors, codes = data(n)
    fn, rounds = CASES[impl, metric, n]
    benchmark.extra_info.update(impl=impl, metric=metric, n=n)
    value = benchmark.pedantic(fn, args=(factors, codes), rounds=rounds, iterations=1)
    benchmark.extra_info["value"] = value
    assert 0.0 <= value <= 1.0

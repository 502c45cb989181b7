"""PLS neuron models, their readout, Lasso paths and the diverseSet, on cases with known answers."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import nnls
from sklearn.linear_model import Lasso

from signseg import zoo
from signseg.errors import InvalidInputError
from signseg.neurons import diverse_set, lasso, models


def _neurons(n, sessions=None):
    sessions = sessions or [f"s{i}" for i in range(n)]
    return pd.DataFrame({"neuron": [f"n{i}" for i in range(n)], "area": ["IT"] * n,
                         "session": sessions, "monkey": ["C"] * n})


def test_pls_recovers_a_planted_linear_neuron():
    rng = np.random.default_rng(0)
    train, test = models.split_images(160, 0.2, seed=0)
    # training features with centred, orthogonal columns of equal norm: then the one PLS
    # component, the covariance direction X^T y, is exactly the planted direction
    a = rng.normal(size=(128, 40))
    q, _ = np.linalg.qr(a - a.mean(0))
    x = np.empty((160, 40))
    x[train] = q * np.sqrt(128) + 2.0
    x[test] = rng.normal(size=(32, 40)) + 2.0
    direction = rng.normal(size=40)
    y = x @ direction + 5.0
    noise = rng.normal(size=160) * 3 + 20  # a second neuron with no linear relation
    fitted = models.fit_pls(x, np.stack([y, noise], axis=1), _neurons(2), seed=0, progress=False)
    assert np.array_equal(fitted.train, train) and len(fitted.test) == 32
    np.testing.assert_allclose(fitted.weights[0], direction, rtol=1e-8)
    assert fitted.intercepts[0] == pytest.approx(5.0)
    assert fitted.table.loc[0, "r2_test"] == pytest.approx(1.0) and fitted.table.loc[1, "r2_test"] < 0.2
    # weights and intercept act on raw features: predictions are x @ w + b
    np.testing.assert_allclose(fitted.predict(x[:3])[:, 0], x[:3] @ fitted.weights[0] + fitted.intercepts[0])
    assert fitted.table.loc[0, "ratio"] == pytest.approx(
        fitted.weights[0][fitted.weights[0] > 0].sum() / -fitted.weights[0][fitted.weights[0] < 0].sum())


def test_one_component_pls_is_the_covariance_direction():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 6))
    y = rng.normal(size=50)
    fitted = models.fit_pls(x, y[:, None], _neurons(1), test_fraction=0.2, seed=3, progress=False)
    xc = x[fitted.train] - x[fitted.train].mean(0)
    yc = y[fitted.train] - y[fitted.train].mean()
    w = xc.T @ yc  # the first PLS weight; the coefficient is w * (t.y / t.t) with t = Xc w
    t = xc @ w
    np.testing.assert_allclose(fitted.weights[0], w * (t @ yc) / (t @ t), rtol=1e-8)


def test_best_per_session_and_constant_neurons():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 5))
    good = x[:, 0] * 2
    y = np.stack([good + rng.normal(size=40), good + 0.01 * rng.normal(size=40), np.full(40, 3.0)], 1)
    fitted = models.fit_pls(x, y, _neurons(3, ["a", "a", "b"]), progress=False)
    assert np.isnan(fitted.table.loc[2, "r2_test"]) and not fitted.weights[2].any()
    assert fitted.intercepts[2] == 3.0
    best = models.best_per_session(fitted)
    assert best.table["neuron"].tolist() == ["n1"]  # session b has no finite r^2
    with pytest.raises(InvalidInputError, match="share n_images"):
        models.fit_pls(x[:10], y, _neurons(3), progress=False)


def test_split_is_seeded_and_disjoint():
    train, test = models.split_images(160, 0.2, seed=4)
    assert len(test) == 32 and not set(train) & set(test) and len(train) + len(test) == 160
    assert np.array_equal(test, models.split_images(160, 0.2, seed=4)[1])


def test_readout_wraps_the_backbone_for_visualize(tmp_path):
    backbone = zoo.load("procedural_resnet8", pretrained=False, seed=0)
    width = backbone.readout_layer().in_features
    rng = np.random.default_rng(0)
    fitted = models.NeuronModels(rng.normal(size=(2, width)), np.array([1.0, -2.0]), _neurons(2),
                                 np.arange(4), np.arange(4, 6))
    readout = models.NeuronReadout(backbone, fitted)
    images = torch.rand(3, 3, 32, 32)
    features = backbone.features(images, crop=False).double().numpy()
    np.testing.assert_allclose(readout.predict(images), fitted.predict(features), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(readout.readout_layer().weight.detach().numpy(), fitted.weights, rtol=1e-6)
    # the module's forward is the readout of the penultimate features
    with torch.no_grad():
        out = readout.model(backbone.entry.preprocessing(images, crop=False)).double().numpy()
    np.testing.assert_allclose(out, readout.predict(images), rtol=1e-4, atol=1e-4)
    # visualize() ablates and evolves it like a class readout; the store's key holds the weights
    from signseg.visualize import VisualizationConfig, visualize

    config = VisualizationConfig(units=(1,), alphas=(0.0, 1.0), signs=("positive",), generators=("fourier",),
                                 generator_options={"fourier": {"size": 8}}, restarts=1, iterations=2, popsize=4)
    vis = visualize(readout, config, root=tmp_path, progress=False)
    table = vis.table()
    assert sorted(table["sign"]) == ["control", "positive"]
    control = table[table["sign"] == "control"].iloc[0]
    image = torch.from_numpy(vis.images(table[table["sign"] == "control"])).permute(0, 3, 1, 2).float() / 255
    assert readout.predict(image)[0, 1] == pytest.approx(control["best_activation"], rel=0.05, abs=0.05)
    # shown back: the modeled neuron's response, the prediction, z-scores and the population
    from signseg.neurons import analysis

    def respond(images):  # neuron 0 fires at 5/s whatever it sees, neuron 1 at twice model 1's prediction
        return np.stack([np.full(len(images), 5.0), 2 * readout.predict(images)[:, 1]], axis=1)

    back = analysis.shown_back(vis, respond, readout.predict, [0, 1], np.array([[4.0, 0.0], [6.0, 2.0]]),
                               np.array([[0.0, 1.0], [2.0, 3.0]]))
    np.testing.assert_allclose(back["actual"], 2 * back["predicted"], rtol=1e-6)
    np.testing.assert_allclose(back["actual_z"], (back["actual"] - 1.0) / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(back["predicted_z"], (back["predicted"] - 2.0) / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(back["population"], back["actual_z"] / 2, rtol=1e-6)  # neuron 0's z is 0
    other = models.NeuronReadout(backbone, fitted.subset([1, 0]))
    assert visualize(other, config, root=tmp_path, progress=False).store.path != vis.store.path
    with pytest.raises(InvalidInputError, match="fit them on this backbone"):
        models.NeuronReadout(backbone, fitted.subset([0]).__class__(
            np.zeros((1, width + 1)), np.zeros(1), _neurons(1), np.arange(2), np.arange(2)))


def test_positive_lasso_is_non_negative_and_agrees_with_sklearn_and_nnls():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 6))
    y = x @ np.array([1.5, -2.0, 0.0, 0.7, 0.0, -0.3]) + 0.1 * rng.normal(size=80)
    x, y = x - x.mean(0), y - y.mean()
    alphas = [0.3, 0.05, 1e-6]
    path = lasso.lasso_weights(x, y, alphas, positive=True)
    assert (path >= 0).all() and path.shape == (3, 6)
    for alpha, w in zip(sorted(alphas, reverse=True), path):
        reference = Lasso(alpha=alpha, positive=True, fit_intercept=False, tol=1e-10, max_iter=100000).fit(x, y)
        np.testing.assert_allclose(w, reference.coef_, atol=1e-5)
    np.testing.assert_allclose(path[-1], nnls(x, y)[0], atol=1e-4)  # alpha -> 0: least squares >= 0
    free = lasso.lasso_weights(x, y, alphas, positive=False)
    np.testing.assert_allclose(free[-1], np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-4)
    assert free[-1][1] < -1.9 and free[-1][5] < -0.2  # the planted negative inputs
    assert not lasso.lasso_weights(x, y, [lasso.alpha_max(x, y) * 1.0001], positive=False).any()


def test_negative_inputs_improve_held_out_fits_of_a_mixed_neuron():
    rng = np.random.default_rng(1)
    x = np.maximum(rng.normal(size=(160, 30)), 0)
    w = np.zeros(30)
    w[:5], w[5:10] = 1.0, -1.0
    y = x @ w + 0.2 * rng.normal(size=160)
    table = lasso.lasso_comparison(x, y[:, None], _neurons(1), [0.01, 0.1], folds=5, progress=False)
    at = table.set_index(["constraint", "alpha"])
    assert at.loc[("unconstrained", 0.01), "r2_test"] > at.loc[("positive", 0.01), "r2_test"] + 0.3
    assert at.loc[("positive", 0.01), "negative"] == 0
    assert set(table.columns) >= {"neuron", "r2_train", "r2_test", "nonzero"}
    with pytest.raises(InvalidInputError, match="folds"):
        lasso.lasso_path_cv(x, y, folds=1)


def test_diverse_set_takes_one_image_per_cluster():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 20)) * 20
    labels = np.repeat(np.arange(5), 30)
    embeddings = centres[labels] + rng.normal(size=(150, 20))
    chosen = diverse_set.diverse_set(embeddings, k=5, variance=0.95, seed=0)
    assert sorted(labels[chosen.indices]) == [0, 1, 2, 3, 4]
    assert chosen.explained >= 0.95 and chosen.coordinates.shape == (150, chosen.components)
    # the five clusters span four principal directions: almost all variance in <= 4 components
    assert chosen.components <= 4
    many = diverse_set.diverse_set(embeddings, k=40, seed=0)
    assert len(set(many.indices)) == 40
    cover = diverse_set.coverage(many.coordinates, many.indices, random_sets=10)
    assert cover["chosen"] < cover["random"]
    with pytest.raises(InvalidInputError, match="k must be"):
        diverse_set.diverse_set(embeddings, k=151)

"""nn.Classifier and nn.Regressor: scikit-learn's estimator checks on both backends, and what users of
MLPClassifier / MLPRegressor rely on (labels, curves, weights, partial_fit, warm_start, pipelines)."""
import copy
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nn  # noqa: E402

BACKENDS = ["compiled", "reference"]
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([nn.Classifier(backend=b) for b in BACKENDS] + [nn.Regressor(backend=b) for b in BACKENDS])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def blobs(rng, n=150, n_classes=3, n_features=4):
    centers = rng.normal(scale=5, size=(n_classes, n_features))
    ids = rng.integers(0, n_classes, size=n)
    return centers[ids] + rng.normal(size=(n, n_features)), ids


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array([-5, 10, 7])])
def test_any_labels_come_back_as_given(rng, backend, labels):
    X, ids = blobs(rng)
    y = labels[ids]
    clf = nn.Classifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0, backend=backend).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert set(clf.predict(X)) <= set(labels) and clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


def test_binary_classification_uses_one_sigmoid_output(rng):
    X, ids = blobs(rng, n_classes=2)
    y = np.array(["no", "yes"])[ids]
    clf = nn.Classifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, y)
    assert clf.network_.sizes[-1] == 1 and clf.network_.output == "sigmoid"
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], clf.network_.forward(X)[:, 0])
    np.testing.assert_array_equal(clf.predict(X), np.where(proba[:, 1] > 0.5, "yes", "no"))


def test_continuous_labels_are_refused_as_scikit_learn_does(rng):
    X, _ = blobs(rng)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        nn.Classifier().fit(X, rng.normal(size=len(X)))


def test_one_class_is_an_error_that_says_so(rng):
    X, _ = blobs(rng)
    with pytest.raises(ValueError, match="at least 2 classes"):
        nn.Classifier().fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_regressor_one_or_many_targets(rng, backend):
    X = rng.normal(size=(200, 3))
    Y = np.c_[X @ [1.0, -2.0, 0.5], np.sin(X[:, 0])]
    one = nn.Regressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0, backend=backend).fit(X, Y[:, 0])
    assert one.predict(X).shape == (200,) and one.score(X, Y[:, 0]) > 0.9
    many = nn.Regressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0, backend=backend).fit(X, Y)
    assert many.predict(X).shape == (200, 2) and many.score(X, Y) > 0.9


def test_fitted_attributes(rng):
    pandas = pytest.importorskip("pandas")
    X, ids = blobs(rng)
    frame = pandas.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = nn.Classifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(frame, ids)
    assert clf.n_features_in_ == 4 and list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    assert clf.n_iter_ == len(clf.loss_curve_) <= 20
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_loss_curve_ is None and clf.validation_scores_ is None
    assert isinstance(clf.network_, nn.Network) and clf.network_.sizes == [4, 8, 3]
    stopped = nn.Classifier(hidden_layer_sizes=(8,), max_iter=500, early_stopping=True, n_iter_no_change=3, tol=1e-2,
                            random_state=0).fit(X, ids)
    assert stopped.n_iter_ < 500
    assert len(stopped.validation_loss_curve_) == len(stopped.validation_scores_) == stopped.n_iter_
    assert all(0 <= s <= 1 for s in stopped.validation_scores_) and stopped.best_loss_ is None


def test_training_stops_when_the_loss_stops_improving(rng):
    X, ids = blobs(rng)
    clf = nn.Classifier(hidden_layer_sizes=(8,), max_iter=10_000, tol=1e-2, n_iter_no_change=2, random_state=0)
    clf.fit(X, ids)
    assert clf.n_iter_ < 10_000
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        nn.Classifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, ids)


@pytest.mark.parametrize("backend", BACKENDS)
def test_class_weight_is_sample_weight_by_class(rng, backend):
    X, ids = blobs(rng)
    y = np.array(["a", "b", "c"])[ids]
    params = dict(hidden_layer_sizes=(8,), max_iter=10, random_state=0, backend=backend)
    for class_weight in ("balanced", {"a": 3.0, "c": 0.5}):
        by_class = nn.Classifier(class_weight=class_weight, **params).fit(X, y)
        by_sample = nn.Classifier(**params).fit(X, y, sample_weight=compute_sample_weight(class_weight, y))
        np.testing.assert_allclose(by_class.network_.theta, by_sample.network_.theta, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="class_weight has label 'z'"):
        nn.Classifier(class_weight={"z": 2.0}, **params).fit(X, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_fit_goes_on_exactly_where_it_stopped(rng, backend):
    """Three partial_fit calls are three epochs of one training, even across a pickle; they equal a
    Trainer fit over the same rows with the same seeds, epoch by epoch."""
    X, ids = blobs(rng, n=96)
    y = np.array(["a", "b", "c"])[ids]
    params = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=0, backend=backend)
    straight = nn.Classifier(**params)
    straight.partial_fit(X, y, classes=["a", "b", "c"])
    resumed = pickle.loads(pickle.dumps(straight))
    for est in (straight, resumed):
        est.partial_fit(X, y)
        est.partial_fit(X, y)
    np.testing.assert_array_equal(straight.network_.theta, resumed.network_.theta)
    assert straight.n_iter_ == 3 and len(straight.loss_curve_) == 3
    # The same training by hand: the estimator's seeds, one Trainer, three epochs.
    seeds = np.random.RandomState(0).randint(0, 2**31 - 1, size=2)
    net = nn.Network([4, 8, 3], activation="relu", output="softmax", seed=int(seeds[0]), backend=backend)
    trainer = nn.Trainer(net, optimizer=nn.Adam(1e-3, weight_decay=1e-4), batch_size=32, seed=int(seeds[1]))
    history = trainer.fit(X, ids, epochs=3, verbose=False)
    np.testing.assert_array_equal(straight.network_.theta, net.theta)
    np.testing.assert_array_equal(straight.loss_curve_, history.loss)


def test_partial_fit_needs_classes_first_and_refuses_new_labels(rng):
    X, ids = blobs(rng)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        nn.Classifier().partial_fit(X, ids)
    clf = nn.Classifier(hidden_layer_sizes=(4,)).partial_fit(X, ids, classes=[0, 1, 2, 3])
    assert clf.network_.sizes[-1] == 4  # a class not seen yet still has its output
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, ids + 10)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(X[:, :3], ids)


def test_warm_start_continues_and_cold_start_restarts(rng):
    X, ids = blobs(rng)
    warm = nn.Classifier(hidden_layer_sizes=(8,), max_iter=3, tol=0, n_iter_no_change=100, random_state=0,
                         warm_start=True)
    warm.fit(X, ids).fit(X, ids)
    assert warm.n_iter_ == 6 and len(warm.loss_curve_) == 6
    six = nn.Classifier(hidden_layer_sizes=(8,), max_iter=6, tol=0, n_iter_no_change=100, random_state=0).fit(X, ids)
    np.testing.assert_array_equal(warm.network_.theta, six.network_.theta)
    cold = nn.Classifier(hidden_layer_sizes=(8,), max_iter=3, tol=0, n_iter_no_change=100, random_state=0)
    cold.fit(X, ids).fit(X, ids)
    assert cold.n_iter_ == 3


def test_fit_leaves_an_optimizer_parameter_untouched(rng):
    X, ids = blobs(rng)
    adam = nn.Adam(0.01)
    clf = nn.Classifier(hidden_layer_sizes=(8,), optimizer=adam, max_iter=5, random_state=0).fit(X, ids)
    assert adam.steps == 0 and adam.state == {} and clf._trainer.optimizer is not adam
    assert clf._trainer.optimizer.learning_rate == 0.01
    assert nn.Classifier(optimizer="sgd", learning_rate=0.2)._make_optimizer().learning_rate == 0.2
    with pytest.raises(ValueError, match="optimizer must be one of"):
        nn.Classifier(optimizer="lbfgs").fit(X, ids)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fitted_estimators_pickle_and_copy(rng, backend):
    X, ids = blobs(rng)
    clf = nn.Classifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, backend=backend).fit(X, ids)
    clf.predict(X)
    for clone in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):
        np.testing.assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))
        clone.network_.layers[0].W[...] = 0
        assert not np.array_equal(clone.predict_proba(X), clf.predict_proba(X))


def test_pipeline_grid_search_and_cross_validation(rng):
    X, ids = blobs(rng)
    pipe = make_pipeline(StandardScaler(), nn.Classifier(max_iter=100, learning_rate=0.01, random_state=0))
    search = GridSearchCV(pipe, {"classifier__hidden_layer_sizes": [(4,), (16,)], "classifier__alpha": [0, 1e-3]},
                          cv=3, n_jobs=2).fit(X, ids)
    assert search.best_score_ > 0.8 and len(search.cv_results_["params"]) == 4
    assert cross_val_score(nn.Regressor(max_iter=20, random_state=0), X, X[:, 0] * 2, cv=3).shape == (3,)


def test_import_nn_works_without_scikit_learn_and_says_how_to_get_it():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import nn\n"
            "try:\n    nn.Classifier\nexcept ImportError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "nn-lessons[sklearn]"' in result.stdout


def test_early_stopping_turned_on_between_warm_starts(rng):
    X, ids = blobs(rng)
    clf = nn.Classifier(hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0).fit(X, ids)
    clf.set_params(early_stopping=True, max_iter=5)
    clf.fit(X, ids)
    assert clf.n_iter_ == 3 + len(clf.validation_loss_curve_) and len(clf.validation_scores_) >= 1


def test_a_diverged_fit_records_the_epochs_the_network_kept(rng):
    X = rng.normal(size=(60, 3))
    reg = nn.Regressor(hidden_layer_sizes=(8,), optimizer="sgd", learning_rate=1e6, max_iter=50, random_state=0)
    with pytest.raises(nn.TrainingDiverged) as caught:
        reg.fit(X, X[:, 0] * 100)
    assert reg.n_iter_ == len(reg.loss_curve_) == len(caught.value.history)
    assert np.isfinite(reg.network_.theta).all()


def test_star_import_works_without_scikit_learn():
    code = "import sys; sys.modules['sklearn'] = None\nfrom nn import *\nprint(Network, Trainer)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

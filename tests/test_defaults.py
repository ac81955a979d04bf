"""Defaults a user can trust: what Network(...) and Trainer(net) build and train when nothing is named,
measured against what users compare with (MNIST; scikit-learn's MLPClassifier on its toy sets)."""
import warnings

import numpy as np
import pytest

import nn
from nn.datasets import load_mnist


def test_the_defaults_table():
    net = nn.Network([784, 128, 10])
    assert net.activations == ["relu", "softmax"]
    assert nn.Network([13, 8, 1]).activations == ["relu", "sigmoid"]
    trainer = nn.Trainer(net)
    assert trainer.loss == "cross_entropy" and isinstance(trainer.optimizer, nn.Adam)
    assert trainer.optimizer.learning_rate == 0.001 and trainer.batch_size == 32
    assert nn.Trainer(nn.Network([3, 1])).loss == "binary_cross_entropy"
    assert nn.Trainer(nn.Network([3, 1], output="identity")).loss == "mse"
    assert [nn.SGD().learning_rate, nn.Momentum().learning_rate, nn.RMSprop().learning_rate,
            nn.Adam().learning_rate] == [0.01, 0.01, 0.001, 0.001]


def test_the_lessons_sigmoid_network_is_still_the_blogs():
    net = nn.Network([2, 2, 1], activation="sigmoid")
    assert net.activations == ["sigmoid", "sigmoid"]


def test_combinations_that_cannot_learn_are_refused_or_warned_about_with_the_fix():
    with pytest.raises(ValueError, match="use output='softmax' or loss='mse'"):
        nn.Trainer(nn.Network([4, 3], output="relu"), loss="cross_entropy")
    with pytest.raises(ValueError, match="needs a 'sigmoid' output"):
        nn.Trainer(nn.Network([4, 1], output="identity"), loss="binary_cross_entropy")
    with pytest.warns(UserWarning, match="use loss='cross_entropy'"):
        nn.Trainer(nn.Network([4, 3]), loss="mse")


def test_default_mnist_reaches_90_percent_in_5_epochs():
    X, y = load_mnist()
    X_test, y_test = load_mnist(kind="test")
    net = nn.Network([784, 128, 10], seed=0)
    nn.Trainer(net, seed=0).fit(X, y, epochs=5, verbose=False)
    assert net.score(X_test, y_test) >= 0.90


TOY_SETS = ["load_iris", "load_wine", "load_breast_cancer", "load_digits"]


def against_mlp(name, make_mlp, make_network, classify):
    """The test scores of nn (make_network(seed), the defaults otherwise) and of scikit-learn's MLP
    (make_mlp(seed)) on a toy set, 3 seeds each: the same standardized 70/30 split, the same epochs
    (MLP's n_iter_) and batch size (200, MLP's 'auto')."""
    pytest.importorskip("sklearn")
    from sklearn import datasets
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = getattr(datasets, name)(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y if classify else None)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ours, theirs = [], []
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp = make_mlp(seed).fit(X_train, y_train)
        theirs.append(mlp.score(X_test, y_test))
        net = make_network(X.shape[1], len(np.unique(y_train)), seed)
        nn.Trainer(net, batch_size=min(200, len(X_train)), seed=seed).fit(X_train, y_train, epochs=mlp.n_iter_,
                                                                          verbose=False)
        ours.append(net.score(X_test, y_test))
    return np.mean(ours), np.mean(theirs)


@pytest.mark.parametrize("name", TOY_SETS)
def test_toy_sets_with_the_defaults_match_mlp_classifier(name):
    """hidden 64, every other setting the default: nn within 2 points of MLPClassifier's defaults."""
    pytest.importorskip("sklearn")
    from sklearn.neural_network import MLPClassifier

    ours, theirs = against_mlp(name, lambda seed: MLPClassifier(hidden_layer_sizes=(64,), random_state=seed),
                               lambda n_in, k, seed: nn.Network([n_in, 64, k], seed=seed), classify=True)
    assert ours >= theirs - 0.02, (ours, theirs)


def test_a_regression_on_the_default_one_output_network_says_how_to_build_a_regressor(rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="For a regression, build the network with output='identity'"):
        nn.Trainer(nn.Network([3, 8, 1])).fit(X, X[:, 0] * 10, verbose=False)


def test_diabetes_regression_with_the_defaults_is_mlp_regressors():
    """The fifth toy set is a regression: an identity output and otherwise the defaults, against
    MLPRegressor's defaults. Neither fits the unscaled targets (25 to 346) in 200 epochs (R^2 near -2);
    nn's R^2 stays within 0.3 of MLPRegressor's."""
    pytest.importorskip("sklearn")
    from sklearn.neural_network import MLPRegressor

    ours, theirs = against_mlp("load_diabetes", lambda seed: MLPRegressor(hidden_layer_sizes=(64,), random_state=seed),
                               lambda n_in, k, seed: nn.Network([n_in, 64, 1], output="identity", seed=seed),
                               classify=False)
    assert abs(ours - theirs) < 0.3, (ours, theirs)


def test_call_score_and_classes(tmp_path, rng):
    X = rng.normal(size=(90, 3))
    labels = np.array(["cat", "dog", "emu"])
    ids = rng.integers(0, 3, size=90)
    X += np.eye(3)[ids] * 4
    net = nn.Network([3, 8, 3], seed=0, classes=labels)
    nn.Trainer(net, optimizer=nn.Adam(0.05), seed=0).fit(X, ids, epochs=30, verbose=False)
    np.testing.assert_array_equal(net(X), net.forward(X))
    assert set(net.predict(X)) <= set(labels)
    assert net.score(X, labels[ids]) == np.mean(net.predict(X) == labels[ids]) > 0.9
    assert net.score(X, np.eye(3)[ids]) == net.score(X, labels[ids])  # one-hot rows too
    net.metadata = {"feature_names": ["a", "b", "c"], "mean": [0.5, 1.0, -2.0]}
    net.save(tmp_path / "m.npz")
    loaded = nn.Network.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.classes, labels)
    assert loaded.metadata == net.metadata and "classes=['cat', 'dog', 'emu']" in repr(loaded)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    with pytest.raises(ValueError, match="classes must be 3 labels"):
        net.classes = ["a", "b"]
    with pytest.raises(ValueError, match="distinct"):
        net.classes = ["a", "a", "b"]
    with pytest.raises(ValueError, match="classes are for classifiers"):
        nn.Network([3, 1], output="identity").classes = ["x", "y"]


def test_score_of_a_regressor_is_r2(rng):
    X = rng.normal(size=(200, 2))
    y = X @ [2.0, -1.0] + 0.5
    net = nn.Network([2, 1], output="identity", seed=0)
    nn.Trainer(net, optimizer=nn.SGD(0.1), seed=0).fit(X, y, epochs=50, verbose=False)
    predicted = net.predict(X)
    assert net.score(X, y) == pytest.approx(1 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2))
    assert net.score(X, y) > 0.99


def test_binary_classes_label_the_sigmoid_output(rng):
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    net = nn.Network([2, 4, 1], seed=0, classes=["no", "yes"])
    nn.Trainer(net, optimizer=nn.Adam(0.05), seed=0).fit(X, y, epochs=50, verbose=False)
    np.testing.assert_array_equal(net.predict(X), np.where(net(X)[:, 0] > 0.5, "yes", "no"))


def test_version_1_model_files_still_load(tmp_path):
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=0)
    np.savez(tmp_path / "v1.npz", format=np.array("nn-network"), format_version=np.array(1),
             sizes=np.array(net.sizes), activations=np.array(net.activations), dtype=np.array("float64"),
             theta=net.theta)
    loaded = nn.Network.load(tmp_path / "v1.npz")
    np.testing.assert_array_equal(loaded.theta, net.theta)
    assert loaded.classes is None and loaded.metadata == {}


def test_history_history_is_the_dict_of_logs(rng):
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    history = nn.Trainer(nn.Network([3, 2], seed=0), seed=0).fit(X, y, epochs=3, verbose=False)
    assert history.history is history.logs and len(history.history["loss"]) == 3


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("labels", [["cat", "dog", "emu"], [30, 10, 20], [-7.0, 1.0, 2.0]])
def test_a_classifier_trained_on_labels_returns_them(rng, backend, labels):
    labels = np.array(labels)
    ids = rng.integers(0, 3, size=120)
    X = rng.normal(size=(120, 3)) + 4 * np.eye(3)[ids]
    net = nn.Network([3, 8, 3], seed=0, backend=backend)
    trainer = nn.Trainer(net, optimizer=nn.Adam(0.05), seed=0)
    trainer.fit(X, labels[ids], epochs=20, verbose=False)
    np.testing.assert_array_equal(net.classes, np.sort(labels))
    assert net.score(X, labels[ids]) > 0.9 and set(net.predict(X)) <= set(labels)
    assert trainer.evaluate(X, labels[ids])["accuracy"] == net.score(X, labels[ids])
    unknown = np.full(120, "zebra") if labels.dtype.kind == "U" else labels[ids] + 1000
    with pytest.raises(ValueError, match="not the network's classes"):
        trainer.fit(X, unknown, verbose=False)


def test_labels_name_the_classes_only_when_they_fit(rng):
    X = rng.normal(size=(30, 3))
    with pytest.raises(ValueError, match="4 distinct labels .* but the network has 3 classes"):
        nn.Trainer(nn.Network([3, 3])).fit(X, np.array(list("abcd") * 7 + ["a", "b"]), verbose=False)
    net = nn.Network([3, 4, 1], seed=0)  # one sigmoid output: two classes
    nn.Trainer(net, seed=0).fit(X, np.where(X[:, 0] > 0, "yes", "no"), epochs=2, verbose=False)
    np.testing.assert_array_equal(net.classes, ["no", "yes"])
    ids = nn.Network([3, 3], seed=0)
    nn.Trainer(ids, seed=0).fit(X, rng.integers(0, 3, size=30), verbose=False)
    assert ids.classes is None  # ids 0..k-1 stay ids


def test_only_a_fit_that_starts_names_the_classes(rng):
    X = rng.normal(size=(30, 3))
    labels = np.array(["a", "b", "c"] * 10)
    net = nn.Network([3, 3], seed=0)
    trainer = nn.Trainer(net, seed=0)
    with pytest.raises(ValueError, match="labels .* but the network's classes have no names"):
        trainer.evaluate(X, labels)  # evaluating never changes the network
    with pytest.raises(ValueError, match="sample_weight"):
        trainer.fit(X, labels, sample_weight=np.ones(3), verbose=False)
    assert net.classes is None  # a refused fit leaves it as it was
    trainer.fit(X, labels.astype(object), validation_data=(X, labels), verbose=False)  # pandas' object strings
    np.testing.assert_array_equal(net.classes, ["a", "b", "c"])
    ids = nn.Network([3, 3], seed=0)
    nn.Trainer(ids, seed=0).fit(X, np.arange(30) % 3, verbose=False)
    before = ids.predict(X)
    with pytest.raises(ValueError, match="labels"):
        nn.Trainer(ids).evaluate(X, np.arange(30) % 3 + 1)  # 1..3: not ids, and the classes have no names
    assert ids.classes is None
    np.testing.assert_array_equal(ids.predict(X), before)


def test_known_and_unknown_labels_mixed_are_an_error_not_ids(rng):
    X = rng.normal(size=(30, 3))
    net = nn.Network([3, 3], seed=0)
    trainer = nn.Trainer(net, seed=0)
    trainer.fit(X, np.arange(30) % 3 + 1, verbose=False)  # labels 1, 2, 3
    np.testing.assert_array_equal(net.classes, [1, 2, 3])
    with pytest.raises(ValueError, match=r"not the network's classes \[1, 2, 3\]: \[0\]"):
        trainer.evaluate(X, np.arange(30) % 3)  # 0, 1, 2: 0 is unknown, 1 and 2 are labels

"""ONNX export: every model is checked by onnx.checker and run by onnxruntime, whose outputs must equal nn's
(1e-12 in float64, 1e-6 in float32; labels identical); files are written atomically; `nn export`; the
skl2onnx converters of nn.Classifier / nn.Regressor, in pipelines, as a user calls them."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nn
from nn import onnx_export
from nn.datasets import load_mnist
from nn.cli import main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOLERANCE = {"float64": 1e-12, "float32": 1e-6}
ROOT = str(Path(nn.__file__).resolve().parents[1])


def run(model, X):
    """{output name: array} of onnxruntime running ``model`` (a ModelProto or a file) on X."""
    source = model if isinstance(model, (str, os.PathLike)) else model.SerializeToString()
    session = ort.InferenceSession(os.fspath(source) if isinstance(source, os.PathLike) else source,
                                   providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def assert_close(actual, expected, dtype):
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def inputs(rng, n, n_in, dtype):
    return rng.normal(size=(n, n_in)).astype(dtype)


# ----- every activation and output, both dtypes, batches of 1 and 1000 --------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("output", sorted(nn.ACTIVATIONS))
@pytest.mark.parametrize("hidden", sorted(nn.ACTIVATIONS))
def test_onnxruntime_computes_what_nn_computes(rng, hidden, output, n_outputs, dtype):
    net = nn.Network([4, 6, 5, n_outputs], activation=hidden, output=output, dtype=dtype, seed=3, bias_init="normal")
    model = net.to_onnx()
    onnx.checker.check_model(model, full_check=True)
    for n in (1, 1000):
        X = inputs(rng, n, 4, dtype)
        got = run(model, X)
        if net.is_classifier:
            assert list(got) == ["label", "probabilities"]
            assert_close(got["probabilities"], net.predict_proba(X), dtype)
            assert got["label"].dtype == np.int64
            np.testing.assert_array_equal(got["label"], net.predict(X))
        else:
            assert list(got) == ["output"]
            assert_close(got["output"], net.forward(X), dtype)


def test_every_activation_has_an_onnx_form():
    assert set(onnx_export.ONNX_ACTIVATIONS) == set(nn.ACTIVATIONS)


def test_leaky_relu_keeps_nn_slope_in_float64(rng):
    """LeakyRelu's alpha is a float32 attribute (0.009999999776): in float64 it would be 2e-8 off."""
    net = nn.Network([1, 1], output="leaky_relu", seed=0)
    net.theta = [1.0, 0.0]  # Z = X exactly: the slope is all there is
    X = -np.abs(inputs(rng, 100, 1, "float64")) - 0.1
    got = run(net.to_onnx(), X)["output"]
    np.testing.assert_array_equal(got, net.forward(X))
    assert not np.any(got == X * float(np.float32(0.01)))
    assert "LeakyRelu" not in {node.op_type for node in net.to_onnx().graph.node}
    assert "LeakyRelu" in {node.op_type for node in nn.Network([3, 4], output="leaky_relu", dtype="float32")
                           .to_onnx().graph.node}


# ----- labels -------------------------------------------------------------------------------------------------
LABELS = {"strings": ["cat", "dog", "émeu"], "integers": np.array([10, 20, 30], dtype=np.int32),
          "floats": [0.5, 1.5, 2.5]}


@pytest.mark.parametrize("kind", sorted(LABELS))
@pytest.mark.parametrize("shape", [(3, "softmax"), (1, "sigmoid")])
def test_labels_are_the_networks_classes(rng, kind, shape):
    n_outputs, output = shape
    labels = np.asarray(LABELS[kind])[:3 if n_outputs == 3 else 2]
    net = nn.Network([4, 8, n_outputs], output=output, seed=1, classes=labels, init="normal")
    X = inputs(rng, 500, 4, "float64")
    got = run(net.to_onnx(), X)
    expected = net.predict(X)
    assert len(set(expected.tolist())) == len(labels)  # every label is predicted somewhere
    assert got["label"].shape == (500,)
    if kind == "strings":  # onnxruntime gives strings as Python objects
        assert got["label"].dtype == object and got["label"].tolist() == expected.tolist()
    else:
        assert got["label"].dtype == expected.dtype
        np.testing.assert_array_equal(got["label"], expected)


@pytest.mark.parametrize("classes", [None, ["red", "green", "blue"]])
def test_several_sigmoid_outputs_give_a_label_per_output(rng, classes):
    """Several sigmoid outputs: a 0/1 answer per output (classes, when set, name the outputs)."""
    net = nn.Network([4, 3], output="sigmoid", seed=2, bias_init="normal")
    net.classes = classes
    X = inputs(rng, 200, 4, "float64")
    got = run(net.to_onnx(), X)
    assert got["label"].shape == (200, 3) and got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], net.predict(X))
    np.testing.assert_array_equal(got["label"], (net.forward(X) > 0.5).astype(np.int64))


def test_sigmoid_label_is_probability_above_one_half_as_nn_predicts():
    """At z = 1e-17 the sigmoid is exactly 0.5: nn says 0 (A > 0.5, not z > 0), and so must the model."""
    net = nn.Network([1, 1], output="sigmoid", seed=0)
    net.theta = [1.0, 0.0]
    X = np.array([[1e-17], [-1.0], [1.0], [0.0]])
    got = run(net.to_onnx(), X)
    np.testing.assert_array_equal(got["label"], [0, 0, 1, 0])
    np.testing.assert_array_equal(got["label"], net.predict(X))


def test_argmax_ties_go_to_the_first_class_as_in_numpy():
    net = nn.Network([2, 3], output="softmax", seed=0)
    net.theta = np.zeros(9)
    X = np.ones((4, 2))
    np.testing.assert_array_equal(run(net.to_onnx(), X)["label"], net.predict(X))
    assert net.predict(X).tolist() == [0, 0, 0, 0]


# ----- the model: inputs, outputs, types, metadata, opsets -----------------------------------------------------
@pytest.mark.parametrize("dtype, tensor", [("float64", "DOUBLE"), ("float32", "FLOAT")])
def test_named_inputs_and_outputs_with_a_dynamic_batch(dtype, tensor):
    model = nn.Network([5, 7, 3], dtype=dtype, seed=0).to_onnx()
    (x,) = model.graph.input
    assert x.name == "X"
    assert x.type.tensor_type.elem_type == getattr(onnx.TensorProto, tensor)
    dims = x.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 5
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    assert {init.data_type for init in model.graph.initializer} == {getattr(onnx.TensorProto, tensor)}
    assert [node.op_type for node in model.graph.node if node.op_type == "Gemm"] == ["Gemm", "Gemm"]


def test_weights_go_into_gemm_untransposed():
    net = nn.Network([3, 2], output="identity", seed=0)
    model = net.to_onnx()
    (gemm,) = [node for node in model.graph.node if node.op_type == "Gemm"]
    assert not any(a.name in ("transA", "transB") and a.i for a in gemm.attribute)
    weights = {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer}
    np.testing.assert_array_equal(weights[gemm.input[1]], net.layers[0].W)
    np.testing.assert_array_equal(weights[gemm.input[2]], net.layers[0].b)


def test_metadata_names_nn_and_the_layers():
    net = nn.Network([4, 8, 3], seed=0)
    net.metadata = {"data": "iris.csv"}
    model = net.to_onnx()
    props = {p.key: p.value for p in model.metadata_props}
    assert props["nn_version"] == nn.__version__
    assert props["nn_sizes"] == "4-8-3"
    assert props["nn_activations"] == "relu,softmax"
    assert props["nn_dtype"] == "float64"
    assert props["nn_summary"] == net.summary()
    assert json.loads(props["nn_metadata"]) == {"data": "iris.csv"}
    assert model.producer_name == "nn" and model.producer_version == nn.__version__


@pytest.mark.parametrize("opset", [onnx_export.MIN_OPSET, onnx_export.DEFAULT_OPSET])
def test_opsets_that_run(rng, opset):
    net = nn.Network([4, 6, 3], activation="leaky_relu", seed=0)
    model = net.to_onnx(opset=opset)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    X = inputs(rng, 10, 4, "float64")
    assert_close(run(model, X)["probabilities"], net.forward(X), "float64")


@pytest.mark.parametrize("opset", [12, 1, 1000])
def test_an_opset_out_of_range_is_refused(opset):
    with pytest.raises(ValueError, match=rf"opset must be from 13 .* got {opset}"):
        nn.Network([2, 1], seed=0).to_onnx(opset=opset)


@pytest.mark.parametrize("opset", ["17", 17.0, True])
def test_an_opset_that_is_no_integer_is_refused(opset):
    with pytest.raises(TypeError, match="opset must be an integer"):
        nn.Network([2, 1], seed=0).to_onnx(opset=opset)


def test_an_activation_without_onnx_form_is_refused_by_name(monkeypatch):
    monkeypatch.setitem(nn.ACTIVATIONS, "swish", lambda Z: Z / (1 + np.exp(-Z)))
    net = nn.Network([2, 3, 1], activation="swish", seed=0)
    with pytest.raises(ValueError, match=r"layers\[0\] has activation 'swish', which has no ONNX export"):
        net.to_onnx()


def test_dropout_is_training_only_the_export_is_the_inference_graph(rng):
    net = nn.Network([4, 16, 16, 3], dropout=0.5, seed=0)
    model = net.to_onnx()
    assert "Dropout" not in {node.op_type for node in model.graph.node}
    assert {p.key: p.value for p in model.metadata_props}["nn_dropout"] == "0,0.5,0.5"
    X = inputs(rng, 50, 4, "float64")
    assert_close(run(model, X)["probabilities"], net.predict_proba(X), "float64")


def test_input_scaling_standardizes_inside_the_graph(rng):
    net = nn.Network([3, 4, 2], seed=0)
    mean, std = np.array([1.0, -2.0, 3.0]), np.array([2.0, 0.5, 4.0])
    X = inputs(rng, 20, 3, "float64") * 5
    got = run(onnx_export.to_onnx(net, input_scaling=(mean, std)), X)
    assert_close(got["probabilities"], net.forward((X - mean) / std), "float64")
    with pytest.raises(ValueError, match="input_scaling must have 3 means"):
        onnx_export.to_onnx(net, input_scaling=([1.0], [1.0]))
    with pytest.raises(ValueError, match="non-zero"):
        onnx_export.to_onnx(net, input_scaling=(mean, [1.0, 0.0, 1.0]))


# ----- writing the file ------------------------------------------------------------------------------------------
def test_the_file_written_is_the_model_returned(tmp_path, rng):
    net = nn.Network([4, 6, 3], seed=0)
    path = tmp_path / "model.onnx"
    model = net.to_onnx(path)
    assert onnx.load(path) == model
    X = inputs(rng, 7, 4, "float64")
    np.testing.assert_array_equal(run(str(path), X)["label"], net.predict(X))
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def half_then_fail(model, stream):
        stream.write(model.SerializeToString()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx_export, "_serialize", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        nn.Network([4, 3], seed=0).to_onnx(tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the old model")
    os.chmod(path, 0o640)
    monkeypatch.setattr(onnx_export, "_serialize", lambda model, stream: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        nn.Network([4, 3], seed=0).to_onnx(path)
    assert path.read_bytes() == b"the old model" and os.listdir(tmp_path) == ["model.onnx"]
    monkeypatch.undo()
    nn.Network([4, 3], seed=0).to_onnx(path)
    assert os.stat(path).st_mode & 0o777 == 0o640  # a replaced file keeps its mode


def test_bad_paths_are_named(tmp_path):
    net = nn.Network([2, 1], seed=0)
    with pytest.raises(ValueError, match="is a folder"):
        net.to_onnx(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        net.to_onnx(tmp_path / "missing" / "model.onnx")
    with pytest.raises(TypeError, match="path must be a file name"):
        net.to_onnx(42)


# ----- the MNIST model ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist():
    X, y = load_mnist()
    Xt, yt = load_mnist(kind="test")
    return X[:3000], y[:3000], Xt[:1000], yt[:1000]


@pytest.mark.parametrize("backend", nn.backends.NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_mnist_model_round_trip(tmp_path, mnist, dtype, backend):
    if backend not in nn.backends.available():
        pytest.skip(f"the {backend} backend does not load here")
    X, y, Xt, yt = mnist
    net = nn.Network([784, 128, 10], dtype=dtype, seed=0, backend=backend)
    nn.Trainer(net, optimizer=nn.SGD(0.1), batch_size=16, seed=0).fit(X.astype(dtype), y, epochs=1, verbose=False)
    assert net.score(Xt, yt) > 0.8
    net.save(tmp_path / "mnist.npz")
    loaded = nn.Network.load(tmp_path / "mnist.npz")
    loaded.to_onnx(tmp_path / "mnist.onnx")
    Xt = Xt.astype(dtype)
    got = run(str(tmp_path / "mnist.onnx"), Xt)
    assert_close(got["probabilities"], net.predict_proba(Xt), dtype)
    np.testing.assert_array_equal(got["label"], net.predict(Xt))
    assert os.path.getsize(tmp_path / "mnist.onnx") < (net.n_params * np.dtype(dtype).itemsize) * 1.01


# ----- nn export --------------------------------------------------------------------------------------------------
def nn_main(capsys, *args):
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_nn_export_writes_a_model_that_predicts_as_nn_predict(tmp_path, capsys, rng):
    net = nn.Network([3, 5, 3], seed=0, classes=["a", "b", "c"], bias_init="normal")
    net.metadata = {"scale_mean": [1.0, 2.0, 3.0], "scale_std": [0.5, 2.0, 1.0]}  # as nn train --scale saves
    net.save(tmp_path / "model.npz")
    status, out, err = nn_main(capsys, "export", tmp_path / "model.npz", tmp_path / "model.onnx")
    assert (status, err) == (0, "")
    assert out.startswith(f"{tmp_path / 'model.onnx'}: ONNX opset 17,") and "standardized in the graph" in out
    X = inputs(rng, 100, 3, "float64") * 3 + 2
    got = run(str(tmp_path / "model.onnx"), X)
    np.testing.assert_array_equal(got["label"], net.predict((X - [1.0, 2.0, 3.0]) / [0.5, 2.0, 1.0]))


def test_nn_export_opset(tmp_path, capsys):
    nn.Network([3, 2], seed=0).save(tmp_path / "model.npz")
    status, out, _ = nn_main(capsys, "export", tmp_path / "model.npz", tmp_path / "model.onnx", "--opset", "13")
    assert status == 0 and "opset 13" in out
    assert onnx.load(tmp_path / "model.onnx").opset_import[0].version == 13


@pytest.mark.parametrize("case, message", [
    ("missing", "model: file '{tmp}/nope.npz' does not exist"),
    ("folder", "model: '{tmp}' is a folder"),
    ("junk", "{tmp}/junk.npz is not a readable nn model file"),
    ("output folder", "output: '{tmp}' is a folder; give a file name"),
    ("no folder", "output: folder '{tmp}/missing' does not exist"),
    ("opset", "--opset: opset must be from 13"),
    ("opset text", "--opset: must be an integer, got 'new'"),
])
def test_nn_export_bad_input_is_one_line(tmp_path, capsys, case, message):
    nn.Network([3, 2], seed=0).save(tmp_path / "model.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    model, output, extra = tmp_path / "model.npz", tmp_path / "out.onnx", []
    if case == "missing":
        model = tmp_path / "nope.npz"
    elif case == "folder":
        model = tmp_path
    elif case == "junk":
        model = tmp_path / "junk.npz"
    elif case == "output folder":
        output = tmp_path
    elif case == "no folder":
        output = tmp_path / "missing" / "out.onnx"
    elif case == "opset":
        extra = ["--opset", "12"]
    else:
        extra = ["--opset", "new"]
    status, out, err = nn_main(capsys, "export", model, output, *extra)
    assert status == 2 and out == ""
    assert err.startswith("nn export: error: ") and err.count("\n") == 1
    assert message.format(tmp=tmp_path) in err
    assert not output.is_file()


# ----- without the packages -------------------------------------------------------------------------------------------
HIDE = r"""
import importlib.abc, json, sys
sys.path.insert(0, sys.argv[1])
HIDDEN = ("onnx", "onnxruntime", "skl2onnx", "torch")


class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


sys.meta_path.insert(0, Hide())
import nn
net = nn.Network([2, 3, 1], seed=0)
net.forward([[1.0, 2.0]])
report = {}
for name, use in [("onnx", net.to_onnx), ("torch", net.to_torch)]:
    try:
        use()
    except ImportError as exc:
        report[name] = str(exc)
print(json.dumps(report))
"""


def python(code, *args):
    result = subprocess.run([sys.executable, "-c", code, ROOT, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_without_onnx_the_export_says_what_to_install():
    report = json.loads(python(HIDE))
    assert report["onnx"] == 'ONNX export needs the onnx package: pip install "nn-lessons[onnx]"'
    assert report["torch"].startswith("the PyTorch bridge needs PyTorch: pip install torch")


def test_nn_and_its_estimators_import_none_of_the_export_packages():
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import nn, nn.estimators, nn.cli; "
            "nn.Network([2, 1], seed=0).to_onnx; "
            "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules} & "
            "{'onnx', 'onnxruntime', 'skl2onnx', 'torch'})))")
    assert json.loads(python(code)) == []


# ----- skl2onnx: nn.Classifier and nn.Regressor in pipelines ---------------------------------------------------------
@pytest.fixture(scope="module")
def iris():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X.astype(np.float32), np.array(["setosa", "versicolor", "virginica"])[y]


def fitted_pipeline(X, y, estimator):
    import warnings

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few epochs are enough here
        return Pipeline([("scale", StandardScaler()), ("net", estimator)]).fit(X, y)


@pytest.mark.parametrize("n_classes", [3, 2])
@pytest.mark.parametrize("options", ["zipmap", "by id", "by class"])
def test_a_pipeline_with_a_classifier_exports_whole(iris, n_classes, options):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = iris
    keep = np.isin(y, np.unique(y)[:n_classes])
    X, y = X[keep], y[keep]
    pipe = fitted_pipeline(X, y, nn.Classifier(hidden_layer_sizes=(8,), max_iter=30, learning_rate=0.02, random_state=0))
    clf = pipe.named_steps["net"]
    chosen = {"zipmap": None, "by id": {id(clf): {"zipmap": False}}, "by class": {nn.Classifier: {"zipmap": False}}}
    model = skl2onnx.to_onnx(pipe, X[:1], options=chosen[options])
    onnx.checker.check_model(model, full_check=True)
    got = run(model, X)
    expected_labels, expected_proba = pipe.predict(X), pipe.predict_proba(X)
    assert len(set(expected_labels.tolist())) == n_classes
    if options == "zipmap":  # skl2onnx's default: a list of {label: probability}
        assert list(got) == ["output_label", "output_probability"]
        labels, probabilities = got["output_label"], got["output_probability"]
        assert set(probabilities[0]) == set(clf.classes_.tolist())
        probabilities = np.array([[row[c] for c in clf.classes_] for row in probabilities])
    else:
        assert list(got) == ["label", "probabilities"]
        labels, probabilities = got["label"], got["probabilities"]
    assert labels.tolist() == expected_labels.tolist()
    np.testing.assert_allclose(probabilities, expected_proba, rtol=1e-5, atol=1e-6)


def test_a_float64_pipeline_is_exact(iris):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = iris
    X = X.astype(np.float64)
    pipe = fitted_pipeline(X, y, nn.Classifier(hidden_layer_sizes=(8,), max_iter=30, learning_rate=0.02, random_state=0))
    got = run(skl2onnx.to_onnx(pipe, X[:1], options={nn.Classifier: {"zipmap": False}}), X)
    assert got["label"].tolist() == pipe.predict(X).tolist()
    np.testing.assert_allclose(got["probabilities"], pipe.predict_proba(X), rtol=1e-12, atol=1e-12)


def test_string_labels_in_an_object_array_as_pandas_gives_them(iris):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = iris
    pipe = fitted_pipeline(X, y.astype(object), nn.Classifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0))
    assert pipe.classes_.dtype == object
    got = run(skl2onnx.to_onnx(pipe, X[:1], options={nn.Classifier: {"zipmap": False}}), X)
    assert got["label"].tolist() == pipe.predict(X).tolist()


def test_integer_labels_and_a_float32_network(iris):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = iris
    y = np.searchsorted(np.unique(y), y) * 10 + 1
    pipe = fitted_pipeline(X, y, nn.Classifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0, dtype="float32"))
    got = run(skl2onnx.to_onnx(pipe, X[:1], options={nn.Classifier: {"zipmap": False}}), X)
    assert got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], pipe.predict(X))
    np.testing.assert_allclose(got["probabilities"], pipe.predict_proba(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_targets", [1, 2])
def test_a_pipeline_with_a_regressor_exports_whole(rng, n_targets):
    skl2onnx = pytest.importorskip("skl2onnx")
    X = rng.normal(size=(200, 5)).astype(np.float32) * 10 + 3
    y = X[:, :n_targets] * 2 - X[:, 1:1 + n_targets] if n_targets > 1 else X[:, 0] * 2 - X[:, 1]
    pipe = fitted_pipeline(X, y, nn.Regressor(hidden_layer_sizes=(16,), max_iter=20, random_state=0))
    model = skl2onnx.to_onnx(pipe, X[:1])
    onnx.checker.check_model(model, full_check=True)
    (output,) = run(model, X).values()
    assert output.shape == (200, n_targets)
    np.testing.assert_allclose(output, pipe.predict(X).reshape(200, n_targets), rtol=1e-5, atol=1e-5)


def test_skl2onnx_refuses_an_opset_below_13(iris):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = iris
    clf = nn.Classifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    pipe = fitted_pipeline(X, y, clf)
    with pytest.raises(ValueError, match="target_opset must be at least 13 for Classifier"):
        skl2onnx.to_onnx(pipe, X[:1], target_opset=12)


# As a user calls it, in a fresh interpreter: skl2onnx imported before nn, or after the estimator is fitted.
USER = r"""
import json, sys, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
order = sys.argv[2]
if order == "skl2onnx first":
    import skl2onnx
import numpy as np
import nn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(0)
X = rng.normal(size=(100, 3)).astype(np.float32)
y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
pipe = Pipeline([("scale", StandardScaler()), ("net", nn.Classifier(hidden_layer_sizes=(4,), max_iter=20,
                                                                    random_state=0))]).fit(X, y)
imported = "skl2onnx" in sys.modules
import onnxruntime
from skl2onnx import to_onnx
model = to_onnx(pipe, X[:1], options={nn.Classifier: {"zipmap": False}})
session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
labels, probabilities = session.run(None, {"X": X})
print(json.dumps({"skl2onnx imported by nn": imported and order != "skl2onnx first",
                  "labels equal": labels.tolist() == pipe.predict(X).tolist(),
                  "probabilities": float(np.abs(probabilities - pipe.predict_proba(X)).max())}))
"""


@pytest.mark.parametrize("order", ["skl2onnx first", "skl2onnx after fit"])
def test_registration_as_a_user_meets_it(order):
    pytest.importorskip("skl2onnx")
    pytest.importorskip("sklearn")
    report = json.loads(python(USER, order))
    assert report["skl2onnx imported by nn"] is False
    assert report["labels equal"] is True
    assert report["probabilities"] < 1e-6


def test_register_skl2onnx_can_be_called_again():
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx._supported_operators import sklearn_operator_name_map

    onnx_export.register_skl2onnx()
    onnx_export.register_skl2onnx()
    assert sklearn_operator_name_map[nn.Classifier] == "NnClassifier"
    assert sklearn_operator_name_map[nn.Regressor] == "NnRegressor"


@pytest.mark.parametrize("name", ["Classifier", "Regressor"])
def test_an_unfitted_estimator_is_refused_by_name(iris, name):
    """(With zipmap, skl2onnx's own parser asks for classes_ first, and says it cannot find them.)"""
    skl2onnx = pytest.importorskip("skl2onnx")
    X, _ = iris
    estimator = getattr(nn, name)()
    with pytest.raises(ValueError, match=f"this {name} is not fitted yet"):
        skl2onnx.to_onnx(estimator, X[:1], options={id(estimator): {"zipmap": False}} if name == "Classifier" else None)

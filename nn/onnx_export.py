"""ONNX export: a Network as an ONNX model (``Network.to_onnx``, ``nn export``). The skl2onnx converters
that let ``skl2onnx.to_onnx`` export a Pipeline holding ``nn.Classifier`` / ``nn.Regressor`` build the same
graph in nn.onnx_sklearn (``register_skl2onnx`` is re-exported here).

Needs the ``onnx`` package (``pip install "nn-lessons[onnx]"``), imported when an export is asked for,
never by ``import nn``; onnxruntime is what the tests check the models with, and skl2onnx is needed
only for pipelines.

The graph: input ``X`` (batch, n_inputs), a dynamic batch dimension; per layer ``Gemm(A, W, b)``, nn's
row-major W of shape (n_in, n_out) taken as it is (no transpose: Z = A @ W + b), then the activation:

    identity -> nothing      relu -> Relu      sigmoid -> Sigmoid      tanh -> Tanh
    softmax  -> Softmax(axis=1)
    leaky_relu -> float32: LeakyRelu(alpha=0.01); float64: Where(Z > 0, Z, Z * 0.01)

(LeakyRelu's alpha is a float32 attribute: in float64 it would multiply by 0.009999999776, a relative
error of 2e-8, and older onnxruntimes have no float64 kernel for it; the Where form is exact in both.)
Everything is in the network's dtype, float32 or float64. Outputs:

- a classifier (softmax or sigmoid output): ``label`` then ``probabilities`` (the names and order of
  skl2onnx's classifiers). ``probabilities`` is ``net.predict_proba(X)``; ``label`` is ``net.predict(X)``:
  ArgMax of the softmax (the first of equal maxima, as NumPy), or ``probabilities > 0.5`` per sigmoid
  output (1-D for one output), as int64 class ids, or mapped to ``net.classes`` (strings or numbers,
  in their dtype) by a Gather from a constant table of the labels;
- any other network: ``output``, ``net.forward(X)``.

The model's metadata_props hold ``nn_version``, ``nn_sizes`` ("784-128-10"), ``nn_activations``,
``nn_dtype``, ``nn_summary`` (``net.summary()``) and ``nn_metadata`` (``net.metadata`` as JSON). Dropout
is training-only (at inference nn multiplies by nothing): the graph is the inference graph, the same
with or without dropout, and ``nn_dropout`` records the rates it was trained with.

Opsets: ``MIN_OPSET`` 13 (Softmax from opset 13 normalises along its axis alone: the older Softmax
flattens the input to 2-D at the axis, another function where axis != rank - 1, so 13 is where it means
what nn's does for every caller; Squeeze, Gather and ArgMax have their current forms there too, and
every onnxruntime since 1.7 runs it) to the newest the installed onnx knows; ``DEFAULT_OPSET`` 17
(onnxruntime >= 1.11 and most other runtimes).
"""
import json
import os

import numpy as np

from . import __version__, modelfile
from .functions import LEAKY_SLOPE

MIN_OPSET = 13
DEFAULT_OPSET = 17
INPUT_NAME = "X"
BATCH = "batch"  # the dynamic first dimension's name
CLASSIFIER_OUTPUTS = ("label", "probabilities")
REGRESSOR_OUTPUTS = ("output",)
INSTALL = 'pip install "nn-lessons[onnx]"'


def _onnx():
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(f"ONNX export needs the onnx package: {INSTALL}") from exc
    return onnx


# ----- the layers as ONNX nodes ---------------------------------------------------------------------------
# Each activation: a function (graph, Z, dtype) -> the name of A = f(Z). A new activation in
# nn.functions.ACTIVATIONS needs its entry here (tests/test_onnx.py checks that every one has one).
def _identity(graph, Z, dtype):
    return Z


def _unary(op, **attributes):
    def activation(graph, Z, dtype):
        return graph.node(op, [Z], **attributes)
    return activation


def _leaky_relu(graph, Z, dtype):
    if dtype == np.float32:
        return graph.node("LeakyRelu", [Z], alpha=LEAKY_SLOPE)
    positive = graph.node("Greater", [Z, graph.constant("zero", np.zeros((), dtype))])
    return graph.node("Where", [positive, Z, graph.node("Mul", [Z, graph.constant("slope", dtype(LEAKY_SLOPE))])])


ONNX_ACTIVATIONS = {
    "identity": _identity,
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "relu": _unary("Relu"),
    "leaky_relu": _leaky_relu,
    "softmax": _unary("Softmax", axis=1),
}


def check_exportable(net, opset=DEFAULT_OPSET):
    """Raise a ValueError naming what cannot be exported: an activation with no ONNX form, or an
    ``opset`` outside MIN_OPSET .. the newest the installed onnx knows (pass None to skip that check)."""
    for i, layer in enumerate(net.layers):
        if layer.activation not in ONNX_ACTIVATIONS:
            raise ValueError(f"layers[{i}] has activation {layer.activation!r}, which has no ONNX export; "
                             f"exportable: {', '.join(ONNX_ACTIVATIONS)}")
    if opset is not None:
        check_opset(opset)


def check_opset(opset):
    """``opset`` as an int, or an error: an integer from MIN_OPSET to the newest the installed onnx knows."""
    if isinstance(opset, (bool, np.bool_)) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an integer, got {opset!r}")
    newest = _onnx().defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be from {MIN_OPSET} (Softmax's per-axis form) to {newest} (the newest this "
                         f"onnx {_onnx().__version__} knows), got {opset}")
    return int(opset)


def network_nodes(graph, net, X):
    """Add the network's layers to ``graph`` reading input ``X`` (of the network's dtype); returns the
    name of the output activations A_L."""
    dtype = np.dtype(net.dtype).type
    A = X
    for i, layer in enumerate(net.layers):
        W = graph.constant(f"W{i + 1}", np.ascontiguousarray(layer.W, dtype=dtype))
        b = graph.constant(f"b{i + 1}", np.ascontiguousarray(layer.b, dtype=dtype))
        Z = graph.node("Gemm", [A, W, b], name=f"dense_{i + 1}")
        A = ONNX_ACTIVATIONS[layer.activation](graph, Z, dtype)
    return A


def class_ids(graph, net, probabilities):
    """The nodes of ``net.predict``'s class ids (int64) from the output activations: ArgMax along the
    classes for softmax; (probabilities > 0.5) per output for sigmoid, reshaped to 1-D for one output."""
    if net.output == "softmax":
        return graph.node("ArgMax", [probabilities], axis=1, keepdims=0)
    half = graph.constant("half", np.array(0.5, dtype=np.dtype(net.dtype)))
    ids = graph.node("Cast", [graph.node("Greater", [probabilities, half])], to=_onnx().TensorProto.INT64)
    if net.n_outputs == 1:
        ids = graph.node("Reshape", [ids, graph.constant("flat", np.array([-1], dtype=np.int64))])
    return ids


def labels(graph, ids, classes):
    """``classes[ids]``: a Gather from a constant table of the labels (strings or numbers)."""
    return graph.node("Gather", [graph.constant("classes", np.asarray(classes)), ids], axis=0)


# ----- a standalone model ---------------------------------------------------------------------------------
class _Graph:
    """Nodes and initializers for onnx.helper.make_graph, each with a unique name."""

    def __init__(self):
        self.nodes, self.initializers = [], []
        self._used = {INPUT_NAME, *CLASSIFIER_OUTPUTS, *REGRESSOR_OUTPUTS}  # the graph's own names

    def _name(self, stem):
        name, n = stem, 1
        while name in self._used:
            n += 1
            name = f"{stem}_{n}"
        self._used.add(name)
        return name

    def constant(self, stem, values):
        """A named initializer holding ``values``; returns its name."""
        name = self._name(stem)
        self.initializers.append(_tensor(name, np.asarray(values)))
        return name

    def node(self, op, inputs, name=None, output=None, **attributes):
        """Add node ``op`` reading ``inputs``; returns the name of its output (``output``, or a fresh one)."""
        onnx = _onnx()
        name = self._name(name or op.lower())
        output = output or self._name(f"{name}_out")
        self.nodes.append(onnx.helper.make_node(op, inputs, [output], name=name, **attributes))
        return output


def _tensor(name, values):
    """A TensorProto of a NumPy array; strings as UTF-8."""
    onnx = _onnx()
    if values.dtype.kind in "US":
        flat = [str(s).encode("utf-8") for s in values.ravel().tolist()]
        return onnx.helper.make_tensor(name, onnx.TensorProto.STRING, values.shape, flat)
    return onnx.numpy_helper.from_array(values, name)


def _label_type(classes):
    onnx = _onnx()
    if classes is None:
        return onnx.TensorProto.INT64
    if np.asarray(classes).dtype.kind in "US":
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(np.asarray(classes).dtype)


def to_onnx(net, path=None, opset=DEFAULT_OPSET, input_scaling=None):
    """The ONNX model (an ``onnx.ModelProto``) of ``net``'s inference: input ``X`` (batch, n_inputs),
    outputs ``label`` and ``probabilities`` for a classifier, ``output`` otherwise (see the module's
    docstring for the graph). Written to ``path`` too when given (atomically: a temp file beside it,
    then renamed; a failure leaves no file). ``opset``: MIN_OPSET (13) .. the newest onnx knows.
    ``input_scaling``: None, or (mean, std) with one value per input: the graph first computes
    (X - mean) / std (what ``nn predict`` applies for a model trained with ``nn train --scale``).
    Checked with onnx.checker (full check) before it is returned or written."""
    onnx = _onnx()
    check_exportable(net, None)
    opset = check_opset(opset)
    path = None if path is None else _check_path(path)
    dtype = np.dtype(net.dtype)
    graph = _Graph()
    X = INPUT_NAME
    if input_scaling is not None:
        mean, std = _checked_scaling(input_scaling, net.n_inputs)
        X = graph.node("Div", [graph.node("Sub", [X, graph.constant("scale_mean", mean.astype(dtype))]),
                               graph.constant("scale_std", std.astype(dtype))], name="standardize")
    tensor_type = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    A = network_nodes(graph, net, X)
    if net.is_classifier:
        named = net.classes is not None and not (net.output == "sigmoid" and net.n_outputs > 1)  # as predict
        outputs = [onnx.helper.make_tensor_value_info(CLASSIFIER_OUTPUTS[0], _label_type(net.classes if named else None),
                                                      [BATCH] if net.n_outputs == 1 or net.output == "softmax"
                                                      else [BATCH, net.n_outputs]),
                   onnx.helper.make_tensor_value_info(CLASSIFIER_OUTPUTS[1], tensor_type, [BATCH, net.n_outputs])]
        ids = class_ids(graph, net, A)
        graph.node("Identity", [labels(graph, ids, net.classes) if named else ids],
                   output=CLASSIFIER_OUTPUTS[0])
        graph.node("Identity", [A], output=CLASSIFIER_OUTPUTS[1])
    else:
        outputs = [onnx.helper.make_tensor_value_info(REGRESSOR_OUTPUTS[0], tensor_type, [BATCH, net.n_outputs])]
        graph.node("Identity", [A], output=REGRESSOR_OUTPUTS[0])
    inputs = [onnx.helper.make_tensor_value_info(INPUT_NAME, tensor_type, [BATCH, net.n_inputs])]
    sizes = "-".join(map(str, net.sizes))
    model = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, f"nn_{sizes}", inputs, outputs, graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="nn", producer_version=__version__,
        doc_string=_doc(net, input_scaling is not None))
    model.ir_version = min(model.ir_version, _ir_version(opset))
    onnx.helper.set_model_props(model, _metadata(net))
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        write_model(model, path)
    return model


def _ir_version(opset):
    """The IR version that goes with ``opset`` (make_model writes the newest the onnx package knows, which
    runtimes older than it refuse, though they know the opset)."""
    onnx = _onnx()
    for entry in onnx.helper.VERSION_TABLE:  # (release, ir version, ai.onnx opset, ...)
        if entry[2] == opset:
            return entry[1]
    return onnx.IR_VERSION


def _checked_scaling(scaling, n_inputs):
    try:
        mean, std = (np.asarray(v, dtype=np.float64).reshape(-1) for v in scaling)
    except (TypeError, ValueError):
        raise ValueError(f"input_scaling must be (mean, std), each one number per input, got {scaling!r}") from None
    if mean.shape != (n_inputs,) or std.shape != (n_inputs,):
        raise ValueError(f"input_scaling must have {n_inputs} means and {n_inputs} standard deviations (one per "
                         f"input), got {mean.size} and {std.size}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std != 0)):
        raise ValueError("input_scaling's means and standard deviations must be finite, the deviations non-zero")
    return mean, std


def _doc(net, scaled):
    outputs = ("'label' (net.predict) and 'probabilities' (net.predict_proba)" if net.is_classifier
               else "'output' (net.forward)")
    scaling = " standardized ((X - mean) / std) first," if scaled else ""
    return (f"nn {__version__} network {'-'.join(map(str, net.sizes))} ({', '.join(net.activations)}), "
            f"{np.dtype(net.dtype).name}. Input 'X' (batch, {net.n_inputs}),{scaling} outputs {outputs}. "
            "The inference graph: dropout is training-only.")


def _metadata(net):
    props = {"nn_version": __version__, "nn_sizes": "-".join(map(str, net.sizes)),
             "nn_activations": ",".join(net.activations), "nn_dtype": np.dtype(net.dtype).name,
             "nn_summary": net.summary(), "nn_metadata": json.dumps(net.metadata)}
    if any(net.dropouts):
        props["nn_dropout"] = ",".join(f"{p:g}" for p in net.dropouts)
    return props


# ----- writing --------------------------------------------------------------------------------------------
def _check_path(path):
    """``path`` as a str, or a ValueError naming it: not a folder, and its folder exists."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a file name (str or os.PathLike), got {path!r}") from None
    if os.path.isdir(path):
        raise ValueError(f"path {path!r} is a folder; give a file name, e.g. {os.path.join(path, 'model.onnx')!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"path {path!r}: folder {folder!r} does not exist")
    return path


def _serialize(model, stream):
    stream.write(model.SerializeToString())


def write_model(model, path):
    """Write the ONNX ``model`` to ``path`` atomically: into a temp file beside it, flushed to disk, then
    renamed over ``path``, so a failure (a full disk, a model too big to serialize) leaves no file, or the
    old one. A new file gets 0o666 less the umask, a replaced one keeps its mode."""
    path = _check_path(path)
    modelfile.write_atomically(path, lambda stream: _serialize(model, stream))


def __getattr__(name):
    """``register_skl2onnx``, re-exported from nn.onnx_sklearn on first use (which imports this module, so
    importing it here at the top would be circular)."""
    if name == "register_skl2onnx":
        from .onnx_sklearn import register_skl2onnx

        return register_skl2onnx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

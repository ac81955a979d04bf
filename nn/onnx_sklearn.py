"""skl2onnx converters of ``nn.Classifier`` and ``nn.Regressor``: with them, ``skl2onnx.to_onnx`` exports
the estimators alone or inside a Pipeline (string labels included).

The graph is ``nn.onnx_export``'s (a Gemm and an activation per layer, the same class ids and label
table), built in skl2onnx's scope and container instead of a standalone model. nn never imports skl2onnx
itself (about 0.9 s): importing ``nn.estimators`` registers the converters at once when skl2onnx is
already imported, else the moment it is (``register_skl2onnx_when_imported``, a one-shot import hook).
``register_skl2onnx`` does it by hand; ``nn.onnx_export.register_skl2onnx`` is the same function.
"""
import contextlib
import sys

import numpy as np

from .onnx_export import INSTALL, MIN_OPSET, _onnx, _tensor, check_exportable, class_ids, labels, network_nodes

SKL2ONNX_ALIASES = {"Classifier": "NnClassifier", "Regressor": "NnRegressor"}
CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "nocl": [False, True], "output_class_labels": [False, True]}


class _Skl2onnxGraph:
    """The _Graph interface over a skl2onnx converter's scope (unique names) and container (nodes)."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def constant(self, stem, values):
        values = np.asarray(values)
        name = self.scope.get_unique_variable_name(stem)
        tensor = _tensor(name, values)
        if values.dtype.kind in "US":  # add_initializer copies a tensor's raw_data, which strings do not use
            self.container.add_initializer(name, tensor.data_type, list(values.shape), list(tensor.string_data))
        else:
            self.container.add_initializer(name, tensor.data_type, None, tensor)
        return name

    def node(self, op, inputs, name=None, output=None, **attributes):
        output = output or self.scope.get_unique_variable_name(f"{name or op.lower()}_out")
        self.container.add_node(op, inputs, output, name=self.scope.get_unique_operator_name(name or op),
                                **attributes)
        return output


def _cast_to(graph, name, tensor_type, current):
    """``name`` cast to ``tensor_type`` (nothing when it has that type already)."""
    return name if tensor_type == current else graph.node("Cast", [name], to=tensor_type)


def _network_of(operator, container):
    """The estimator and its fitted network, checked: exportable, and skl2onnx's target opset high enough."""
    estimator = _fitted(operator.raw_operator)
    net = estimator.network_
    check_exportable(net, None)
    opset = container.target_opset
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(f"target_opset must be at least {MIN_OPSET} for {type(estimator).__name__} (Softmax's "
                         f"per-axis form), got {opset}")
    return estimator, net


def _fitted(estimator):
    if not hasattr(estimator, "network_"):
        raise ValueError(f"this {type(estimator).__name__} is not fitted yet: call fit before converting it")
    return estimator


def _tensor_type(variable):
    from skl2onnx.common.data_types import guess_proto_type

    return guess_proto_type(variable.type)


def _convert_classifier(scope, operator, container):
    """skl2onnx converter of a fitted nn.Classifier: outputs (label, probabilities) as its predict and
    predict_proba. Computed in the network's dtype (the input is cast to it, as predict converts X),
    probabilities cast to the type skl2onnx declared (the input's), labels from the classes_ table
    (skl2onnx's get_label_classes: option nocl gives the ids)."""
    from skl2onnx.common.utils_classifier import get_label_classes

    estimator, net, graph, dtype, A = _network_graph(scope, operator, container)
    ids = class_ids(graph, net, A)
    if net.n_outputs == 1:  # two classes, one sigmoid output: predict_proba is [1 - A, A]
        one = graph.constant("one", np.array(1, dtype=np.dtype(net.dtype)))
        A = graph.node("Concat", [graph.node("Sub", [one, A]), A], axis=1)
    label, probabilities = operator.outputs[0], operator.outputs[1]
    graph.node("Identity", [_cast_to(graph, A, _tensor_type(probabilities), dtype)], output=probabilities.full_name)
    # np.array of the list: labels from pandas come as an object array, which ONNX would store as raw bytes
    # (onnxruntime refuses the model); as a list they become a str (or int) array.
    classes = np.array(np.asarray(get_label_classes(scope, estimator)).tolist())
    if classes.dtype.kind == "f" or classes.dtype.kind == "b":  # skl2onnx's rule: labels are int64 or strings
        if np.any(classes != np.round(classes)):
            raise ValueError(f"skl2onnx needs integer or string class labels; {type(estimator).__name__} has "
                             f"{classes.tolist()[:10]}")
    classes = classes.astype(np.int64) if classes.dtype.kind in "biuf" else classes
    graph.node("Identity", [labels(graph, ids, classes)], output=label.full_name)


def _network_graph(scope, operator, container):
    """(estimator, its network, the graph, the network's ONNX dtype, the output layer's node): the
    operator's input cast to the network's dtype and run through its layers, as both converters start."""
    estimator, net = _network_of(operator, container)
    graph = _Skl2onnxGraph(scope, container)
    dtype = _onnx().helper.np_dtype_to_tensor_dtype(np.dtype(net.dtype))
    X = _cast_to(graph, operator.inputs[0].full_name, dtype, _tensor_type(operator.inputs[0]))
    return estimator, net, graph, dtype, network_nodes(graph, net, X)


def _convert_regressor(scope, operator, container):
    """skl2onnx converter of a fitted nn.Regressor: output (batch, n_targets), its predict (2-D, as
    skl2onnx's regressors), in the type skl2onnx declared (the input's)."""
    _, net, graph, dtype, A = _network_graph(scope, operator, container)
    output = operator.outputs[0]
    graph.node("Identity", [_cast_to(graph, A, _tensor_type(output), dtype)], output=output.full_name)


def _classifier_shape(operator):
    """skl2onnx shape calculator: label (batch,) and probabilities (batch, n_classes), as its linear
    classifiers'."""
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    _fitted(operator.raw_operator)
    calculate_linear_classifier_output_shapes(operator)


def _regressor_shape(operator):
    """skl2onnx shape calculator: (batch, n_targets) of the input's float type."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    _fitted(operator.raw_operator)
    kind = DoubleTensorType if _tensor_type(operator.inputs[0]) == _onnx().TensorProto.DOUBLE else FloatTensorType
    operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(),
                                     operator.raw_operator.network_.n_outputs])


def register_skl2onnx():
    """Register nn.Classifier and nn.Regressor's converters with skl2onnx (idempotent), so that
    ``skl2onnx.to_onnx`` converts them, alone or in a Pipeline. The classifier takes skl2onnx's classifier
    options: ``zipmap`` (True, skl2onnx's default: outputs ``output_label`` and ``output_probability``, a
    list of {label: p}; False: ``label`` and ``probabilities``, a (batch, n_classes) tensor; "columns"),
    ``nocl`` and ``output_class_labels``, e.g. ``options={nn.Classifier: {"zipmap": False}}`` or
    ``options={id(classifier): {"zipmap": False}}``. The regressor's output is (batch, n_targets).

    You rarely need to call it: importing nn.estimators (``nn.Classifier``) registers them at once when
    skl2onnx is already imported, else the moment skl2onnx is (a one-shot import hook: nn does not import
    skl2onnx itself, which would add about 0.9 s to every first use of the estimators)."""
    try:
        from skl2onnx import update_registered_converter
    except ImportError as exc:
        raise ImportError(f"exporting pipelines needs skl2onnx: {INSTALL}") from exc
    from .estimators import Classifier, Regressor

    update_registered_converter(Classifier, SKL2ONNX_ALIASES["Classifier"], _classifier_shape, _convert_classifier,
                                options=CLASSIFIER_OPTIONS)
    update_registered_converter(Regressor, SKL2ONNX_ALIASES["Regressor"], _regressor_shape, _convert_regressor)


class _RegisterOnImport:
    """A one-shot ``sys.meta_path`` finder: when skl2onnx is imported, it runs register_skl2onnx right after
    skl2onnx's own code (a registration failure warns, it never breaks the import)."""

    name = "skl2onnx"

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)  # the other finders' spec (this one is gone)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            _register_quietly()

        spec.loader.exec_module = exec_and_register
        return spec


def _register_quietly():
    import warnings

    try:
        register_skl2onnx()
    except Exception as exc:  # skl2onnx itself imported fine: keep it usable
        warnings.warn(f"nn could not register its skl2onnx converters ({type(exc).__name__}: {exc}); "
                      "call nn.onnx_sklearn.register_skl2onnx() to see why", RuntimeWarning, stacklevel=2)


def register_skl2onnx_when_imported():
    """What nn.estimators does when imported: register now if skl2onnx is imported already, else when it is
    (see register_skl2onnx). Costs nothing when skl2onnx is never imported."""
    if "skl2onnx" in sys.modules:
        _register_quietly()
    elif not any(isinstance(finder, _RegisterOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())

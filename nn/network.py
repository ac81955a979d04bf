"""Neuron, Dense and Network: parameters, forward/predict, theta, save/load.

Samples are rows. A layer holds W (n_in, n_out) and b (n_out,) and computes A = f(X @ W + b).
Every parameter of a Network lives in one flat vector, theta: each layer's W (row-major) then its b,
in layer order (nn.layout owns that layout). ``layer.W`` and ``layer.b`` are views into it, so
optimizers and backends can update the whole network with one array (``parameter_vector()``) and
``net.theta`` is a single copy.
"""
import os
import weakref

import numpy as np

from . import backends, layout, modelfile
from .functions import ACTIVATIONS
from .validation import (as_finite, as_numeric, check_dtype, check_int, check_name, check_number, check_seed,
                         check_X)

INITS = ("auto", "uniform", "he", "glorot", "normal")
BIAS_INITS = ("auto", "zeros", "uniform", "normal")


class Neuron:
    """The lessons' single neuron: y = f(w . x + b)."""

    def __init__(self, weights, bias=0.0, activation="sigmoid"):
        self.weights = np.asarray(weights, dtype=np.float64).ravel()
        self.bias = float(bias)
        self.activation = check_name("activation", activation, ACTIVATIONS)

    def feedforward(self, x):
        """y = f(w . x + b) for one sample x of len(weights) inputs; a float."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.shape != self.weights.shape:
            raise ValueError(f"x has {x.size} inputs but the neuron has {self.weights.size} weights")
        z = np.dot(self.weights, x) + self.bias
        return float(ACTIVATIONS[self.activation](np.array([[z]]))[0, 0])

    def __repr__(self):
        return f"Neuron(weights={self.weights.tolist()}, bias={self.bias}, activation={self.activation!r})"


class Dense:
    """A fully connected layer: A = f(X @ W + b), W of shape (n_in, n_out), b of shape (n_out,).

    ``weights``/``bias`` give initial values; otherwise the Network initialises them. Assigning to
    ``layer.W`` or ``layer.b`` copies into the network's parameters (shapes must match).
    A Dense belongs to at most one network: the first one built with it. A network given a Dense that
    already belongs to another works on a copy (see ``copy``), so the two never share parameters.
    ``dropout``: the probability p that each of the layer's inputs is dropped while training (inverted
    dropout: the others are multiplied by 1 / (1 - p); see nn.dropout); nothing happens at inference.
    """

    dropout = 0.0  # (a class default: layers pickled before dropout existed have none)

    def __init__(self, n_in, n_out, activation="identity", weights=None, bias=None, dropout=0.0):
        self.n_in = check_int("n_in", n_in, low=1)
        self.n_out = check_int("n_out", n_out, low=1)
        self.activation = check_name("activation", activation, ACTIVATIONS)
        self.dropout = check_number("dropout", dropout, 0, 1, high_open=True)
        self._W = None if weights is None else self._checked("weights", weights, (self.n_in, self.n_out))
        self._b = None if bias is None else self._checked("bias", bias, (self.n_out,))
        self._network = None  # a weak reference to the network whose theta W and b view

    def copy(self):
        """A Dense of the same sizes and activation holding a copy of the current W and b, in no network."""
        def copied(values):
            return None if values is None else np.array(values)

        return Dense(self.n_in, self.n_out, self.activation, weights=copied(self._W), bias=copied(self._b),
                     dropout=self.dropout)

    def _belongs_to_a_network(self):
        return self._network is not None and self._network() is not None

    def __getstate__(self):
        # A weak reference does not travel; the network that unpickles this layer binds it again.
        return {**self.__dict__, "_network": None}

    @staticmethod
    def _checked(name, values, shape, dtype=np.float64):
        """``values`` as a finite array of ``shape`` and ``dtype`` (a value too large for it is an error)."""
        arr = as_numeric(name, values, dtype, ndim=(len(shape),))
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
        return arr

    @property
    def W(self):
        """The weights, shape (n_in, n_out): a view into the network's theta once the layer is in one."""
        return self._W

    @W.setter
    def W(self, values):
        self._assign("_W", "W", values, (self.n_in, self.n_out))

    @property
    def b(self):
        """The biases, shape (n_out,): a view into the network's theta once the layer is in one."""
        return self._b

    @b.setter
    def b(self, values):
        self._assign("_b", "b", values, (self.n_out,))

    def _assign(self, attr, name, values, shape):
        current = getattr(self, attr)
        if current is None:
            setattr(self, attr, self._checked(name, values, shape))
        else:  # checked in the network's dtype: 1e39 does not fit in float32
            current[...] = self._checked(name, values, shape, current.dtype)

    @property
    def n_params(self):
        """The number of parameters, n_in * n_out + n_out (W and b)."""
        return self.n_in * self.n_out + self.n_out

    def __repr__(self):
        dropout = f", dropout={self.dropout}" if self.dropout else ""
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r}{dropout})"


def default_output(n_outputs):
    """The output activation a network gets when none is named: softmax for several outputs (the
    classes of a classifier), sigmoid for one (a yes / no answer)."""
    return "softmax" if n_outputs > 1 else "sigmoid"


class Network:
    """A feed-forward network of Dense layers.

    ``Network([784, 128, 10])`` builds a network from layer sizes: every hidden layer uses ``activation``
    (default ReLU), the last uses ``output``: by default softmax for several outputs (classes) and
    sigmoid for one (yes / no); say ``output="identity"`` for a regression. (The lessons' networks name
    theirs: ``Network([2, 2, 1], activation="sigmoid")`` is the blogs' all-sigmoid 2-2-1 network.)
    A list of ``Dense`` gives per-layer control. Weights are drawn from ``seed``: init "auto"
    (scikit-learn's MLP: W and b uniform in +-sqrt(f/(n_in+n_out)), f = 2 for a sigmoid layer, else 6),
    "uniform" (PyTorch's linear layer: W and b uniform in +-1/sqrt(n_in)), "he" (normal, std
    sqrt(2/n_in)), "glorot" (uniform, limit sqrt(6/(n_in+n_out))) or "normal" (standard normal, as the
    blogs). Biases: ``bias_init`` "auto" (uniform in the same bound with "auto" and "uniform", else
    zero), "zeros", "uniform" or "normal" (standard normal).
    ``backend`` is "compiled" or "reference"; by default the ``NN_BACKEND`` environment variable, else
    the compiled core.

    ``classes``: a classifier's labels (None: the class ids 0..k-1), what ``predict`` returns;
    ``metadata``: a dict of names to strings, numbers and lists of them, saved with the network.
    ``dropout``: the dropout of every hidden layer's output (the input of every layer but the first)
    while training, for a network built from sizes (a list of Dense sets each layer's own).
    """

    def __init__(self, layers, activation="relu", output=None, dtype="float64", seed=None,
                 init="auto", bias_init="auto", backend=None, classes=None, dropout=0.0):
        self.dtype = check_dtype(dtype)
        self.init = check_name("init", init, dict.fromkeys(INITS))
        self.bias_init = check_name("bias_init", bias_init, dict.fromkeys(BIAS_INITS))
        self.seed = check_seed("seed", seed)
        dropout = check_number("dropout", dropout, 0, 1, high_open=True)
        self.layers = self._build_layers(layers, activation, output)
        if dropout:
            if all(isinstance(layer, Dense) for layer in layers):
                raise ValueError("dropout= is for a network built from sizes; give each Dense its own dropout")
            for layer in self.layers[1:]:
                layer.dropout = dropout
        self.backend = backends.resolve(backend)
        given = self._allocate()
        self._initialise(np.random.default_rng(seed), given)
        self.classes = classes
        self.metadata = {}

    @staticmethod
    def _build_layers(layers, activation, output):
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
            raise TypeError(f"layers must be a list of layer sizes or of Dense layers, got {layers!r}")
        if all(isinstance(layer, Dense) for layer in layers):
            for i, (a, b) in enumerate(zip(layers, layers[1:])):
                if a.n_out != b.n_in:
                    raise ValueError(f"layers[{i}] has {a.n_out} outputs but layers[{i + 1}] expects {b.n_in} inputs")
            return Network._own(layers)
        sizes = [check_int(f"layers[{i}]", n, low=1) for i, n in enumerate(layers)]
        if len(sizes) < 2:
            raise ValueError(f"layers needs at least an input and an output size, got {sizes}")
        activation = check_name("activation", activation, ACTIVATIONS)
        if output is None:
            output = default_output(sizes[-1])
        output = check_name("output", output, ACTIVATIONS)
        acts = [activation] * (len(sizes) - 2) + [output]
        return [Dense(n_in, n_out, act) for n_in, n_out, act in zip(sizes, sizes[1:], acts)]

    @staticmethod
    def _own(layers):
        """The Dense layers this network may bind to its theta: each one that belongs to no network
        itself, a copy of any other (one of another network, or one listed twice), so that no two
        networks, and no two layers, view the same parameters."""
        owned, seen = [], set()
        for layer in layers:
            if layer._belongs_to_a_network() or id(layer) in seen:
                layer = layer.copy()
            seen.add(id(layer))
            owned.append(layer)
        return owned

    def _allocate(self):
        """One flat theta; each layer's W and b become views into it (keeping given values).
        Returns [(W given, b given), ...] per layer."""
        self._theta = layout.zeros(layout.n_params(self.sizes), self.dtype)
        given = [(layer.W is not None, layer.b is not None) for layer in self.layers]
        for i, (layer, (W, b)) in enumerate(zip(self.layers, layout.layer_views(self.sizes, self._theta))):
            if layer.W is not None:
                W[...] = as_finite(f"weights of layers[{i}]", layer.W, self.dtype)
            if layer.b is not None:
                b[...] = as_finite(f"bias of layers[{i}]", layer.b, self.dtype)
        self._bind_layers()
        return given

    def _bind_layers(self):
        """Make each layer's W and b views into this network's theta, and the layer this network's."""
        for layer, (W, b) in zip(self.layers, layout.layer_views(self.sizes, self._theta)):
            layer._W, layer._b = W, b
            layer._network = weakref.ref(self)

    def _initialise(self, rng, given):
        # Draw in float64 whatever the dtype, so a seed gives the same weights in float32 and float64.
        for layer, (w_given, b_given) in zip(self.layers, given):
            shape = (layer.n_in, layer.n_out)
            scheme = self.init
            if scheme == "auto":
                bound = np.sqrt((2.0 if layer.activation == "sigmoid" else 6.0) / (layer.n_in + layer.n_out))
            else:
                bound = 1 / np.sqrt(layer.n_in)
            if scheme in ("auto", "uniform"):
                W = rng.uniform(-bound, bound, size=shape)
            elif scheme == "he":
                W = rng.normal(0.0, np.sqrt(2.0 / layer.n_in), size=shape)
            elif scheme == "glorot":
                limit = np.sqrt(6.0 / (layer.n_in + layer.n_out))
                W = rng.uniform(-limit, limit, size=shape)
            else:
                W = rng.standard_normal(size=shape)
            if not w_given:
                layer.W[...] = W
            bias = self.bias_init if self.bias_init != "auto" else "uniform" if scheme in ("auto", "uniform") \
                else "zeros"
            if bias == "uniform" and not b_given:
                layer.b[...] = rng.uniform(-bound, bound, size=layer.n_out)
            elif bias == "normal" and not b_given:
                layer.b[...] = rng.standard_normal(size=layer.n_out)

    # ----- copies: pickle and deepcopy -------------------------------------------------------------
    def __setstate__(self, state):
        # Pickle and deepcopy turn the layers' views into arrays of their own; theta holds the same
        # values, so the layers are made views into it again. theta is copied into one of its own, on a
        # cache line (layout.zeros) and writable whatever arrived (a read-only memory map, say).
        self.__dict__.update(state)
        theta, self._theta = self._theta, layout.zeros(self._theta.size, self._theta.dtype)
        self._theta[...] = theta
        self._bind_layers()

    # ----- shape and parameters -------------------------------------------------------------------
    @property
    def sizes(self):
        """[n_inputs, n_hidden..., n_outputs]"""
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def activations(self):
        """Each layer's activation name, first layer first."""
        return [layer.activation for layer in self.layers]

    @property
    def dropouts(self):
        """Each layer's input dropout while training (0: none)."""
        return [layer.dropout for layer in self.layers]

    @property
    def n_inputs(self):
        """The number of input features (the first layer's n_in)."""
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        """The number of outputs (the last layer's n_out)."""
        return self.layers[-1].n_out

    @property
    def output(self):
        """The output layer's activation."""
        return self.layers[-1].activation

    @property
    def is_classifier(self):
        """Softmax outputs are classes (argmax); sigmoid outputs are yes/no per output (> 0.5)."""
        return self.output in ("softmax", "sigmoid")

    def parameters(self):
        """[W1, b1, W2, b2, ...]: views into theta; writing to them changes the network."""
        return [p for layer in self.layers for p in (layer.W, layer.b)]

    @property
    def theta(self):
        """A copy of the flat parameter vector: every W (row-major) then b, layer by layer (see
        nn.layout). Assigning to it writes the values into the network (checked: shape, finite)."""
        return self._theta.copy()

    @theta.setter
    def theta(self, values):
        values = as_numeric("theta", values, self.dtype, ndim=(1,))
        if values.shape != self._theta.shape:
            raise ValueError(f"theta must have shape {self._theta.shape}, got {values.shape}")
        self._theta[...] = values

    def parameter_vector(self):
        """The live flat parameter vector, not a copy (laid out as ``theta``; ``layer.W`` and ``layer.b``
        are views into it): for the backends and optimizers that train the network in place, and for
        gradcheck's perturbations. Writing to it changes the network, unchecked; anything else reads
        ``theta`` and assigns to it."""
        return self._theta

    @property
    def n_params(self):
        """The number of parameters: theta's length, every layer's W and b."""
        return self._theta.size

    # ----- inference ------------------------------------------------------------------------------
    def forward(self, X):
        """The output activations A_L for X (n_samples, n_inputs); a 1-D X is one sample."""
        backend = backends.get(self.backend)
        if type(X) is np.ndarray and X.dtype == self._theta.dtype and X.flags.c_contiguous and 0 < X.ndim < 3 \
                and X.size and X.shape[-1] == self.layers[0].n_in and hasattr(backend, "forward_output"):
            # An array that needs no conversion: the backend checks its values itself (one-row latency)
            A = backend.forward_output(self, X.reshape(1, -1) if X.ndim == 1 else X)
            if A is not None:  # None: X holds inf or NaN, which check_X reports
                return A[0] if X.ndim == 1 else A
        X, one_sample = check_X(X, self.n_inputs, self.dtype)
        A = backend.forward(self, X)[-1]
        return A[0] if one_sample else A

    feedforward = forward

    def predict_proba(self, X):
        """Class probabilities: the softmax or sigmoid outputs."""
        if not self.is_classifier:
            raise ValueError(f"predict_proba needs a softmax or sigmoid output, but the output is {self.output!r}")
        return self.forward(X)

    def __call__(self, X):
        """net(X) is net.forward(X)."""
        return self.forward(X)

    def predict(self, X):
        """Classes (argmax of softmax; sigmoid > 0.5) for classifiers, as ``classes`` labels when set, else
        ids; output values for regressors. With one output the result is 1-D (one value per sample).
        Several sigmoid outputs are yes/no answers, one per output: the result is their 0/1 matrix
        (``classes``, when set, name the outputs: the columns)."""
        A = self.forward(X)
        if self.output == "softmax":
            ids = A.argmax(axis=-1)
        elif self.output == "sigmoid":
            ids = (A > 0.5).astype(np.int64)
            if self.n_outputs > 1:
                return ids
            ids = ids[..., 0]
        else:
            return A[..., 0] if self.n_outputs == 1 else A
        return ids if self._classes is None else self._classes[ids]

    def score(self, X, y):
        """Accuracy of ``predict`` against y for classifiers (class ids, labels or one-hot rows); R^2 for
        regressors (1 - residual sum of squares / total sum of squares, averaged over the outputs)."""
        predicted = self.predict(X)
        y = np.asarray(y)
        if self.is_classifier:
            if self.output == "softmax" and y.ndim == 2 and y.shape[1] == self.n_outputs:
                y = y.argmax(axis=1) if self._classes is None else self._classes[y.argmax(axis=1)]
            if y.shape != predicted.shape:
                raise ValueError(f"y has shape {y.shape}, but the predictions have shape {predicted.shape}")
            return float(np.mean(predicted == y))
        Y, A = y.reshape(len(y), -1).astype(np.float64), predicted.reshape(len(predicted), -1)
        if Y.shape != A.shape:
            raise ValueError(f"y has shape {y.shape}, but the predictions have shape {predicted.shape}")
        total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        residual = ((Y - A) ** 2).sum(axis=0)
        return float(np.mean(np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), 0.0)))

    @property
    def classes(self):
        """The labels of a classifier's classes, in output order (None: the ids 0..k-1)."""
        return self._classes

    @classes.setter
    def classes(self, labels):
        if labels is None:
            self._classes = None
            return
        labels = np.asarray(labels)
        expected = 2 if self.output == "sigmoid" and self.n_outputs == 1 else self.n_outputs
        if not self.is_classifier or labels.ndim != 1 or len(labels) != expected:
            raise ValueError(f"classes must be {expected} labels for this network's {self.n_outputs} x {self.output!r} "
                             f"outputs, got {labels.tolist()[:10]!r}" if self.is_classifier else
                             f"classes are for classifiers (softmax or sigmoid outputs), not {self.output!r}")
        if labels.dtype.kind not in "Uiuf" or len(set(labels.tolist())) != len(labels):
            raise ValueError(f"classes must be distinct strings or numbers, got {labels.tolist()[:10]!r}")
        self._classes = labels

    # ----- description ----------------------------------------------------------------------------
    def summary(self):
        """A table of layers, shapes and parameter counts."""
        rows = [("layer", "activation", "W", "b", "params")]
        for i, layer in enumerate(self.layers, 1):
            activation = layer.activation + (f" (input dropout {layer.dropout:g})" if layer.dropout else "")
            rows.append((f"dense_{i}", activation, f"{layer.n_in} x {layer.n_out}",
                         f"{layer.n_out}", f"{layer.n_params:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(5)]
        line = "-" * (sum(widths) + 2 * 4)
        fmt = lambda r: "  ".join(s.ljust(w) if c < 2 else s.rjust(w) for c, (s, w) in enumerate(zip(r, widths)))
        out = [fmt(rows[0]), line] + [fmt(r) for r in rows[1:]] + [line]
        out.append(f"total parameters: {self.n_params:,}  (dtype {np.dtype(self.dtype).name}, backend {self.backend})")
        return "\n".join(out)

    def __repr__(self):
        classes = "" if self._classes is None else f", classes={self._classes.tolist()}"
        dropout = f", dropouts={self.dropouts}" if any(self.dropouts) else ""
        return (f"Network({self.sizes}, activations={self.activations}, "
                f"dtype={np.dtype(self.dtype).name!r}, backend={self.backend!r}{classes}{dropout})")

    # ----- persistence ----------------------------------------------------------------------------
    def save(self, path, _vectors=None, _metadata=None):
        """Write the network to ``path`` (.npz, no pickle; see nn.modelfile): its sizes, activations,
        dtype and theta, its ``classes`` and ``metadata``. Atomic: a crash mid-save leaves the old file.
        (A checkpoint, nn.checkpoints, adds vectors of theta's length and metadata of its own.)"""
        modelfile.write(path, {
            "sizes": np.array(self.sizes, dtype=np.int64),
            "activations": np.array(self.activations),
            "dtype": np.array(np.dtype(self.dtype).name),
            "theta": self._theta,
            **({"dropout": np.array(self.dropouts)} if any(self.dropouts) else {}),
            **(_vectors or {}),
        }, classes=self.classes, metadata={**self.metadata, **(_metadata or {})})

    @classmethod
    def load(cls, path, backend=None):
        """Read a network written by ``save``. A corrupt, truncated or foreign file raises ValueError naming
        it; the file's claims (sizes, array headers) are checked before anything is allocated from them."""
        return cls._from_model(os.fspath(path), modelfile.read(os.fspath(path)), backend)

    @classmethod
    def _from_model(cls, path, model, backend=None):
        """The network of a model file's fields (modelfile.read)."""
        dropouts = model["dropout"] if model.get("dropout") is not None else [0.0] * len(model["activations"])
        try:
            layers = [Dense(n_in, n_out, act, dropout=float(p)) for n_in, n_out, act, p in
                      zip(model["sizes"], model["sizes"][1:], model["activations"], dropouts)]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a valid nn model file: {exc}") from None
        net = cls(layers, dtype=model["dtype"], backend=backend)
        try:
            net.theta = model["theta"]
            net.classes = model["classes"]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a valid nn model file: {exc}") from None
        net.metadata = model["metadata"]
        return net

    # ----- leaving nn: ONNX and PyTorch (optional packages, imported when asked for) --------------------
    def to_onnx(self, path=None, opset=None):
        """The ONNX model (``onnx.ModelProto``) of this network's inference, written to ``path`` too when
        given (atomically). Input ``X`` (batch, n_inputs); outputs ``label`` and ``probabilities`` for a
        classifier (``predict``, ``predict_proba``), ``output`` (``forward``) otherwise; in the network's
        dtype. ``opset``: 13 .. the newest the installed onnx knows (default 17). See nn.onnx_export;
        needs ``pip install "nn-lessons[onnx]"``."""
        from . import onnx_export

        return onnx_export.to_onnx(self, path, onnx_export.DEFAULT_OPSET if opset is None else opset)

    def to_torch(self):
        """A ``torch.nn.Sequential`` of Linear (weight = W.T) and activation modules with this network's
        weights and dtype, in ``eval()`` mode: its forward equals ``forward``, dropout or not (``.train()``
        turns its Dropout modules on; see nn.torch_bridge; needs PyTorch)."""
        from . import torch_bridge

        return torch_bridge.to_torch(self)

    @classmethod
    def from_torch(cls, module, backend=None, classes=None):
        """The network of a ``torch.nn.Sequential`` of Linear and supported activation modules (ReLU,
        LeakyReLU(0.01), Sigmoid, Tanh, Softmax(dim=-1)); anything else is a ValueError naming the module
        and its index (see nn.torch_bridge). Called on a subclass, returns an instance of it."""
        from . import torch_bridge

        return torch_bridge.from_torch(module, backend=backend, classes=classes, cls=cls)

"""The libraries bench/run.py measures nn against: PyTorch (its usual training loop, from the same initial
weights and in the same batch order as nn's trainer) and scikit-learn's MLPClassifier (its own weights
and shuffling). Neither is a dependency of nn: run.py uses each one that is installed.

Each runner returns a callable that trains once and returns the seconds the training took (setting the
weights up again before each run is not timed).
"""
import time
import warnings

import numpy as np

# nn's activations as torch.nn modules. Softmax is left to CrossEntropyLoss, which takes logits: nn fuses
# the softmax with the cross-entropy the same way.
TORCH_ACTIVATIONS = {"sigmoid": "Sigmoid", "relu": "ReLU", "tanh": "Tanh", "identity": None, "softmax": None}


def try_import(name):
    """The module ``name``, or None when it is not installed."""
    try:
        return __import__(name)
    except ImportError:
        return None


def torch_network(torch, net):
    """``net`` (an nn.Network) as a torch.nn.Sequential in the network's dtype, and a function that sets
    the Sequential's weights to the ones ``net`` has now (copied: training either leaves the other)."""
    dtype = getattr(torch, np.dtype(net.dtype).name)
    modules, weights = [], []
    for layer in net.layers:
        linear = torch.nn.Linear(layer.n_in, layer.n_out).to(dtype)
        # nn's W is (n_in, n_out); torch's weight is (n_out, n_in)
        weights.append((linear, torch.from_numpy(np.ascontiguousarray(layer.W.T)), torch.from_numpy(np.array(layer.b))))
        modules.append(linear)
        activation = TORCH_ACTIVATIONS[layer.activation]
        if activation is not None:
            modules.append(getattr(torch.nn, activation)())

    def set_weights():
        with torch.no_grad():
            for linear, W, b in weights:
                linear.weight.copy_(W)
                linear.bias.copy_(b)
    return torch.nn.Sequential(*modules), set_weights


def torch_fit(torch, start, X, y, loss, lr, batch_size, epochs, seed=0):
    """The usual PyTorch loop (zero_grad, forward, loss, backward, step) with SGD, from the weights of the
    nn.Network ``start`` and in its dtype, in the batch order nn's trainer draws from ``seed``."""
    dtype = np.dtype(start.dtype).name
    model, set_weights = torch_network(torch, start)
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=dtype))
    if loss == "cross_entropy":
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
        criterion = torch.nn.CrossEntropyLoss()  # takes logits: the softmax is fused, as in nn
    else:
        yt = torch.from_numpy(np.asarray(y, dtype=dtype).reshape(len(y), -1))
        criterion = torch.nn.MSELoss()
    n = len(X)

    def run():
        set_weights()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        rng = np.random.default_rng(seed)
        orders = torch.from_numpy(rng.permuted(np.tile(np.arange(n), (epochs, 1)), axis=1))
        start_time = time.perf_counter()
        for e in range(epochs):
            order = orders[e]
            for i in range(0, n, batch_size):
                rows = order[i:i + batch_size]
                optimizer.zero_grad()
                out = criterion(model(Xt[rows]), yt[rows])
                out.backward()
                optimizer.step()
        return time.perf_counter() - start_time
    return run


def sklearn_fit(X, y, batch_size, dtype):
    """MLPClassifier 784-128-10 ReLU, one epoch of plain SGD at learning rate 0.1 (its own initial weights
    and shuffling)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    Xc = np.ascontiguousarray(X, dtype=dtype)

    def run():
        clf = MLPClassifier(hidden_layer_sizes=(128,), activation="relu", solver="sgd", learning_rate_init=0.1,
                            momentum=0.0, nesterovs_momentum=False, alpha=0.0, batch_size=batch_size, max_iter=1,
                            shuffle=True, random_state=0, tol=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            clf.fit(Xc, y)
            return time.perf_counter() - start
    return run

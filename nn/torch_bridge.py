"""The bridge to PyTorch: ``Network.to_torch()`` and ``Network.from_torch(module)``.

A network is a ``torch.nn.Sequential`` of ``Linear`` layers, each followed by its activation module
(none for identity), in the network's dtype: Linear computes x @ weight.T + bias, so ``weight`` is nn's
W transposed (W has shape (n_in, n_out), weight (n_out, n_in)). A layer's input dropout p is a
``Dropout(p)`` before its Linear (the same inverted dropout: active in ``train()`` mode only).
``to_torch`` returns the module in ``eval()`` mode, computing ``net.forward``; call ``.train()`` on it
to train on in PyTorch with its dropout active.

    nn            PyTorch
    identity      (nothing, or Identity)
    sigmoid       Sigmoid
    tanh          Tanh
    relu          ReLU
    leaky_relu    LeakyReLU(negative_slope=0.01)   (nn's slope: another one is refused)
    softmax       Softmax(dim=-1 or 1)

PyTorch is never required: it is imported when the bridge is used (``pip install torch``).
"""
import numpy as np

from .functions import LEAKY_SLOPE

INSTALL = "pip install torch (see https://pytorch.org/get-started for your platform)"
DTYPES = ("float32", "float64")


def _torch():
    """The torch package, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"the PyTorch bridge needs PyTorch: {INSTALL}") from exc
    return torch


def _activation_module(torch, name):
    """The torch module of nn's activation ``name`` (None for identity)."""
    modules = {
        "identity": lambda: None,
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "leaky_relu": lambda: torch.nn.LeakyReLU(negative_slope=LEAKY_SLOPE),
        "softmax": lambda: torch.nn.Softmax(dim=-1),
    }
    if name not in modules:
        raise ValueError(f"activation {name!r} has no PyTorch module; supported: {', '.join(modules)}")
    return modules[name]()


def to_torch(net):
    """A ``torch.nn.Sequential`` computing ``net.forward``: per layer [Dropout(p)], Linear (weight = W.T,
    bias = b, copies), then the activation module; parameters in the network's dtype (float32 or
    float64). Returned in ``eval()`` mode, so its forward equals ``net.forward`` (to rounding) with or
    without dropout; ``module.train()`` turns its Dropout modules on to train on in PyTorch."""
    torch = _torch()
    dtype = getattr(torch, np.dtype(net.dtype).name)
    modules = []
    for layer in net.layers:
        if layer.dropout:
            modules.append(torch.nn.Dropout(p=layer.dropout))
        linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(layer.W.T, dtype=net.dtype)))
            linear.bias.copy_(torch.from_numpy(np.array(layer.b, dtype=net.dtype)))
        modules.append(linear)
        activation = _activation_module(torch, layer.activation)
        if activation is not None:
            modules.append(activation)
    return torch.nn.Sequential(*modules).eval()


def _activation_name(torch, module, where):
    """nn's name for the activation ``module`` (``where`` names it in errors), or None if it is not one."""
    if isinstance(module, torch.nn.Sigmoid):
        return "sigmoid"
    if isinstance(module, torch.nn.Tanh):
        return "tanh"
    if isinstance(module, torch.nn.ReLU):
        return "relu"
    if isinstance(module, torch.nn.LeakyReLU):
        if module.negative_slope != LEAKY_SLOPE:
            raise ValueError(f"{where} is LeakyReLU(negative_slope={module.negative_slope}); nn's leaky_relu has "
                             f"slope {LEAKY_SLOPE}")
        return "leaky_relu"
    if isinstance(module, torch.nn.Softmax):
        if module.dim not in (-1, 1):
            raise ValueError(f"{where} is Softmax(dim={module.dim}); nn's softmax is over the features of each "
                             "sample: dim=-1 or 1")
        return "softmax"
    return None


def from_torch(module, backend=None, classes=None, cls=None):
    """The nn.Network (or an instance of ``cls``, a subclass of it) of a ``torch.nn.Sequential`` (see the module's table): Linear layers (without bias:
    b = 0), each followed by at most one supported activation module (none: identity), Identity modules
    anywhere, and Dropout(p) right before a Linear (that layer's input dropout). Anything else is a
    ValueError naming the module and its index. The network's dtype is the parameters' (float32 or
    float64, all the same); W = weight.T, b = bias, copied."""
    from .network import Dense, Network

    torch = _torch()
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential of Linear and activation modules, got "
                        f"{type(module).__name__}")
    layers, dtypes, dropout = [], set(), None
    for i, child in enumerate(module):
        where = f"module[{i}] ({type(child).__name__})"
        if isinstance(child, torch.nn.Identity):
            continue
        if isinstance(child, torch.nn.Dropout) and type(child) is torch.nn.Dropout:
            if dropout is not None:
                raise ValueError(f"{where}: two Dropout modules in a row; nn has one input dropout per layer")
            dropout = child.p
            continue
        if isinstance(child, torch.nn.Linear):
            if layers and layers[-1]["n_out"] != child.in_features:
                raise ValueError(f"{where} has {child.in_features} inputs but the layer before has "
                                 f"{layers[-1]['n_out']} outputs")
            dtypes.add(child.weight.dtype)
            weight = child.weight.detach().cpu().numpy()
            bias = (np.zeros(child.out_features, dtype=weight.dtype) if child.bias is None
                    else child.bias.detach().cpu().numpy())
            layers.append({"n_out": child.out_features, "W": weight.T, "b": bias, "activation": "identity",
                           "dropout": 0.0 if dropout is None else dropout, "has_activation": False})
            dropout = None
            continue
        name = _activation_name(torch, child, where)
        if name is None:
            raise ValueError(f"{where} is not supported: nn reads Linear, {', '.join(_SUPPORTED)}, Identity and "
                             "Dropout (before a Linear)")
        if dropout is not None:
            raise ValueError(f"{where} follows a Dropout; nn's dropout is a layer's input, right before a Linear")
        if not layers:
            raise ValueError(f"{where} comes before any Linear; nn's activations follow a layer")
        if layers[-1]["has_activation"]:
            raise ValueError(f"{where} is a second activation after one Linear; nn has one per layer")
        layers[-1].update(activation=name, has_activation=True)
    if not layers:
        raise ValueError("module has no Linear layer")
    if dropout is not None:
        raise ValueError(f"module[{len(module) - 1}] (Dropout) is after the last Linear; nn's dropout is a "
                         "layer's input, right before a Linear")
    names = {str(d).removeprefix("torch.") for d in dtypes}
    if len(names) != 1 or not names <= set(DTYPES):
        raise ValueError(f"module's parameters must all be float32 or all float64, got {sorted(names)}")
    dtype = names.pop()
    dense = [Dense(layer["W"].shape[0], layer["n_out"], layer["activation"], weights=layer["W"].astype(np.float64),
                   bias=layer["b"].astype(np.float64), dropout=layer["dropout"]) for layer in layers]
    return (Network if cls is None else cls)(dense, dtype=dtype, backend=backend, classes=classes)


_SUPPORTED = ("Sigmoid", "Tanh", "ReLU", f"LeakyReLU({LEAKY_SLOPE})", "Softmax(dim=-1)")

"""Scalar automatic differentiation: Value, and a small network library over Values.

A Value records how it was made: its inputs (``children``) and, computed right then, the local
derivative of the result with respect to each input (``local_grads``). ``backward()`` applies the chain rule in reverse
topological order: for every node, ``child.grad += local * node.grad``.

    a = Value(2.0); b = Value(-3.0); c = Value(10.0); f = Value(-2.0)
    L = (a * b + c) * f      # L.data == -8.0
    L.backward()             # a.grad == 6.0, b.grad == -4.0, c.grad == -2.0, f.grad == 4.0

Gradients accumulate across backward() calls until zeroed, as in PyTorch. The topological order is
found without recursion, so graphs of any depth work.
"""
import math
import numbers
import random
import shutil
import subprocess

__all__ = ["Value", "ValueNeuron", "Layer", "MLP", "draw", "render", "zero_grad"]


class Value:
    """A scalar that remembers the operations that made it."""

    __slots__ = ("data", "grad", "label", "_op", "_constant", "children", "local_grads", "_topo", "_g")

    def __init__(self, data, label="", op="", children=(), local_grads=(), constant=None):
        self.data = data if type(data) is float else _real("data", data)  # operations make floats: no check
        self.grad = 0.0
        self.label = label
        self._op = op
        self._constant = constant  # a number folded into the operation (x + 2: op "+", constant 2)
        self.children = children
        self.local_grads = local_grads  # d self / d child, one per child
        self._topo = None
        self._g = 0.0

    @property
    def op(self):
        """The operation that made this Value ("+", "*", "tanh", ...; with a constant folded in, "+2",
        "*-1", "**2"); "" for a leaf. Written out only when asked for (drawing), not at every operation."""
        return self._op if self._constant is None else f"{self._op}{self._constant:g}"

    def __repr__(self):
        label = f"{self.label!r}, " if self.label else ""
        return f"Value({label}data={self.data:.6g}, grad={self.grad:.6g})"

    # ----- basic operations: each knows its local derivatives ------------------------------------
    # A plain number is a constant: it is folded into the operation rather than made a node.
    def __add__(self, other):
        if isinstance(other, Value):
            return Value(self.data + other.data, "", "+", (self, other), (1.0, 1.0))
        return Value(self.data + other, "", "+", (self,), (1.0,), other)

    def __mul__(self, other):
        if isinstance(other, Value):
            return Value(self.data * other.data, "", "*", (self, other), (other.data, self.data))
        return Value(self.data * other, "", "*", (self,), (float(other),), other)

    def __pow__(self, exponent):
        """x ** n for a number n, with d/dx = n x^(n-1); real-valued, so a negative x needs an integer n and
        x = 0 a non-negative one."""
        n = _exponent(self.data, exponent)
        return Value(self.data ** n, "", "**", (self,), (_power_slope(self.data, n),), n)

    def exp(self):
        """e^x, with d/dx = e^x (inf, not an OverflowError, for x above about 709.78)."""
        # e^x overflows a float beyond about 709.78: the limit is infinity, not an error.
        out = math.exp(self.data) if self.data < 709.78 else math.inf
        return Value(out, "", "exp", (self,), (out,))

    def log(self):
        """ln x, with d/dx = 1/x; x must be positive (x <= 0 raises a ValueError)."""
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number: {self.data}")
        return Value(math.log(self.data), "", "log", (self,), (1.0 / self.data,))

    def tanh(self):
        """tanh x, with d/dx = 1 - tanh^2 x."""
        t = math.tanh(self.data)
        return Value(t, "", "tanh", (self,), (1.0 - t * t,))

    def sigmoid(self):
        """s = 1/(1+e^-x), with d/dx = s(1-s); no overflow for any x."""
        # From e^-|x|, which never overflows.
        e = math.exp(-abs(self.data))
        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)
        return Value(s, "", "sigmoid", (self,), (s * (1.0 - s),))

    def relu(self):
        """max(0, x), with d/dx = 1 if x > 0 else 0 (0 at x = 0)."""
        positive = self.data > 0
        return Value(self.data if positive else 0.0, "", "relu", (self,), (1.0 if positive else 0.0,))

    def identity(self):
        """x, with d/dx = 1: this Value itself, no new node."""
        return self

    # ----- derived operations, built from the basic ones -----------------------------------------
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        if isinstance(other, Value):
            return self * other ** -1
        return self * (1.0 / other)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return -self + other

    def __rtruediv__(self, other):
        return self ** -1 * other

    # ----- backpropagation ------------------------------------------------------------------------
    def topological_order(self):
        """Every node of the graph, each after all of its children: an iterative depth-first search
        (a node goes out once all it was made from has). Cached: backward() again reuses it."""
        if self._topo is None:
            order, seen = [], set()
            stack = [(self, False)]
            push, pop = stack.append, stack.pop
            while stack:
                node, children_done = pop()
                if children_done:
                    order.append(node)
                elif node not in seen:
                    seen.add(node)
                    push((node, True))
                    for child in node.children:
                        if child not in seen:
                            push((child, False))
            self._topo = order
        return self._topo

    def backward(self):
        """d self / d node for every node of the graph, added to node.grad (the chain rule).

        This pass's gradients are gathered apart (in node._g, zero between passes) and then added to
        .grad, so a second backward() adds the same gradients again, as PyTorch does."""
        order = self.topological_order()
        self._g = 1.0
        for node in reversed(order):
            g = node._g
            for child, local in zip(node.children, node.local_grads):
                child._g += local * g
        for node in order:
            node.grad += node._g
            node._g = 0.0


def _real(name, value):
    """``value`` as a float if it is a real number: not a bool, a string, a complex or an array."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(value).__name__} {value!r}")
    return float(value)


def _exponent(base, exponent):
    """The exponent of ``base ** exponent`` (an int or a float), if the power is a real number."""
    n = exponent
    if type(n) is not int and type(n) is not float:  # the usual ints and floats skip the slower checks
        if isinstance(exponent, (bool, Value)) or not isinstance(exponent, numbers.Real):
            raise TypeError(f"only number exponents (int or float) are supported, got {type(exponent).__name__}")
        n = int(exponent) if isinstance(exponent, numbers.Integral) else float(exponent)
    # Python would answer these with a complex number or a ZeroDivisionError.
    if base < 0 and not float(n).is_integer():
        raise ValueError(f"({base:g}) ** {n:g} is not a real number: a negative base needs an integer exponent")
    if base == 0 and n < 0:
        raise ValueError(f"0 ** {n:g} is undefined (a division by zero): a zero base needs an exponent >= 0")
    return n


def _power_slope(x, n):
    """d x^n / dx = n x^(n-1). At x = 0 (n >= 0): 0 for n = 0, and for 0 < n < 1 the limit, infinity."""
    if n == 0:
        return 0.0
    if x == 0 and n < 1:
        return math.inf
    return n * x ** (n - 1)


def zero_grad(root):
    """Set grad to 0 in every node of root's graph."""
    for node in root.topological_order():
        node.grad = 0.0


# ----- pictures ------------------------------------------------------------------------------------
def draw(root):
    """The graph of ``root`` in Graphviz DOT text: a box per value (label, data, grad), an ellipse per
    operation, edges from inputs to outputs."""
    lines = ["digraph value {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in root.topological_order():
        name = f"v{id(node)}"
        label = f"{node.label} | " if node.label else ""
        lines.append(f'  {name} [shape=record, label="{{ {label}data {node.data:.4f} | grad {node.grad:.4f} }}"];')
        if node.op:
            lines.append(f'  {name}_op [label="{node.op}"];')
            lines.append(f"  {name}_op -> {name};")
            for child in node.children:
                lines.append(f"  v{id(child)} -> {name}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(root, path, format=None):
    """Write the graph as an image (format from the file name: svg, png, pdf) with Graphviz's ``dot``."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("rendering needs Graphviz's `dot` program, which is not installed "
                           "(e.g. `apt-get install graphviz`); draw(value) gives the DOT text without it")
    format = format or str(path).rsplit(".", 1)[-1]
    subprocess.run([dot, f"-T{format}", "-o", str(path)], input=draw(root).encode(), check=True)
    return path


# ----- a network over Values -----------------------------------------------------------------------
# The activations a Value has (the methods of that name); nn.functions.ACTIVATIONS are NumPy's.
VALUE_ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity")


class Module:
    """The base of ValueNeuron, Layer and MLP: their parameters and zero_grad (as micrograd's Module)."""

    def parameters(self):
        """The Values that training updates, as a list (none here: each subclass lists its own)."""
        return []

    def zero_grad(self):
        """Set every parameter's grad to 0 (gradients accumulate across backward() calls)."""
        for p in self.parameters():
            p.grad = 0.0


class ValueNeuron(Module):
    """A neuron over Values, as micrograd's: f(w . x + b), weights and bias uniform in [-1, 1]. (nn.Neuron
    is the lessons' NumPy neuron, with given weights.)"""

    def __init__(self, n_in, activation="tanh", seed=None, rng=None):
        if activation not in VALUE_ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of: {', '.join(VALUE_ACTIVATIONS)}")
        rng = rng or random.Random(seed)
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_in)]
        self.b = Value(rng.uniform(-1, 1))
        self.activation = activation

    def __call__(self, x):
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return getattr(z, self.activation)()

    def parameters(self):
        """The neuron's weights then its bias: n_in + 1 Values."""
        return self.w + [self.b]

    def __repr__(self):
        return f"ValueNeuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``n_out`` ValueNeurons on the same ``n_in`` inputs: a list of Values out (one Value when n_out is 1)."""

    def __init__(self, n_in, n_out, activation="tanh", seed=None, rng=None):
        rng = rng or random.Random(seed)
        self.neurons = [ValueNeuron(n_in, activation, rng=rng) for _ in range(n_out)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        """Every neuron's parameters, neuron by neuron."""
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer([{', '.join(map(repr, self.neurons))}])"


class MLP(Module):
    """MLP(3, [4, 4, 1]): layers of neurons; ``activation`` everywhere, ``output`` (default: the same)
    on the last layer."""

    def __init__(self, n_in, sizes, activation="tanh", output=None, seed=None):
        rng = random.Random(seed)
        dims = [n_in] + list(sizes)
        acts = [activation] * (len(sizes) - 1) + [output or activation]
        self.layers = [Layer(a, b, f, rng=rng) for a, b, f in zip(dims, dims[1:], acts)]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
            x = x if isinstance(x, list) else [x]
        return x[0] if len(x) == 1 else x

    def parameters(self):
        """Every layer's parameters, first layer first."""
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP([{', '.join(map(repr, self.layers))}])"

    # ----- the same weights as an nn.Network --------------------------------------------------------
    def to_network(self, **kwargs):
        """An nn.Network with these weights: W[i, j] is neuron j's weight on input i."""
        from .network import Dense, Network

        dense = []
        for layer in self.layers:
            W = [[n.w[i].data for n in layer.neurons] for i in range(len(layer.neurons[0].w))]
            b = [n.b.data for n in layer.neurons]
            dense.append(Dense(len(W), len(b), layer.neurons[0].activation, weights=W, bias=b))
        return Network(dense, **kwargs)

    @classmethod
    def from_network(cls, net):
        """An MLP with the weights and activations of an nn.Network (float64 copies)."""
        acts = [layer.activation for layer in net.layers]
        if any(a not in VALUE_ACTIVATIONS for a in acts):
            raise ValueError(f"Value networks support {', '.join(VALUE_ACTIVATIONS)}; the network has {acts}")
        mlp = cls(net.layers[0].n_in, [layer.n_out for layer in net.layers], activation=acts[0])
        for layer, values in zip(net.layers, mlp.layers):
            for j, neuron in enumerate(values.neurons):
                neuron.activation = layer.activation
                for i, w in enumerate(neuron.w):
                    w.data = float(layer.W[i, j])
                neuron.b.data = float(layer.b[j])
        return mlp

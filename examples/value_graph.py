"""The micrograd lesson: a scalar Value graph, its gradients, and what forgetting zero_grad does.

    python examples/value_graph.py [--dot graph.dot]
"""
import argparse

from nn.autograd import MLP, Value, draw

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def worked_graph():
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    L.backward()
    for v in (a, b, c, f, e, d, L):
        print(f"  {v}")
    return L


def train(zero_grad, steps=100, learning_rate=0.1, seed=3):
    """The lesson's run; returns the loss of every step and the largest weight at the end."""
    mlp = MLP(3, [4, 4, 1], seed=seed)
    losses = []
    for _ in range(steps):
        loss = sum(((mlp(x) - y) ** 2 for x, y in zip(XS, YS)), Value(0.0))
        if zero_grad:
            mlp.zero_grad()
        loss.backward()
        for p in mlp.parameters():
            p.data -= learning_rate * p.grad
        losses.append(loss.data)
    return losses, max(abs(p.data) for p in mlp.parameters())


def main(dot=None):
    print("L = (a * b + c) * f with a=2, b=-3, c=10, f=-2:")
    L = worked_graph()
    if dot:
        with open(dot, "w") as f:
            f.write(draw(L))
        print(f"graph written to {dot} (render: dot -Tsvg {dot} -o graph.svg)")
    print("\nMLP(3, [4, 4, 1]) on the 4 samples, 100 steps, learning rate 0.1:")
    (with_zero, w_max), (without_zero, wo_max) = train(zero_grad=True), train(zero_grad=False)
    print("  step   loss (zero_grad each step)   loss (gradients never zeroed)")
    for step in (0, 1, 2, 4, 9, 19, 49, 99):
        print(f"  {step + 1:4d}   {with_zero[step]:26.6f}   {without_zero[step]:29.6f}")
    print(f"  largest |weight| at the end: {w_max:.2f} with zero_grad, {wo_max:.2f} without")
    print("Without zero_grad every step adds the new gradient to all the old ones: the steps keep growing,\n"
          "the weights blow up, every tanh saturates at +-1 and its gradient vanishes. Here the outputs\n"
          "saturate on the wrong side: the loss sticks at its worst, 8 = 2 samples x (1 - (-1))^2.\n"
          "(With other seeds the blow-up may land on the right side by luck; the weights blow up all the same.)")
    return (with_zero, w_max), (without_zero, wo_max)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dot", help="write the worked graph as Graphviz DOT here")
    main(parser.parse_args().dot)

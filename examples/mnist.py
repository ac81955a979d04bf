"""The 784-128-10 ReLU/softmax network on MNIST: the bundled sample, or a folder of IDX files.

    python examples/mnist.py [DIR] [--epochs N]
"""
import argparse

import numpy as np

import nn
from nn.datasets import load_mnist

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("data", nargs="?", default=None, help="folder of MNIST IDX files (default: bundled sample)")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

X, y = load_mnist(args.data, "train")
X_test, y_test = load_mnist(args.data, "test")
net = nn.Network([784, 128, 10], activation="relu", output="softmax", seed=0)
print(net.summary())
trainer = nn.Trainer(net, loss="cross_entropy", optimizer=nn.SGD(0.1), batch_size=32, seed=0)
history = trainer.fit(X, y, epochs=args.epochs, validation_split=0.1, verbose=False)
for epoch, (loss, acc, val) in enumerate(zip(history.loss, history.accuracy, history.val_accuracy), 1):
    print(f"epoch {epoch:2d}  loss {loss:.4f}  accuracy {acc:.4f}  validation accuracy {val:.4f}")
print(f"test accuracy {np.mean(net.predict(X_test) == y_test):.4f} on {len(X_test)} images")

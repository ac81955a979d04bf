"""XOR, which no single neuron can learn, learnt by a 2-4-1 network (tanh hidden, sigmoid output)."""
import numpy as np

import nn

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 1, 1, 0])
net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=1)
trainer = nn.Trainer(net, loss="binary_cross_entropy", optimizer=nn.SGD(0.5), batch_size=None, seed=1)
history = trainer.fit(X, y, epochs=2000, verbose=False)
for x, p in zip(X, net.forward(X)[:, 0]):
    print(f"{x.astype(int)} -> {p:.3f}")
print(f"accuracy {history.accuracy[-1]:.0%} after {len(history)} epochs (loss {history.loss[-1]:.4f})")

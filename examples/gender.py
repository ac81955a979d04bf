"""The lessons' 2-2-1 network predicting gender from weight and height, trained by per-sample SGD.

Data: weight - 135 (lb), height - 66 (in); 1 = female. 1000 epochs, learning rate 0.1, MSE.
"""
import numpy as np

import nn

names = ["Alice", "Bob", "Charlie", "Diana"]
X = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=float)
y = np.array([1, 0, 0, 1], dtype=float)

net = nn.Network([2, 2, 1], activation="sigmoid", seed=0, init="normal")
trainer = nn.Trainer(net, loss="mse", optimizer=nn.SGD(0.1), batch_size=1, seed=0)
history = trainer.fit(X, y, epochs=1000, verbose=False)
for epoch in range(0, 1000, 10):
    print(f"epoch {epoch + 1:4d} loss {history.loss[epoch]:.4f}")

emily, frank = net.forward(np.array([[-7, -3], [20, 2]], dtype=float))[:, 0]
print(f"Emily (128 lb, 63 in): {emily:.3f}  (female)")
print(f"Frank (155 lb, 68 in): {frank:.3f}  (male)")
print(f"final MSE on the four people: {trainer.evaluate(X, y)['loss']:.5f}")

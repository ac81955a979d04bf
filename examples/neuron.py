"""The lessons' first neuron: y = sigmoid(w . x + b) with w = [0, 1], b = 4, x = [2, 3]."""
import nn

neuron = nn.Neuron(weights=[0, 1], bias=4)
print(f"{neuron} gives {neuron.feedforward([2, 3]):.10f} for x = [2, 3]")  # 0.9990889488

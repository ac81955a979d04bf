"""The reference backend: forward pass, backpropagation and epochs of training in NumPy.

This is the readable implementation; the compiled backend must give the same numbers.
Shapes: X (n, n_in); layer l has W_l (n_{l-1}, n_l), b_l (n_l,); A_0 = X, A_l = f_l(A_{l-1} @ W_l + b_l).
It trains on one thread whatever nn.set_num_threads says (NumPy's BLAS has threads of its own).
"""
import numpy as np

from .. import dropout, interrupts
from ..functions import ACTIVATIONS, BACKPROP, loss_value, n_correct, output_delta
from ..layout import layer_views
from ..validation import all_finite


def forward(net, X):
    """[A_0 = X, A_1, ..., A_L]: every layer's output, kept for backpropagation."""
    activations = [X]
    for layer in net.layers:
        Z = activations[-1] @ layer.W + layer.b
        activations.append(ACTIVATIONS[layer.activation](Z))
    return activations


def forward_dropout(net, X, key, rows):
    """Training's forward pass with dropout: (activations, inputs, multipliers). Layer l reads
    inputs[l] = activations[l] * M_l (M_l = nn.dropout.multipliers for the samples ``rows`` of X under the
    epoch's ``key``; inputs[l] is activations[l] itself, and M_l None, for a layer without dropout)."""
    activations, inputs, multipliers = [X], [], []
    for l, layer in enumerate(net.layers):
        A = activations[-1]
        M = None
        if layer.dropout:
            M = dropout.multipliers(key, rows, l, net.sizes, layer.dropout, net.dtype)
            A = A * M
        inputs.append(A)
        multipliers.append(M)
        activations.append(ACTIVATIONS[layer.activation](A @ layer.W + layer.b))
    return activations, inputs, multipliers


def backward(net, activations, Y, loss, grads, weights=None, inputs=None, multipliers=None):
    """Backpropagation: fill ``grads`` ([(dW, db), ...] per layer) for the batch (rows weighted by
    ``weights``, if given: see functions.output_delta).

    delta_L = dL/dZ_L (fused for the cross-entropies); then, layer by layer from the top:
    dW_l = A_{l-1}.T @ delta_l, db_l = sum_rows(delta_l), delta_{l-1} = f'_{l-1} * (delta_l @ W_l.T).
    With dropout (forward_dropout's inputs and multipliers): dW_l = inputs_l.T @ delta_l and
    delta_{l-1} = f'_{l-1} * ((delta_l @ W_l.T) * M_l).
    """
    layers = net.layers
    inputs = activations[:-1] if inputs is None else inputs
    delta = output_delta(loss, layers[-1].activation, activations[-1], Y, weights)
    for l in range(len(layers) - 1, -1, -1):
        dW, db = grads[l]
        np.matmul(inputs[l].T, delta, out=dW)
        np.sum(delta, axis=0, out=db)
        if l > 0:
            G = delta @ layers[l].W.T
            if multipliers is not None and multipliers[l] is not None:
                G = G * multipliers[l]
            delta = BACKPROP[layers[l - 1].activation](activations[l], G)


def gradients(net, X, Y, loss, weights=None):
    """The loss on the batch (X, Y) (weighted by ``weights`` (n,), if given) and its gradient with
    respect to theta (same layout)."""
    grad = np.empty_like(net.parameter_vector())
    activations = forward(net, X)
    backward(net, activations, Y, loss, layer_views(net.sizes, grad), weights)
    return loss_value(loss, Y, activations[-1], weights), grad


def clip_by_norm(grad, clip_norm):
    """Scale ``grad`` in place to an L2 norm of at most ``clip_norm``: times min(1, clip_norm / (||grad|| +
    1e-6)), as PyTorch's clip_grad_norm_. The sum of squares is float64, as the core's, but added in
    another order (the core adds each thread's part, then the parts): the scale agrees to rounding."""
    scale = clip_norm / (np.sqrt(np.dot(grad.astype(np.float64, copy=False), grad)) + 1e-6)
    if not scale >= 1:  # a NaN norm makes the gradient NaN, as PyTorch's does
        grad *= grad.dtype.type(scale)


def train_epochs(net, X, Y, loss, optimizer, orders, batch_size, snapshot=None, weights=None, rates=None,
                 clip_norm=None, keys=None):
    """Train one epoch per row of ``orders`` (indices into X, Y) in batches of ``batch_size``, updating
    the network after each batch. Returns (loss_sums, corrects) for the epochs completed: per epoch, the
    sum over batches of loss * batch length (with sample ``weights``, one per row of X, batch losses are
    weighted means, summed times the batch's total weight: the sum of w_i l_i) and the correct
    predictions. Stops after the first epoch whose loss is not finite, or after which the weights are not
    (its loss is then NaN). With ``snapshot`` (an nn.layout.Snapshot), the start of the last epoch run is
    left there: theta, the optimizer's state arrays and its step count. Ctrl-C lands between batches,
    never inside an update, and raises KeyboardInterrupt carrying ``completed``, the figures of the epochs
    completed. ``rates``: each epoch's learning rate (a schedule's), set as ``optimizer.rate`` for the
    epoch; None keeps the optimizer's rate. ``clip_norm``: each batch's gradient clipped to that norm
    (clip_by_norm) before the optimizer's step. ``keys``: each epoch's dropout key (a network with
    dropout needs them; see nn.dropout)."""
    if any(net.dropouts) and (keys is None or len(keys) < len(np.atleast_2d(orders))):
        raise ValueError("a network with dropout trains with a dropout key for each epoch (keys)")
    loss_sums, corrects = [], []
    figures = lambda: (np.array(loss_sums), np.array(corrects, dtype=np.intp))
    try:
        for e, order in enumerate(np.atleast_2d(orders)):
            if snapshot is not None:
                snapshot.save(net, optimizer)
            if rates is not None:
                optimizer.rate = float(rates[e])
            key = None if keys is None or not any(net.dropouts) else keys[e]
            loss_sum, correct = _epoch(net, X, Y, loss, optimizer, order, batch_size, weights, clip_norm, key)
            loss_sums.append(loss_sum)
            corrects.append(correct)
            if not np.isfinite(loss_sum):
                break
    except KeyboardInterrupt as exc:
        exc.completed = figures()
        raise
    return figures()


def _epoch(net, X, Y, loss, optimizer, order, batch_size, weights, clip_norm, key):
    """One epoch of train_epochs: the samples ``order`` in batches; returns (loss sum, correct), the
    loss sum NaN if the weights are not finite at the end (a batch's loss is computed before its update,
    so the last update's overflow shows only there)."""
    theta = net.parameter_vector()
    grad = np.empty_like(theta)
    grads = layer_views(net.sizes, grad)
    loss_sum, correct = 0.0, 0
    # A diverging run overflows to inf/NaN; the trainer checks the loss and reports it clearly.
    with np.errstate(over="ignore", invalid="ignore"), interrupts.deferred() as ctrl_c:
        for start in range(0, len(order), batch_size):
            ctrl_c.check()  # Ctrl-C between batches, never inside an update
            rows = order[start:start + batch_size]
            Xb, Yb = X[rows], Y[rows]
            wb = None if weights is None else weights[rows]
            if key is None:
                activations, inputs, multipliers = forward(net, Xb), None, None
            else:
                activations, inputs, multipliers = forward_dropout(net, Xb, key, rows)
            loss_sum += loss_value(loss, Yb, activations[-1], wb) * (len(rows) if wb is None else wb.sum())
            correct += n_correct(net.output, activations[-1], Yb)
            backward(net, activations, Yb, loss, grads, wb, inputs, multipliers)
            if clip_norm:
                clip_by_norm(grad, clip_norm)
            optimizer.step([theta], [grad])
    if not all_finite(theta):
        loss_sum = np.nan
    return loss_sum, correct

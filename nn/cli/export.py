"""`nn export`: a model file written by `nn train --save` (or Network.save) as an ONNX file, checked by
onnx.checker (see nn.onnx_export). A model trained with --scale keeps its feature scaling in its metadata;
the ONNX graph then standardizes its input first, so it takes the raw features, as `nn predict` does.
"""
import os

import numpy as np

from .. import onnx_export
from ..network import Network


def _check_paths(model, output):
    if not os.path.exists(model):
        raise ValueError(f"model: file {model!r} does not exist")
    if os.path.isdir(model):
        raise ValueError(f"model: {model!r} is a folder; give a file written by nn train --save")
    if os.path.isdir(output):
        raise ValueError(f"output: {output!r} is a folder; give a file name, e.g. "
                         f"{os.path.join(output, 'model.onnx')!r}")
    folder = os.path.dirname(os.path.normpath(output)) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"output: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"output: folder {folder!r} is not writable")


def export(args):
    """nn export MODEL OUTPUT [--opset N]; returns the exit status."""
    _check_paths(args.model, args.output)
    try:
        opset = onnx_export.check_opset(args.opset)
    except ValueError as exc:
        raise ValueError(f"--opset: {exc}") from None
    net = Network.load(args.model)
    meta = net.metadata
    scaling = (meta["scale_mean"], meta["scale_std"]) if "scale_mean" in meta and "scale_std" in meta else None
    onnx_export.to_onnx(net, args.output, opset=opset, input_scaling=scaling)
    outputs = "'label', 'probabilities'" if net.is_classifier else "'output'"
    scaled = ", standardized in the graph as nn predict does" if scaling is not None else ""
    print(f"{args.output}: ONNX opset {opset}, {os.path.getsize(args.output):,} bytes; input 'X' ({net.n_inputs} "
          f"features{scaled}), outputs {outputs}; {'-'.join(map(str, net.sizes))} {np.dtype(net.dtype).name}")
    return 0

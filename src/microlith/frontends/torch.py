"""PyTorch module -> IR, through ONNX: torch.onnx.export into a temporary file, then load_onnx."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import tempfile
import warnings

from ..ir import Graph, MicrolithError, safe_text
from .onnx import load_onnx
from .tflite import c_identifier

def _root_cause(e: BaseException) -> str:
    """The first line of the innermost exception: torch.export wraps the real reason."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return text.splitlines()[0] if text else type(e).__name__


@contextlib.contextmanager
def _quiet_torch_logs():
    """The exporters log progress and optional-dependency notes; a library call stays silent."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


OPSET = 18  # torch.export writes 18 and later; TorchScript export reads 13+


def from_torch(module, example_input, name: str | None = None, opset: int = OPSET,
               dynamo: bool = False, optimize: bool = True) -> Graph:
    """Export `module` (in eval mode) with `example_input` (a tensor or a tuple of tensors,
    whose shapes become the model's static input shapes) and read it as an IR graph.

    dynamo=False uses TorchScript export (fast, and the graph is stable across torch
    versions); dynamo=True uses torch.export, the exporter torch itself now defaults to.
    """
    import torch
    if opset < 13:
        raise MicrolithError(f"from_torch: opset {opset} is too old; use 13 or newer")
    if not isinstance(module, torch.nn.Module):
        raise MicrolithError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    args = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        raise MicrolithError("from_torch: example_input must be a tensor or a tuple of tensors")
    name = c_identifier(name or type(module).__name__)
    was_training = module.training
    module.eval()
    try:
        with tempfile.TemporaryDirectory(prefix="microlith-torch-") as tmp:
            path = os.path.join(tmp, f"{name}.onnx")
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_torch_logs():
                    warnings.simplefilter("ignore")
                    kwargs = dict(opset_version=opset, dynamo=dynamo)
                    if dynamo:
                        kwargs.update(verbose=False, external_data=False)
                    else:
                        kwargs.update(do_constant_folding=True)
                    torch.onnx.export(module, args, path, **kwargs)
            except Exception as e:  # the exporters raise many types; all mean "cannot export"
                raise MicrolithError(f"from_torch: torch.onnx.export failed for {type(module).__name__}: "
                                     f"{_root_cause(e)}") from None
            try:
                graph = load_onnx(path, name=name, optimize=optimize)
            except MicrolithError as e:  # name the module, not the temporary file
                raise MicrolithError(str(e).replace(path, f"<torch {type(module).__name__}>")) from None
    finally:
        module.train(was_training)
    graph.source = f"<torch {safe_text(type(module).__name__)}>"
    return graph.sanitize_names()

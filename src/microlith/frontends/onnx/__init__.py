"""ONNX -> float IR, in the NHWC layout of TFLite and of microlith's kernels.

How a model is read:
 1. Load and validate: the protobuf, the opset, every initializer's size, and that every
    tensor a node reads is an initializer, a graph input or the output of an earlier node.
 2. Fix the input shapes; a dynamic dimension needs `input_shape` (CLI: --input-shape).
 3. List unsupported ops, all of them in one error, before converting anything. A node
    whose inputs are all constant (or a Shape/Size of a static tensor: all shapes are static
    here) is not converted but evaluated by onnx's reference evaluator, so the Shape ->
    Gather -> Concat -> Reshape chains of real exports need no converter of their own.
 4. Convert in one walk, in the model's (topological) order.

Layout. ONNX activations are channels first. A value is stored "channels last" (cl) once a
conv, pool, ConvTranspose or Resize has produced it: a 4-D [N,C,H,W] value as [N,H,W,C], a 3-D [N,C,L] value as
[N,1,L,C] (a 1-D conv or pool is a 2-D one of height 1, exactly as the TFLite converter
lowers Conv1D). Element-wise ops keep the layout (broadcast constants are permuted to
match); ops with an axis remap it (Concat, Softmax, ReduceMean, Pad); ops that see the
memory order (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Gemm, MatMul) and the graph
outputs get the value back in ONNX order through an explicit TRANSPOSE. So the IR computes
exactly what the ONNX model computes, with the ONNX input and output shapes; passes.optimize
then drops the transposes that move no data (e.g. over an H = W = 1 tensor).

The package: reader (file validation), values (Val, Builder), one module per op family
(conv, deconv, pooling, dense, elementwise, activation, shape, normalization, recurrent,
resize), arith
(constant-folding arithmetic for ops lowered to formulas), table (ONNX op -> lowering, the one
place an op is registered), patterns (ONNX-level fusions run first: GELU's Erf chain), peephole
(a cleanup of the lowered graph) and load (the walk and load_onnx).
"""
from __future__ import annotations

from .load import load_onnx

__all__ = ["load_onnx"]

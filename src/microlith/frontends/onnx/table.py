"""The one table of the ONNX frontend: ONNX op type -> the function that lowers it to IR ops,
with the input and output counts the ONNX operator spec allows (optional trailing inputs may
also be present but empty "")."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import (
    activation,
    conv,
    deconv,
    dense,
    elementwise,
    normalization,
    pooling,
    recurrent,
    resize,
    shape,
)

# lower(builder, onnx node, inputs (np.ndarray constant, Val or None), attributes) -> outputs
Lower = Callable[..., list]


@dataclass(frozen=True)
class Lowering:
    lower: Lower
    min_inputs: int
    max_inputs: int
    max_outputs: int = 1


LOWERINGS: dict[str, Lowering] = {
    # conv
    "Conv": Lowering(conv.conv, 2, 3),
    # pooling and reductions
    "MaxPool": Lowering(pooling.pool, 1, 1, 2),
    "AveragePool": Lowering(pooling.pool, 1, 1),
    "GlobalAveragePool": Lowering(pooling.global_pool_op, 1, 1),
    "GlobalMaxPool": Lowering(pooling.global_pool_op, 1, 1),
    "ReduceMax": Lowering(pooling.reduce_max, 1, 2),
    "ReduceMean": Lowering(pooling.reduce_mean, 1, 2),
    # dense
    "Gemm": Lowering(dense.gemm, 2, 3),
    "MatMul": Lowering(dense.matmul, 2, 2),
    # element-wise
    "BatchNormalization": Lowering(elementwise.batch_norm, 5, 5, 3),
    "Add": Lowering(elementwise.binary, 2, 2),
    "Sub": Lowering(elementwise.binary, 2, 2),
    "Mul": Lowering(elementwise.binary, 2, 2),
    "Div": Lowering(elementwise.binary, 2, 2),
    "Identity": Lowering(elementwise.identity, 1, 1),
    "Dropout": Lowering(elementwise.identity, 1, 3, 2),
    "Cast": Lowering(elementwise.cast, 1, 1),
    "Pow": Lowering(elementwise.pow_, 2, 2),
    # activations
    "Relu": Lowering(activation.relu, 1, 1),
    "Sigmoid": Lowering(activation.sigmoid, 1, 1),
    "Tanh": Lowering(activation.tanh, 1, 1),
    "HardSwish": Lowering(activation.hard_swish, 1, 1),
    "LeakyRelu": Lowering(activation.leaky_relu, 1, 1),
    "Clip": Lowering(activation.clip, 1, 3),
    "HardSigmoid": Lowering(activation.hard_sigmoid, 1, 1),
    "Softmax": Lowering(activation.softmax, 1, 1),
    "Gelu": Lowering(activation.gelu, 1, 1),
    "LayerNormalization": Lowering(normalization.layer_norm, 2, 3, 3),
    # shape and axis
    "Reshape": Lowering(shape.reshape, 2, 2),
    "Flatten": Lowering(shape.flatten, 1, 1),
    "Squeeze": Lowering(shape.squeeze, 1, 2),
    "Unsqueeze": Lowering(shape.unsqueeze, 1, 2),
    "Transpose": Lowering(shape.transpose, 1, 1),
    "Concat": Lowering(shape.concat, 1, 1 << 16),
    "Pad": Lowering(shape.pad, 1, 4),
    "Slice": Lowering(shape.slice_, 3, 5),
    "Split": Lowering(shape.split, 1, 2, 1 << 16),
    "Gather": Lowering(shape.gather, 2, 2),
    # recurrent, unrolled
    "GRU": Lowering(recurrent.gru, 3, 6, 2),
    "LSTM": Lowering(recurrent.lstm, 3, 8, 3),
    # --- issue 10: ONNX lowerings onto TRANSPOSE_CONV, RESIZE_* and BATCH_MATMUL
    "ConvTranspose": Lowering(deconv.conv_transpose, 2, 3),
    "Resize": Lowering(resize.resize, 1, 4),
}

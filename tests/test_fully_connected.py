import numpy as np
import pytest

from microlith.ir import Op
from opmodels import act, assert_exact, const, single_op


@pytest.mark.parametrize("batches,depth,units,in_zp,out_zp,act_fn", [
    (1, 16, 8, 0, 0, "NONE"),
    (1, 33, 7, -128, 127, "RELU"),      # zero points at the int8 limits, odd sizes
    (3, 10, 1, 127, -128, "RELU6"),     # batches, one output unit
    (1, 1, 5, 5, -3, "RELU_N1_TO_1"),   # depth 1
])
def test_fully_connected_exact(tmp_path, batches, depth, units, in_zp, out_zp, act_fn):
    rng = np.random.default_rng(depth * 31 + units)
    x = act("x", (batches, depth), 0.07, in_zp)
    w = const("w", rng.integers(-127, 128, (units, depth)), scale=0.02, zp=0, dtype="int8")
    b = const("b", rng.integers(-3000, 3000, units), scale=0.07 * 0.02, dtype="int32")
    y = act("y", (batches, units), 0.11, out_zp)
    g = single_op(Op.FULLY_CONNECTED, [x, w, b], [y], dict(activation=act_fn, keep_num_dims=False))
    assert_exact(g, tmp_path)


def test_fully_connected_saturates_and_no_bias(tmp_path):
    # A tiny output scale drives most outputs to the int8 limits: checks saturation.
    rng = np.random.default_rng(1)
    x = act("x", (1, 64), 0.5, 3)
    w = const("w", rng.integers(-127, 128, (12, 64)), scale=0.05, dtype="int8")
    y = act("y", (1, 12), 0.01, -7)
    g = single_op(Op.FULLY_CONNECTED, [x, w, None], [y], dict(activation="NONE", keep_num_dims=False))
    assert_exact(g, tmp_path)

"""Cortex-M0 (ARMv6-M) paths against TFLM on the emulated core: the requantization routine of
csrc/common/ml_nn_m0.h (through every kernel that calls it), the two-pixels-per-MULS conv and
the same-shape ADD/SUB rescale. The conv/depthwise/FC geometry cases for M0 and M3 are in
test_fast_kernels.py (test_m0_m3_*)."""
import numpy as np
import pytest

import microlith
from microlith.ir import Op
from opmodels import act, single_op, write
from test_fast_kernels import on_cortexm, verify_on
from test_conv import conv_graph

EVERY_INT8 = np.arange(-128, 128, dtype=np.int8)


# Same-shape ADD/SUB on M0: every pair of int8 values; input shifts from the scales' ratio, the
# output shift from 0 (requantization's slow path) to -25, clamps narrower than int8.
@on_cortexm
@pytest.mark.parametrize("op", (Op.ADD, Op.SUB))
@pytest.mark.parametrize("s1,z1,s2,z2,so,zo,activation", [
    (0.05, 0, 0.05, 0, 0.1, 0, "NONE"),
    (0.02, -128, 0.9, 127, 0.3, -128, "RELU"),
    (0.5, 127, 0.01, -128, 0.05, 127, "RELU6"),
    (0.3, -20, 0.4, 30, 0.001, 5, "NONE"),
    (0.05, 3, 0.07, -5, 6.4, 100, "NONE"),
])
def test_add_sub_every_pair_on_m0(tmp_path, op, s1, z1, s2, z2, so, zo, activation):
    shape = (1, 65536)
    a, b = act("a", shape, s1, z1), act("b", shape, s2, z2)
    g = single_op(op, [a, b], [act("y", shape, so, zo)], dict(activation=activation))
    x = np.stack(np.meshgrid(EVERY_INT8, EVERY_INT8, indexing="ij")).reshape(2, -1)
    np.savez(tmp_path / "pairs.npz", a=x[0][None], b=x[1][None])
    res = microlith.verify(write(g, tmp_path), target="cortex-m0", samples=1, seed=0,
                           inputs=str(tmp_path / "pairs.npz"))
    assert res["bit_exact"], res

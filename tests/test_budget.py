"""compile --target BOARD: a model that does not fit the board fails with exit 1 and says by how much."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

from microlith.ir import Op
from opmodels import act, const, single_op, write

needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                               reason="needs arm-none-eabi-gcc and qemu-system-arm (apt-get install gcc-arm-none-eabi "
                                      "libnewlib-arm-none-eabi qemu-system-arm)")


def _big_activation_model(tmp_path):
    """One conv whose 1x200x200x8 output (320,000 B) cannot fit the nRF52840's 256 KB of RAM."""
    rng = np.random.default_rng(0)
    x = act("x", (1, 200, 200, 1), 0.1, 0)
    w = const("w", rng.integers(-127, 128, (8, 3, 3, 1)), scale=[0.01] * 8, dtype="int8")
    y = act("y", (1, 200, 200, 8), 0.1, 0)
    z = act("z", (1, 200, 200, 8), 0.1, 0)
    g = single_op(Op.CONV_2D, [x, w, None], [y], dict(padding="SAME", stride_h=1, stride_w=1, dilation_h=1,
                                                      dilation_w=1, activation="NONE"))
    # a second layer so the 320 KB intermediate lives in the arena, not in the caller's output
    from microlith.ir import Node
    g.tensors["z"] = z
    g.nodes.append(Node(Op.RELU, ("y",), ("z",), {}))
    g.outputs = ["z"]
    return write(g, tmp_path, "big_activation")


@needs_arm
@pytest.mark.cortexm
def test_over_budget_exits_1_and_says_by_how_much(tmp_path):
    model = _big_activation_model(tmp_path)
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "compile", str(model), "-o", str(tmp_path / "out"),
                          "--target", "nrf52840"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "RAM" in res.stderr and "exceeds the 262,144 B budget by" in res.stderr, res.stderr
    # the same model fits a board with more RAM
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "compile", str(model), "-o", str(tmp_path / "out2"),
                          "--target", "stm32l4r5"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr

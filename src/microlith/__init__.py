"""microlith: ahead-of-time compiler from TinyML models to standalone, byte-exact C."""
__version__ = "0.1.0"

from .ir import Graph, MicrolithError, Node, Op, Quant, Tensor  # noqa: E402,F401
from .api import compile, inspect, load, verify  # noqa: E402,F401

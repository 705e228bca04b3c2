"""microlith: ahead-of-time compiler from TinyML models to standalone, byte-exact C."""
__version__ = "0.1.0"

# The submodule `verify` is loaded first so that the name `microlith.verify` ends up bound to
# the API function below (a submodule import binds its name on the package only once).
from . import verify as _verify_module  # noqa: E402,F401
from . import quantize as _quantize_package  # noqa: E402,F401  (same for `microlith.quantize`)
from .ir import Graph, MicrolithError, Node, Op, Quant, Tensor  # noqa: E402,F401
from .api import compile, inspect, load, verify  # noqa: E402,F401
from .frontends.torch import from_torch  # noqa: E402,F401
from .quantize.api import quantize  # noqa: E402,F401
from . import search as _search_package  # noqa: E402,F401  (same for `microlith.search`)
from .search import search  # noqa: E402,F401

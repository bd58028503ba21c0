"""qflux: a universal SQL proxy and router on Trio.

import qflux
async with qflux.serve(qflux.load_config("qflux.yaml")) as proxy:
    host, port = proxy.address("trinoHttp")
"""

__version__ = "0.1.0"

import gc as _gc

# Importing qflux allocates some 100k long-lived objects (modules, pyarrow, sqlglot),
# and the collector would walk them again and again on the way: a tenth of the start-up
# CPU. It is paused for the imports only; whoever imports qflux gets its state back.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from qflux.config import Config, ConfigError, default_config, load_config
    from qflux.server import Server, StartupError, serve
finally:
    if _collecting:
        _gc.enable()

__all__ = [
    "Config",
    "ConfigError",
    "Server",
    "StartupError",
    "__version__",
    "default_config",
    "load_config",
    "serve",
]

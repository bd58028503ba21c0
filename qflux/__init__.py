"""qflux: a universal SQL proxy and router on Trio.

import qflux
async with qflux.serve(qflux.load_config("qflux.yaml")) as proxy:
    host, port = proxy.address("trinoHttp")
"""

__version__ = "0.1.0"

from qflux.config import Config, ConfigError, default_config, load_config
from qflux.server import Server, StartupError, serve

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

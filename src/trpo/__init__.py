"""trpo: Trust Region Policy Optimization in JAX for Gymnasium environments."""

__version__ = "0.1.0"

from trpo.agent import TRPO  # noqa: E402
from trpo.config import ConfigError, TRPOConfig  # noqa: E402

__all__ = ["TRPO", "TRPOConfig", "ConfigError", "__version__"]

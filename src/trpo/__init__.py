"""trpo: Trust Region Policy Optimization in JAX for Gymnasium environments."""

from trpo.config import ConfigError, TRPOConfig
from trpo.envs.partial import DropObservation
from trpo.training.agent import TRPO
from trpo.version import __version__

__all__ = ["TRPO", "TRPOConfig", "ConfigError", "DropObservation", "__version__"]

"""The numerics of TRPO: distributions, the trust-region step, advantages, networks, running
statistics and the learner's update. Pure functions of arrays; nothing here knows about envs."""

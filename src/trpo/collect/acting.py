"""The per-step acting path of the Sampler, in NumPy with buffers made once per rollout.

A step acts for all N envs at once: normalise the observations, run the actor MLP, add the
Gaussian noise. For N = 2 and a 64x64 MLP the arithmetic is a few microseconds, so what costs is
the number of NumPy calls and the arrays they allocate: here every operation writes into a
buffer (`out=`), the noise for the whole rollout is drawn in one call, and exp(log_std) is taken
once per rollout. Drawing the noise in one call consumes the generator exactly as drawing it
step by step does, so the actions are the same as those of `actor_forward` + `sample_numpy`.

Anything this fast path does not cover (other distributions, other network layouts) goes
through the generic `networks.acting_forward` + `Distribution.sample_numpy` (also CNN
actors, whose parameters stay on the device, and observation dicts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trpo.learning.distributions import DiagGaussian, Distribution
from trpo.learning.networks import acting_critic_state, acting_forward, acting_step
from trpo.learning.normalization import ObservationNormalizer
from trpo.learning.recurrent import reset, state_size


class RolloutActor:
    """Acts with fixed actor parameters and fixed normalisation for one rollout of n_steps."""

    def __init__(
        self,
        actor_np: Any,
        dist: Distribution,
        normalizer: ObservationNormalizer,
        rng: np.random.Generator,
        n_steps: int,
        num_envs: int,
        obs_dim: int,
    ):
        self.actor_np, self.dist, self.normalizer, self.rng = actor_np, dist, normalizer, rng
        self.fast = isinstance(dist, DiagGaussian) and set(actor_np) == {"mlp", "log_std"}
        if not self.fast:
            return
        self.layers = [(layer["w"], layer["b"]) for layer in actor_np["mlp"]]
        self.hidden = [np.empty((num_envs, w.shape[1]), np.float32) for w, _ in self.layers]
        self.norm_obs = np.empty((num_envs, obs_dim), np.float32)
        self.std = np.exp(actor_np["log_std"]).astype(np.float32)
        self.noise = rng.standard_normal((n_steps, num_envs, dist.action_dim), dtype=np.float32)
        n = normalizer
        self.shift, self.multiplier = (n.shift, n.multiplier) if n.enabled else (None, None)
        self.clip = n.clip

    def act(self, t: int, raw_obs: np.ndarray, out: np.ndarray) -> None:
        """Write the actions for step t of the rollout, given raw observations [N, D], into out."""
        if not self.fast:
            params = acting_forward(self.actor_np, self.normalizer(raw_obs))
            out[:] = self.dist.sample_numpy(self.rng, params, deterministic=False)
            return
        x = self.norm_obs
        if self.shift is None:
            x[:] = raw_obs
        else:
            np.subtract(raw_obs, self.shift, out=x)
            np.multiply(x, self.multiplier, out=x)
            np.minimum(x, self.clip, out=x)
            np.maximum(x, -self.clip, out=x)
        for (w, b), h in zip(self.layers[:-1], self.hidden[:-1], strict=True):
            np.matmul(x, w, out=h)
            np.add(h, b, out=h)
            np.tanh(h, out=h)
            x = h
        w, b = self.layers[-1]
        mean = self.hidden[-1]
        np.matmul(x, w, out=mean)
        np.add(mean, b, out=mean)
        # action = mean + std * noise
        np.multiply(self.noise[t], self.std, out=out)
        np.add(out, mean, out=out)


class RecurrentMemory:
    """The recurrent state of every env between steps, kept by the sampler across rollouts:
    the actor's and the critic's core states [N, S], and whether each env's next observation
    begins an episode (then both states are reset to 0 before it)."""

    def __init__(self, acting_params: Any, num_envs: int):
        core = acting_params["core"]
        size = state_size(core.kind, core.wh.shape[0])
        self.actor = np.zeros((num_envs, size), np.float32)
        self.critic = np.zeros((num_envs, size), np.float32)
        self.starts = np.ones(num_envs, bool)

    def fits(self, acting_params: Any) -> bool:
        core = acting_params["core"]
        return self.actor.shape[1] == state_size(core.kind, core.wh.shape[0])


class RecurrentRolloutActor:
    """Acts with a recurrent actor for the env rows `rows` of `memory`: resets the states where an
    episode starts, steps the actor's core (and the critic's, so the next rollout knows its
    state), samples the actions."""

    def __init__(
        self,
        acting_params: Any,
        dist: Distribution,
        normalizer: ObservationNormalizer,
        rng: np.random.Generator,
        memory: RecurrentMemory,
        rows: slice,
    ):
        self.acting_params, self.dist, self.normalizer, self.rng = acting_params, dist, normalizer, rng
        self.memory, self.rows = memory, rows

    def act(self, t: int, raw_obs: Any, out: np.ndarray) -> None:
        m, rows = self.memory, self.rows
        obs = self.normalizer(raw_obs)
        starts = m.starts[rows]
        params, m.actor[rows] = acting_step(self.acting_params, obs, reset(m.actor[rows], starts, np))
        m.critic[rows] = acting_critic_state(self.acting_params, obs, reset(m.critic[rows], starts, np))
        out[:] = self.dist.sample_numpy(self.rng, params, deterministic=False)

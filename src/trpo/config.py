"""TRPOConfig: every hyperparameter of a run, one docstring per field, validated on creation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

VEC_BACKENDS = ("sync", "async", "envpool")


class ConfigError(ValueError):
    """A hyperparameter is outside its allowed range; the message names the field and the range."""


@dataclass(frozen=True)
class TRPOConfig:
    # --- sampling ---------------------------------------------------------------------------
    num_envs: int = 8
    """number of environments stepped side by side"""
    n_steps: int = 128
    """steps per environment per iteration (the batch is num_envs * n_steps transitions)"""
    seed: int = 0
    """seed of the parameters, the action noise, the minibatch order and the environments"""
    sampler: Literal["local", "ray"] = "local"
    """where the envs are stepped: 'local' (this process) or 'ray' (Ray actors, pip install 'trpo[ray]')"""
    workers: int = 1
    """env groups, each with its own action-noise stream; with sampler=ray, one Ray actor per group
    (num_envs / workers envs each). A local run with the same workers collects the same batches"""
    vec: Literal["sync", "async", "envpool"] = "sync"
    """vector-env backend: 'sync' (envs in this process), 'async' (a subprocess per env, for slow
    envs), 'envpool' (EnvPool's C++ envs; pip install 'trpo[envpool]')"""
    train_time_limit: int = 0
    """cut training episodes after this many steps, as a time limit does (truncated: the critic
    bootstraps); 0: the env's own limit. Evaluation plays the env's whole episodes. More episode
    starts per batch, for envs where the start is the hard part (InvertedDoublePendulum)"""
    # --- advantages -------------------------------------------------------------------------
    gamma: float = 0.99
    """discount factor, in (0, 1]"""
    gae_lambda: float = 0.95
    """lambda of generalised advantage estimation, in [0, 1]"""
    normalize_advantages: bool = True
    """scale advantages to zero mean and unit std before the policy step"""
    # --- policy step (the trust region) -----------------------------------------------------
    max_kl: float = 0.01
    """trust-region radius delta: the mean KL(pi_old || pi_new) an accepted step may reach"""
    cg_iters: int = 10
    """conjugate-gradient iterations to approximate F^-1 g"""
    cg_damping: float = 0.1
    """damping added to the Fisher: (F + damping * I) v"""
    fisher_subsample: int = 1
    """Fisher-vector products use every k-th sample of the batch (OpenAI Baselines' trpo_mpi uses
    5): CG costs k times less, the gradient and the line search still use the whole batch"""
    cg_residual_tol: float = 1e-10
    """conjugate gradient stops early once the squared residual norm is below this"""
    backtrack_iters: int = 10
    """line-search trials: fractions 1, c, c^2, ... of the full step"""
    backtrack_coeff: float = 0.8
    """line-search shrink factor c, in (0, 1)"""
    npg: bool = False
    """natural policy gradient: take the full step with no line search"""
    entropy_coef: float = 0.0
    """entropy bonus: the policy step maximises the surrogate plus entropy_coef * the mean entropy of
    the policy on the batch (OpenAI Baselines' trpo_mpi entcoeff); it slows the collapse of the
    exploration noise. 0: off, the paper's surrogate. Too large and the noise grows without bound
    (watch train/entropy): Swimmer-v5 learns with 0.01 and fails with 0.03"""
    # --- critic -----------------------------------------------------------------------------
    critic_epochs: int = 10
    """passes of Adam over the batch per iteration to fit the value function"""
    critic_minibatch: int = 256
    """minibatch size of the critic fit (must not exceed num_envs * n_steps); a recurrent critic takes
    minibatches of critic_minibatch // n_steps whole env sequences (at least one)"""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic"""
    critic_lr_decay: bool = False
    """decay the critic learning rate linearly to 0 at the run's --total-steps (Tianshou); from Python, at
    TRPO(..., total_steps=N), or else at the end of each learn() call"""
    value_clip: float = 0.0
    """clip the critic's change per iteration as PPO does: loss max((V-R)^2, (V_old+clip(V-V_old)-R)^2);
    0 turns it off"""
    # --- networks and inputs ----------------------------------------------------------------
    hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layer widths of the actor and critic MLPs (tanh); empty: a linear head on the inputs"""
    critic_hidden_sizes: tuple[int, ...] | None = None
    """hidden layer widths of the critic MLP alone, e.g. 256 256 for a value network wider than the
    policy (Andrychowicz et al. 2021; SB3's net_arch=dict(pi=..., vf=...)); None: hidden_sizes"""
    cnn: Literal["nature", "small"] = "nature"
    """CNN for image observations: 'nature' (Mnih et al. 2015, for 84x84 frames) or 'small' (3x3
    convolutions, for images of a few pixels)"""
    recurrent: Literal["none", "lstm", "gru"] = "none"
    """recurrent core of actor and critic, between the observation encoder and the MLP: 'lstm' or
    'gru' for partially observed envs (trained on whole rollouts, docs/recurrent.md), 'none' for
    feed-forward networks"""
    recurrent_size: int = 64
    """units of the recurrent core (with recurrent lstm or gru)"""
    log_std_init: float = 0.0
    """initial log standard deviation of a Gaussian policy (state-independent)"""
    normalize_obs: bool = True
    """normalise observations by a running mean and variance"""
    obs_clip: float = 10.0
    """clip normalised observations to [-obs_clip, obs_clip] (inf: no clipping)"""
    exact_pi_old: bool = False
    """when the observation statistics take in a batch, rewrite the first layers of the actor and
    critic so they compute the same outputs (pi_old is then exactly the policy that collected the
    batch); off: pi_old is the actor on the batch renormalised (OpenAI Baselines). Off measured
    better for MLPs on MuJoCo (docs/results.md, "pi_old and the observation statistics"), on far
    better for recurrent policies (docs/recurrent.md): `trpo train --recurrent lstm|gru` turns it
    on unless --no-exact-pi-old is given"""
    normalize_rewards: bool = False
    """divide rewards by the running std of the discounted return (SB3 VecNormalize, Tianshou rew_norm)"""
    reward_clip: float = 10.0
    """clip scaled rewards to [-reward_clip, reward_clip] (inf: no clipping)"""

    def __post_init__(self) -> None:
        validate(self)

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.n_steps

    @property
    def critic_sizes(self) -> tuple[int, ...]:
        """The critic MLP's hidden widths: critic_hidden_sizes, or hidden_sizes when it is None."""
        return self.hidden_sizes if self.critic_hidden_sizes is None else self.critic_hidden_sizes

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        out["critic_hidden_sizes"] = None if self.critic_hidden_sizes is None else list(self.critic_hidden_sizes)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TRPOConfig:
        """Build from a mapping (a YAML preset, a saved config); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
        values = dict(values)
        for name in ("hidden_sizes", "critic_hidden_sizes"):
            if values.get(name) is not None:
                values[name] = _as_sizes(values[name])
        return cls(**values)

    def replace(self, **changes: Any) -> TRPOConfig:
        return dataclasses.replace(self, **changes)


def _as_sizes(value: Any) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,)
    return tuple(value)


def validate(c: TRPOConfig) -> None:
    """Raise ConfigError naming the first field that is out of range."""

    def need(ok: bool, field: str, allowed: str) -> None:
        if not ok:
            raise ConfigError(f"{field}={getattr(c, field)!r} is invalid: {allowed}")

    for name in (
        "num_envs",
        "n_steps",
        "workers",
        "cg_iters",
        "backtrack_iters",
        "critic_epochs",
        "critic_minibatch",
        "fisher_subsample",
        "recurrent_size",
    ):
        value = getattr(c, name)
        need(isinstance(value, int) and not isinstance(value, bool) and value > 0, name, "must be a positive integer")
    need(isinstance(c.seed, int) and c.seed >= 0, "seed", "must be an integer >= 0")
    need(
        isinstance(c.train_time_limit, int) and not isinstance(c.train_time_limit, bool) and c.train_time_limit >= 0,
        "train_time_limit",
        "must be an integer >= 0 (0: the env's own time limit)",
    )
    need(
        c.train_time_limit == 0 or c.vec != "envpool",
        "train_time_limit",
        "is not supported with vec='envpool' (EnvPool sets its own episode limit); use vec='sync' or 'async'",
    )
    need(c.sampler in ("local", "ray"), "sampler", "must be 'local' or 'ray'")
    need(
        c.num_envs % c.workers == 0,
        "workers",
        f"must divide num_envs={c.num_envs}: set num_envs to a multiple of workers (or use --envs-per-worker)",
    )
    need(0.0 < c.gamma <= 1.0, "gamma", "must be in (0, 1]")
    need(0.0 <= c.gae_lambda <= 1.0, "gae_lambda", "must be in [0, 1]")
    need(c.max_kl > 0.0, "max_kl", "must be > 0 (typical: 0.001 to 0.05)")
    need(c.cg_damping >= 0.0, "cg_damping", "must be >= 0 (typical: 0.01 to 0.1)")
    need(c.cg_residual_tol >= 0.0, "cg_residual_tol", "must be >= 0")
    need(
        0.0 <= c.entropy_coef < float("inf"),
        "entropy_coef",
        "must be a finite number >= 0 (0: off; Baselines' trpo_mpi uses 0 to 0.01)",
    )
    need(0.0 < c.backtrack_coeff < 1.0, "backtrack_coeff", "must be in (0, 1)")
    need(c.vec in VEC_BACKENDS, "vec", f"must be one of {', '.join(VEC_BACKENDS)}")
    need(
        c.sampler == "local" or c.vec == "sync",
        "vec",
        "must be 'sync' with sampler='ray' (each Ray worker steps its own envs in its process)",
    )
    need(c.critic_lr > 0.0, "critic_lr", "must be > 0")
    need(c.obs_clip > 0.0, "obs_clip", "must be > 0")
    need(c.reward_clip > 0.0, "reward_clip", "must be > 0 (inf: no clipping)")
    need(c.value_clip >= 0.0, "value_clip", "must be >= 0 (0: off; PPO uses 0.2 with normalised rewards)")
    need(
        c.fisher_subsample <= c.batch_size,
        "fisher_subsample",
        f"must be <= num_envs * n_steps = {c.batch_size}",
    )
    need(
        all(isinstance(h, int) and h > 0 for h in c.hidden_sizes),
        "hidden_sizes",
        "must be positive integers, e.g. 64 64 (none for a linear head)",
    )
    need(
        c.critic_hidden_sizes is None or all(isinstance(h, int) and h > 0 for h in c.critic_hidden_sizes),
        "critic_hidden_sizes",
        "must be positive integers, e.g. 256 256 (none for a linear head on the inputs), or None for hidden_sizes",
    )
    need(c.cnn in ("nature", "small"), "cnn", "must be 'nature' or 'small'")
    need(c.recurrent in ("none", "lstm", "gru"), "recurrent", "must be 'none', 'lstm' or 'gru'")
    if c.recurrent != "none":
        need(
            c.fisher_subsample <= c.num_envs,
            "fisher_subsample",
            f"must be <= num_envs={c.num_envs} with a recurrent policy (the Fisher uses every k-th env's sequence)",
        )
    need(
        c.critic_minibatch <= c.batch_size,
        "critic_minibatch",
        f"must be <= num_envs * n_steps = {c.batch_size}",
    )

"""The compiled path's resume check, shared by the feed-forward and the recurrent tests: a run of
2 iterations resumed to 4 (`trpo train --resume`) must write the metrics of one run of 4."""

import numpy as np

from trpo.cli import main
from trpo.training.logger import read_metrics

TINY_FLAGS = ["--num-envs", "4", "--n-steps", "16", "--critic-minibatch", "32", "--critic-epochs", "2"]
TINY_FLAGS += ["--hidden-sizes", "16", "--cg-iters", "5", "--eval-episodes", "2", "--quiet", "--preset", "none"]


def assert_resumed_equals_straight(tmp_path, extra_flags):
    """Train gymnax:CartPole-v1 for 4 iterations straight and for 2 then --resume to 4 (a
    checkpoint every iteration); every metrics column but time/* must be equal. Returns the run
    directories (straight, resumed)."""
    flags = [*TINY_FLAGS, "--checkpoint-every", "1", *extra_flags]
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert main(["train", "gymnax:CartPole-v1", "--total-steps", "256", "--run-dir", str(whole), *flags]) == 0
    assert main(["train", "gymnax:CartPole-v1", "--total-steps", "128", "--run-dir", str(split), *flags]) == 0
    assert main(["train", "--resume", str(split), "--total-steps", "256", "--quiet"]) == 0
    expected, got = read_metrics(whole), read_metrics(split)
    assert list(expected) == list(got) and len(got["global_step"]) == 4
    for name in expected:
        if not name.startswith("time/"):
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    return whole, split

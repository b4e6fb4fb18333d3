"""benchmarks/halfcheetah_gait.py: the pitch is wrapped before it is judged, since a cheetah
that rolls over accumulates whole turns."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import halfcheetah_gait  # noqa: E402


def test_whole_turns_wrap_back():
    turns = np.array([0.1, 2 * math.pi + 0.1, -2 * math.pi + 0.1, 3 * math.pi - 0.1])
    assert halfcheetah_gait.wrapped(turns) == pytest.approx([0.1, 0.1, 0.1, math.pi - 0.1])


def test_upside_down_share_counts_steps_past_vertical():
    # upright, nose-down 1.1 rad, on its back (pi - 0.2), on its back after a full extra turn
    pitch = np.array([0.05, 1.1, math.pi - 0.2, 3 * math.pi - 0.2])
    assert halfcheetah_gait.upside_down_share(pitch) == 0.5

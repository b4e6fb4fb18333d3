"""Learning-curve plots: the mean/std over seeds, grouping, and a real PNG."""

import json

import matplotlib.image
import numpy as np
import pytest
import yaml

from trpo.cli import main
from trpo.runs.plot import PlotError, find_runs, group_runs, load_run, mean_std_curve


def _fake_run(folder, env_id, seed, steps, values, **config):
    folder.mkdir(parents=True)
    config = {"max_kl": 0.01, **config, "seed": seed}
    (folder / "config.yaml").write_text(yaml.safe_dump({"env_id": env_id, "config": config}))
    lines = ["global_step,rollout/ep_return_mean,time/sps"]
    lines += [f"{s},{v},1000.0" for s, v in zip(steps, values, strict=True)]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_mean_std_curve_interpolates_onto_the_shared_steps():
    # Run A is logged at 0, 10, 20 with values 0, 10, 20; run B at 0, 20, 30 with 2, 2, 2.
    # Common range: 0..20 (B's extra step 30 is past A's end). Grid: {0, 10, 20}.
    # A: 0, 10, 20. B interpolated: 2, 2, 2. Mean: 1, 6, 11. Std (population): 1, 4, 9.
    steps, mean, std = mean_std_curve(
        [(np.array([0.0, 10.0, 20.0]), np.array([0.0, 10.0, 20.0])), (np.array([0.0, 20.0, 30.0]), np.full(3, 2.0))]
    )
    np.testing.assert_allclose(steps, [0, 10, 20])
    np.testing.assert_allclose(mean, [1, 6, 11])
    np.testing.assert_allclose(std, [1, 4, 9])


def test_groups_by_env_and_config_not_seed(tmp_path):
    steps = [100, 200]
    _fake_run(tmp_path / "a0", "CartPole-v1", 0, steps, [1, 2])
    _fake_run(tmp_path / "a1", "CartPole-v1", 1, steps, [3, 4])
    _fake_run(tmp_path / "b0", "CartPole-v1", 0, steps, [5, 6], max_kl=0.02)
    _fake_run(tmp_path / "p0", "Pendulum-v1", 0, steps, [7, float("nan")])
    runs = [load_run(p, "rollout/ep_return_mean") for p in find_runs([tmp_path])]
    groups = group_runs(runs)
    assert [(g.env_id, len(g.runs)) for g in groups] == [("CartPole-v1", 2), ("CartPole-v1", 1), ("Pendulum-v1", 1)]
    assert groups[0].label == "max_kl=0.01 (2 seeds)"
    assert groups[1].label == "max_kl=0.02 (1 seed)"
    assert groups[2].label == "Pendulum-v1 (1 seed)"
    assert groups[0].describe()["final_mean"] == 3.0  # mean of 2 and 4
    assert groups[0].describe()["final_std"] == 1.0
    assert groups[2].runs[0].steps.tolist() == [100]  # the NaN row is left out
    _fake_run(tmp_path / "p0_again", "Pendulum-v1", 0, steps, [8, 9])
    again = group_runs([load_run(p, "rollout/ep_return_mean") for p in find_runs([tmp_path])])
    assert again[2].label == "Pendulum-v1 (2 runs, seeds 0, 0)"


def test_plot_writes_a_png_with_content(tmp_path, capsys):
    rng = np.random.default_rng(0)
    steps = np.arange(1, 21) * 1000
    for seed in range(3):
        _fake_run(tmp_path / "runs" / f"cp{seed}", "CartPole-v1", seed, steps, np.cumsum(rng.random(20)) * 20)
        _fake_run(tmp_path / "runs" / f"pd{seed}", "Pendulum-v1", seed, steps, -1000 + np.cumsum(rng.random(20)) * 40)
    out = tmp_path / "curves.png"
    assert main(["plot", str(tmp_path / "runs"), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [g["env_id"] for g in report["groups"]] == ["CartPole-v1", "Pendulum-v1"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 200 and image.shape[1] > 600  # two panels side by side
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_plot_errors_name_the_fix(tmp_path):
    with pytest.raises(PlotError, match="no runs under"):
        find_runs([tmp_path])
    _fake_run(tmp_path / "r", "CartPole-v1", 0, [1], [1])
    with pytest.raises(PlotError, match="no column 'train/nope'; columns: global_step"):
        load_run(tmp_path / "r", "train/nope")


def test_ci_band_is_the_bootstrap_interval_of_the_mean_and_std_band_is_mean_plus_minus_std(tmp_path, capsys):
    # Three seeds of 1, 2, 6 at every step: mean 3, population std sqrt((4 + 1 + 9) / 3) = 2.16.
    for seed, value in enumerate([1.0, 2.0, 6.0]):
        _fake_run(tmp_path / f"s{seed}", "CartPole-v1", seed, [100, 200], [value, value])
    (group,) = group_runs([load_run(p, "rollout/ep_return_mean") for p in find_runs([tmp_path])])
    steps, mean, lower, upper = group.band("std")
    np.testing.assert_allclose(mean, [3.0, 3.0])
    np.testing.assert_allclose(upper - mean, [np.sqrt(14 / 3)] * 2)
    steps, mean, lower, upper = group.band("ci")
    # Resampled means of three runs lie between 1 (all seed 0) and 6 (all seed 2); the 95%
    # interval of this bootstrap is narrower than that and holds the mean.
    assert (1.0 <= lower).all() and (lower < mean).all() and (mean < upper).all() and (upper <= 6.0).all()
    assert lower[0] == lower[1] and upper[0] == upper[1]  # whole runs resampled: the same at each step
    out = tmp_path / "ci.png"
    assert main(["plot", str(tmp_path), "--band", "ci", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(PlotError, match="unknown band 'sem'"):
        group.band("sem")

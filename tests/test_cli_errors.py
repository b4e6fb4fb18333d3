"""The CLI on bad input and faults: one clear message, the right exit status, no traceback, and
a checkpoint that loads. Each case is a real `trpo` process; the cases of a test run side by
side, since each process pays the JAX import."""

import os
import signal
import time

from cli_process import finish, start
from trpo.training.checkpoint import load


def test_bad_input_is_one_clear_message_and_exit_2(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("max_kl: [0.01\n")
    unknown_key = tmp_path / "typo.yaml"
    unknown_key.write_text("max_kll: 0.02\n")
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "config.yaml").write_text("env_id: CartPole-v1\n")
    run = tmp_path / "new"
    cases = {
        "unknown env": (["CartPole-v9"], "unknown environment id 'CartPole-v9'. Did you mean: CartPole-v1"),
        "space": (["faulty_envs:faulty/TextObs-v0"], "unsupported observation space Text(1, 8, charset="),
        "max_kl": (["CartPole-v1", "--max-kl", "0"], "max_kl=0.0 is invalid: must be > 0"),
        "gamma": (["CartPole-v1", "--gamma", "1.5"], "gamma=1.5 is invalid: must be in (0, 1]"),
        "minibatch": (
            ["CartPole-v1", "--num-envs", "2", "--n-steps", "8", "--critic-minibatch", "64"],
            "critic_minibatch=64 is invalid: must be <= num_envs * n_steps = 16",
        ),
        "hidden": (
            ["CartPole-v1", "--hidden-sizes", "64", "0"],
            "hidden_sizes=(64, 0) is invalid: must be positive integers",
        ),
        "yaml": (["CartPole-v1", "--preset", broken], f"preset {broken} does not parse as YAML"),
        "key": (["CartPole-v1", "--preset", unknown_key], f"preset {unknown_key}: unknown key(s) max_kll; known keys:"),
        "make_kwargs form": (
            ["CartPole-v1", "--make-kwargs", "sutton_barto_reward"],
            "--make-kwargs 'sutton_barto_reward': give KEY=VALUE pairs of gymnasium.make arguments",
        ),
        "make_kwargs name": (
            ["CartPole-v1", "--make-kwargs", "no_such_arg=1"],
            "CartPole-v1 does not accept the gymnasium.make arguments {'no_such_arg': 1}",
        ),
        "make_kwargs compiled": (
            ["gymnax:CartPole-v1", "--make-kwargs", "a=1"],
            "gymnax:/brax: envs take no gymnasium.make arguments",
        ),
        "eval episodes": (
            ["CartPole-v1", "--eval-episodes", "0"],
            "--eval-episodes 0 is invalid: the run ends with a deterministic evaluation of at least 1 episode",
        ),
        "run dir": (
            ["CartPole-v1", "--run-dir", existing],
            f"{existing} already holds a run; pass --overwrite to replace it, --resume {existing} to continue it",
        ),
    }
    processes = {
        name: start("train", *args, *([] if "--run-dir" in args else ["--run-dir", run]))
        for name, (args, _) in cases.items()
    }
    empty = tmp_path / "empty"
    empty.mkdir()
    cases["eval"] = ([], f"{empty} holds no run (no config.yaml); give a folder made by `trpo train`")
    processes["eval"] = start("eval", empty)
    cases["plot"] = ([], f"no runs under {empty}: a run directory holds config.yaml and metrics.csv")
    processes["plot"] = start("plot", empty)
    for name, process in processes.items():
        code, out, err = finish(process)
        assert code == 2, (name, err)
        # Flag values are checked while tyro parses them: it shows the same message in its box.
        in_box = name in ("max_kl", "gamma", "minibatch", "hidden")
        assert err.startswith("╭" if in_box else "error: "), (name, err)
        assert cases[name][1] in err, (name, err)
        assert "Traceback" not in err and out == "", name
    assert not run.exists()  # nothing half-made is left behind


def test_env_fault_stops_with_the_env_and_step_after_saving_a_checkpoint(tmp_path):
    # 2 envs x 64 steps per iteration; the fault is at env step 100, in the second iteration.
    # --preset none: the family lookup of `auto` makes one env to read its spaces, which would
    # shift the instance numbers that choose the failing env (tests/faulty_envs.py).
    common = ["--num-envs", 2, "--n-steps", 64, "--critic-minibatch", 64, "--hidden-sizes", 8, "--quiet"]
    common += ["--preset", "none"]
    faults = {
        "NaNReward": "returned a non-finite reward (nan) at its step 100.",
        "Raises": "raised RuntimeError in step() at its step 100: simulator exploded",
    }
    processes = {
        name: start("train", f"faulty_envs:faulty/{name}-v0", "--run-dir", tmp_path / name, *common) for name in faults
    }
    for name, process in processes.items():
        code, out, err = finish(process)
        run = tmp_path / name
        assert code == 1, err
        assert f"error: env faulty_envs:faulty/{name}-v0 (index 1) {faults[name]}" in err
        assert f"saved a checkpoint at step 128 to {run / 'checkpoints' / 'latest'}" in err
        assert f"continue with: trpo train --resume {run}" in err
        assert "Traceback" not in err
        assert load(run / "checkpoints")[1]["global_step"] == 128


def test_env_fault_in_the_final_evaluation_keeps_the_training_and_names_trpo_eval(tmp_path):
    # Instances 0 and 1 of faulty/EvalRaises-v0 are the 2 training envs; instance 2, made fresh
    # for the evaluation (in `trpo train` and again in `trpo eval`), raises at its step 30.
    run, env = tmp_path / "run", "faulty_envs:faulty/EvalRaises-v0"
    common = ["--num-envs", 2, "--n-steps", 64, "--critic-minibatch", 64, "--hidden-sizes", 8, "--quiet"]
    common += ["--preset", "none"]  # no family lookup, which would make an env (see above)
    fault = f"error: env {env} raised RuntimeError in step() in evaluation episode 1 at its step 30: simulator exploded"
    code, out, err = finish(start("train", env, "--total-steps", 128, "--run-dir", run, *common))
    assert code == 1, err
    assert fault in err and "Traceback" not in err
    assert f"training finished: the checkpoint at step 128 ({run / 'checkpoints' / 'latest'}) and metrics.csv" in err
    assert f"Evaluate again with: trpo eval {run}" in err
    assert load(run / "checkpoints")[1]["global_step"] == 128
    assert len((run / "metrics.csv").read_text().splitlines()) == 2  # the header and the one iteration (2 x 64 steps)
    assert not (run / "summary.json").exists()

    code, out, err = finish(start("eval", run, "--episodes", 2))
    assert code == 1, err
    assert fault in err and "Traceback" not in err
    assert "the run's checkpoint is unchanged and no eval.json was written" in err
    assert not (run / "eval.json").exists()


def wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def kill_during_a_checkpoint_write(process, folder, timeout=60):
    """SIGKILL the moment a temporary checkpoint file exists, i.e. while a write is under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(name.endswith(".tmp") for name in os.listdir(folder)):
            process.kill()
            return True
    process.kill()
    return False


def test_signals_save_a_checkpoint_and_kill_9_never_breaks_one(tmp_path):
    # Tiny iterations with a checkpoint after each, so the process writes checkpoints most of the
    # time; the SIGKILL'd run has a larger network (1.3 MB checkpoints) to widen the write window.
    tiny = ["--num-envs", 1, "--n-steps", 16, "--critic-minibatch", 16, "--critic-epochs", 1]
    args = ["faulty_envs:faulty/Healthy-v0", "--total-steps", 10**7, "--checkpoint-every", 1, "--quiet", *tiny]
    hidden = {"SIGINT": [8], "SIGTERM": [8], "SIGKILL": [256, 256]}
    processes = {
        name: start("train", *args, "--hidden-sizes", *sizes, "--run-dir", tmp_path / name)
        for name, sizes in hidden.items()
    }
    for name, process in processes.items():
        wait_for(tmp_path / name / "checkpoints" / "latest", process)
    time.sleep(1.0)
    processes["SIGINT"].send_signal(signal.SIGINT)
    processes["SIGTERM"].send_signal(signal.SIGTERM)
    assert kill_during_a_checkpoint_write(processes["SIGKILL"], tmp_path / "SIGKILL" / "checkpoints")
    for name, process in processes.items():
        code, out, err = finish(process, timeout=120)
        run = tmp_path / name
        _, meta = load(run / "checkpoints")
        assert meta["global_step"] > 0
        if name == "SIGKILL":
            assert code == -signal.SIGKILL
            for numbered in (run / "checkpoints").glob("iter_*.npz"):
                load(numbered)
        else:
            assert code == 128 + getattr(signal, name), err
            assert err == (
                f"stopped by {name}: saved a checkpoint at step {meta['global_step']} to "
                f"{run / 'checkpoints' / 'latest'}; continue with: trpo train --resume {run}"
            )

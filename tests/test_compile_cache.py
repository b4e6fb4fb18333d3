"""JAX's persistent compilation cache: on by default in the user's cache folder, moved or turned
off by TRPO_JAX_CACHE, and off for `--no-compile-cache` (in this process and its children)."""

import os
from pathlib import Path

import jax
import pytest

from trpo.training import compile_cache


@pytest.fixture
def restore_jax_cache_config():
    saved = jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs
    yield
    jax.config.update("jax_compilation_cache_dir", saved[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", saved[1])


def test_default_folder_is_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("TRPO_JAX_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert compile_cache.cache_dir() == Path.home() / ".cache" / "trpo" / "jax"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.cache_dir() == tmp_path / "trpo" / "jax"


@pytest.mark.parametrize("value", ["off", "OFF", "0", "none", "false", ""])
def test_off_values_leave_jax_without_a_cache(monkeypatch, value, restore_jax_cache_config):
    monkeypatch.setenv("TRPO_JAX_CACHE", value)
    jax.config.update("jax_compilation_cache_dir", None)
    assert compile_cache.enable_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir is None


def test_a_folder_in_the_variable_becomes_jaxs_cache_dir(monkeypatch, tmp_path, restore_jax_cache_config):
    monkeypatch.setenv("TRPO_JAX_CACHE", str(tmp_path / "cache"))
    assert compile_cache.enable_compilation_cache() == tmp_path / "cache"
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cache")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == compile_cache.MIN_COMPILE_SECONDS


def test_no_compile_cache_turns_it_off_for_child_processes_too(monkeypatch):
    monkeypatch.setenv("TRPO_JAX_CACHE", "/somewhere")
    compile_cache.turn_off_compilation_cache()
    assert os.environ["TRPO_JAX_CACHE"] == "off" and compile_cache.cache_dir() is None


def test_the_cli_flag_is_no_compile_cache(monkeypatch):
    from trpo import cli

    called = []
    monkeypatch.setattr(cli, "turn_off_compilation_cache", lambda: called.append(True))
    monkeypatch.setattr(cli, "train", lambda *a, **k: {"stopped": "before training"})
    monkeypatch.setattr(cli, "prepare_run_dir", lambda *a, **k: None)
    assert cli.cmd_train(["CartPole-v1", "--no-compile-cache", "--quiet"]) == 0
    assert called == [True]

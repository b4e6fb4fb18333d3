import jax
import pytest


@pytest.fixture(autouse=True)
def no_persistent_cache(monkeypatch):
    """Tests compile from scratch and leave nothing in ~/.cache (trpo turns JAX's persistent
    compilation cache on by default; child processes inherit the variable)."""
    monkeypatch.setenv("TRPO_JAX_CACHE", "off")


@pytest.fixture
def x64():
    """Run the test body with 64-bit JAX arrays, for comparisons against dense derivations."""
    with jax.enable_x64(True):
        yield

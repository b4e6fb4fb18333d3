import jax
import pytest


@pytest.fixture
def x64():
    """Run the test body with 64-bit JAX arrays, for comparisons against dense derivations."""
    with jax.enable_x64(True):
        yield

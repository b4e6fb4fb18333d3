"""benchmarks/flop_budget.py rests on how XLA's cost analysis counts: a matrix product as
2 n m k FLOPs, and a loop's body once. Checked here against those counts, worked by hand."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import flop_budget  # noqa: E402


def compiled(f, *args):
    return jax.jit(f).lower(*args).compile()


def test_a_matrix_product_counts_2nmk():
    a, b = jnp.ones((64, 32)), jnp.ones((32, 16))
    assert flop_budget.flops_of(compiled(lambda a, b: a @ b, a, b)) == 2 * 64 * 32 * 16


def test_a_loop_body_counts_once_and_an_unrolled_loop_whole():
    a = jnp.ones((32, 32))

    def body(x, _):
        return x @ a, None

    looped = compiled(lambda x: jax.lax.scan(body, x, None, length=5)[0], a)
    unrolled = compiled(lambda x: jax.lax.scan(body, x, None, length=5, unroll=True)[0], a)
    # (the loop's counter adds a FLOP or two)
    assert flop_budget.flops_of(looped) == pytest.approx(2 * 32**3, rel=1e-3)
    assert flop_budget.flops_of(unrolled) == pytest.approx(5 * 2 * 32**3, rel=1e-3)


def test_table_divides_the_matmul_throughput_by_the_flops_per_step():
    rows = {"Env-v0": {"steps": 100, "policy": 3e9, "critic": 1e9, "acting": 1e9}}
    text = flop_budget.table(rows, peak=1e11)
    assert "| Env-v0 | 100 | 3.0 | 1.0 | 1.0 | 50.0 | 2,000 |" in text

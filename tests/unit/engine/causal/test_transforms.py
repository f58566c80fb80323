"""Adstock and saturation shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from engine.causal.transforms import (
    adstock,
    geometric_weights,
    hill,
    lag_stack,
    log_hill,
    log_logistic,
    logistic,
    weibull_weights,
)


def test_lag_stack_shifts_each_lag() -> None:
    spend = np.arange(12, dtype=float).reshape(6, 2)
    lagged = lag_stack(spend, 3)
    assert lagged.shape == (6, 3, 2)
    np.testing.assert_array_equal(lagged[:, 0], spend)
    np.testing.assert_array_equal(lagged[2:, 2], spend[:-2])
    assert not lagged[:2, 2].any()


def test_adstock_moves_spend_in_time_without_creating_any() -> None:
    spend = np.zeros((20, 2))
    spend[3] = [100.0, 50.0]
    for weights in (
        geometric_weights(jnp.array([0.5, 0.8]), 10),
        weibull_weights(jnp.array([2.0, 0.8]), jnp.array([3.0, 1.5]), 10),
    ):
        np.testing.assert_allclose(weights.sum(axis=0), 1.0, rtol=1e-6)
        carried = np.asarray(adstock(jnp.asarray(lag_stack(spend, 10)), weights))
        np.testing.assert_allclose(carried.sum(axis=0), [100.0, 50.0], rtol=1e-5)
        assert not carried[:3].any()


def test_geometric_decays_and_weibull_can_peak_later() -> None:
    geometric = np.asarray(geometric_weights(jnp.array([0.6]), 6))[:, 0]
    assert np.all(np.diff(geometric) < 0)
    delayed = np.asarray(weibull_weights(jnp.array([3.0]), jnp.array([3.0]), 8))[:, 0]
    assert 1 <= int(np.argmax(delayed)) <= 4


def test_saturation_curves() -> None:
    x = jnp.array([0.0, 0.5, 1.0, 2.0, 100.0])
    curve = np.asarray(hill(x, jnp.array(1.0), jnp.array(2.0)))
    assert curve[0] == 0.0
    assert abs(curve[2] - 0.5) < 1e-6
    assert np.all(np.diff(curve) > 0)
    assert curve[-1] < 1.0
    s_curve = np.asarray(logistic(x, jnp.array(1.0)))
    assert s_curve[0] == 0.0
    np.testing.assert_allclose(s_curve[2], (1 - np.exp(-1)) / (1 + np.exp(-1)), rtol=1e-6)


def test_log_curves_match_the_curves_where_those_are_accurate() -> None:
    x = jnp.array([0.0, 0.05, 0.5, 1.0, 2.0, 6.0], dtype=jnp.float32)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(
            np.asarray(log_hill(x, jnp.array(0.8), jnp.array(1.7))),
            np.log(np.asarray(hill(x, jnp.array(0.8), jnp.array(1.7)))),
            rtol=1e-5,
        )
        np.testing.assert_allclose(
            np.asarray(log_logistic(x, jnp.array(1.3))),
            np.log(np.asarray(logistic(x, jnp.array(1.3)))),
            rtol=1e-4,
        )


def test_log_curves_stay_finite_with_gradients_where_the_plain_curves_break() -> None:
    # (x / K)^s overflows single precision here and tanh rounds to exactly 1: the plain Hill
    # curve is NaN and the plain logistic has no slope left, which made NUTS diverge.
    x = jnp.array([0.0, 0.01, 3.0], dtype=jnp.float32)
    assert np.isnan(np.asarray(hill(x, jnp.array(0.01), jnp.array(30.0)))[2])
    steep = np.asarray(log_hill(x, jnp.array(0.01), jnp.array(30.0)))
    assert steep[0] == -np.inf
    assert np.all(np.isfinite(steep[1:]))

    def total(params: jax.Array) -> jax.Array:
        positive = x[1:]
        return (
            log_hill(positive, params[0], params[1]).sum() + log_logistic(positive, params[2]).sum()
        )

    gradient = np.asarray(jax.grad(total)(jnp.array([0.01, 30.0, 20.0], dtype=jnp.float32)))
    assert np.all(np.isfinite(gradient))
    assert gradient[2] > 0  # a still steeper logistic still fits x = 0.01 better

    def masked(params: jax.Array) -> jax.Array:
        # No spend, or spend carried over with weights that decayed to almost nothing: the
        # curves are -inf there, and neither may poison the gradients (1/x at x = 1e-40 is inf).
        carried = jnp.array([0.0, 1e-40, 1e-20, 1.0], dtype=jnp.float32) * params[3]
        curve = jnp.exp(log_hill(carried, params[0], params[1]))
        return (curve + jnp.exp(log_logistic(carried, params[2]))).sum()

    gradient = np.asarray(jax.grad(masked)(jnp.array([1.0, 2.0, 1.0, 1.0])))
    assert np.all(np.isfinite(gradient))

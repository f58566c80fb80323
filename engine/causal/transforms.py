"""Adstock and saturation, vectorised over periods and channels (JAX)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from numpy.typing import NDArray


def lag_stack(spend: NDArray[np.float64], max_lag: int) -> NDArray[np.float64]:
    """(periods, channels) -> (periods, max_lag, channels) with ``out[t, l] = spend[t - l]``.

    Built once per dataset, so each adstock evaluation inside the sampler is one contraction.
    """
    periods, channels = spend.shape
    out = np.zeros((periods, max_lag, channels), dtype=np.float64)
    for lag in range(max_lag):  # max_lag is small (≤ 52); the periods are vectorised
        out[lag:, lag, :] = spend[: periods - lag]
    return out


def geometric_weights(alpha: Array, max_lag: int) -> Array:
    """Normalised ``alpha ** l`` for each channel: (max_lag, channels)."""
    lags = jnp.arange(max_lag, dtype=alpha.dtype)[:, None]
    weights = alpha[None, :] ** lags
    return weights / weights.sum(axis=0, keepdims=True)


def weibull_weights(shape: Array, scale: Array, max_lag: int) -> Array:
    """Normalised Weibull density at the middle of each lag: a peak after ``scale`` periods when
    ``shape > 1`` (delayed response), a geometric-like decay when ``shape <= 1``."""
    x = (jnp.arange(max_lag, dtype=shape.dtype) + 0.5)[:, None]
    z = x / scale[None, :]
    log_pdf = (
        jnp.log(shape / scale)[None, :] + (shape[None, :] - 1) * jnp.log(z) - z ** shape[None, :]
    )
    weights = jnp.exp(log_pdf - log_pdf.max(axis=0, keepdims=True))
    return weights / weights.sum(axis=0, keepdims=True)


def adstock(lagged: Array, weights: Array) -> Array:
    """(..., periods, lags, channels) · (lags, channels) -> (..., periods, channels); the
    leading axes (geos) are optional."""
    return jnp.einsum("...tlc,lc->...tc", lagged, weights)


def hill(x: Array, half_saturation: Array, slope: Array) -> Array:
    """``x^s / (x^s + K^s)``: 0 at no spend, ½ at ``K``, towards 1 beyond."""
    ratio = jnp.where(x > 0, x, 1.0) / half_saturation
    powered = jnp.where(x > 0, ratio**slope, 0.0)
    return powered / (1.0 + powered)


# Carried spend below this (in units of the channel's mean spend) counts as none: the log
# curves' gradients grow like 1/x, and carry-over weights that decay to 1e-30 and below would
# otherwise turn them into inf * 0 = NaN in single precision. A millionth of a typical period's
# spend moves no KPI anyone could measure.
NEGLIGIBLE_SPEND = 1e-6


def log_hill(x: Array, half_saturation: Array, slope: Array) -> Array:
    """``log hill(x)`` computed as ``log sigmoid(s · (log x - log K))``: finite gradients and no
    overflow in single precision, where ``(x / K)^s`` overflows for a steep curve at a small
    half-saturation point. ``-inf`` at no (negligible) spend."""
    positive = x > NEGLIGIBLE_SPEND
    log_x = jnp.log(jnp.where(positive, x, 1.0))
    log_curve = jax.nn.log_sigmoid(slope * (log_x - jnp.log(half_saturation)))
    return jnp.where(positive, log_curve, -jnp.inf)


def log_logistic(x: Array, lam: Array) -> Array:
    """``log logistic(x)`` = ``log tanh(λx / 2)`` = ``log(1 - e^{-λx}) - log(1 + e^{-λx})``,
    accurate at both ends in single precision (``tanh`` rounds to exactly 1 past ``λx ≈ 18``,
    flattening the gradient into a plateau), with ``-inf`` at no (negligible) spend."""
    positive = x > NEGLIGIBLE_SPEND
    rate = lam * jnp.where(positive, x, 1.0)
    log_curve = jnp.log(-jnp.expm1(-rate)) - jax.nn.softplus(-rate)
    return jnp.where(positive, log_curve, -jnp.inf)


def logistic(x: Array, lam: Array) -> Array:
    """``(1 - e^{-λx}) / (1 + e^{-λx})``: 0 at no spend, towards 1 beyond ``~3/λ``."""
    return jnp.tanh(lam * x / 2.0)

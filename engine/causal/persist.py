"""What a fitted model keeps after its fit: the spec as JSON and the posterior draws that the
answers computed later (budget optimisation) need, in a compact archive.

Per-period draws (``media``, ``mu``) are left out: they are large (draws x periods x channels)
and everything stored about them was summarised at fit time. Only the baseline per draw and
period (``mu`` less the media, draws x periods) is kept: the eval sandbox replays it.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.causal.data import DataError
from engine.causal.inference import ChannelRoas, Diagnostics, FitResult
from engine.causal.spec import ModelSpec, RoasPrior

_PER_PERIOD = frozenset({"media", "mu", "geo_media"})


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """Every field of the spec as JSON types, so a stored model reads back as the model fitted
    even after a default changes."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if isinstance(value, RoasPrior):
            value = _prior_to_dict(value)
        elif field.name == "channel_roas_priors":
            value = {name: _prior_to_dict(p) for name, p in value.items()}
        values[field.name] = value
    return values


def _prior_to_dict(prior: RoasPrior) -> dict[str, float]:
    return {"median": prior.median, "spread": prior.spread}


def spec_from_dict(values: Mapping[str, Any]) -> ModelSpec:
    """The spec stored by :func:`spec_to_dict`; fields a model stored before they existed take
    their defaults."""
    known = {field.name for field in dataclasses.fields(ModelSpec)}
    fields = {k: v for k, v in values.items() if k in known}
    if "roas_prior" in fields:
        fields["roas_prior"] = RoasPrior(**fields["roas_prior"])
    if "channel_roas_priors" in fields:
        fields["channel_roas_priors"] = {
            name: RoasPrior(**p) for name, p in fields["channel_roas_priors"].items()
        }
    try:
        return ModelSpec(**fields)
    except (TypeError, ValueError) as exc:
        raise DataError("spec", str(exc)) from exc


def dump_posterior(result: FitResult) -> bytes:
    """The per-channel and scalar draws (float32) plus the scales, as one ``.npz``."""
    arrays: dict[str, Any] = {
        f"sample__{name}": values.astype(np.float32)
        for name, values in result.samples.items()
        if name not in _PER_PERIOD
    }
    samples = result.samples
    if "mu" in samples and "media" in samples and np.ndim(samples["mu"]) == 2:
        arrays["sample__baseline_series"] = (samples["mu"] - samples["media"].sum(axis=2)).astype(
            np.float32
        )
    arrays |= {
        "channels": np.asarray(result.channels),
        "channel_scale": result.channel_scale,
        "kpi_scale": np.asarray(result.kpi_scale),
        "fit_periods": np.asarray(result.fit_periods),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def load_posterior(
    content: bytes,
    *,
    spec: ModelSpec,
    roas: tuple[ChannelRoas, ...],
    diagnostics: Diagnostics,
) -> FitResult:
    """A :class:`FitResult` without per-period draws, enough for response-based answers."""
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        samples = {
            key.removeprefix("sample__"): archive[key].astype(np.float64)
            for key in archive.files
            if key.startswith("sample__")
        }
        return FitResult(
            spec=spec,
            channels=tuple(str(c) for c in archive["channels"]),
            roas=roas,
            diagnostics=diagnostics,
            samples=samples,
            channel_scale=archive["channel_scale"].astype(np.float64),
            kpi_scale=float(archive["kpi_scale"]),
            fit_periods=int(archive["fit_periods"]),
        )

"""The shipped Grafana dashboard queries only metrics LiftOS records, under Ray's prefix."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cluster import metrics

DASHBOARD = Path(metrics.__file__).parent / "grafana" / "liftos_dashboard.json"


def recorded_series() -> set[str]:
    """Every series name Ray exports for cluster.metrics' instruments."""
    names = set()
    for value in vars(metrics).values():
        info = getattr(value, "info", None)
        if isinstance(info, dict) and "name" in info:
            base = f"ray_{info['name']}"
            names |= {base, f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    return names


def test_every_panel_queries_a_recorded_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    known = recorded_series()
    assert "ray_liftos_http_requests_total" in known
    panels = dashboard["panels"]
    assert len(panels) >= 10
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"\bray_liftos_[a-z_]+", target["expr"]))
            assert used, target["expr"]
            assert used <= known, (panel["title"], used - known)

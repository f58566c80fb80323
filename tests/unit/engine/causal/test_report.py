"""Charts decode as PNGs; the HTML report is self-contained, escaped and shows the numbers."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from datetime import date, timedelta

import numpy as np
import pytest
from PIL import Image

from engine.causal.analysis import Analysis, analyze
from engine.causal.report import headline, render_charts, render_html
from tests.unit.engine.causal.conftest import HandmadeFactory

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def analysis(handmade_fit: HandmadeFactory) -> Analysis:
    made = handmade_fit(
        beta=[0.3, 0.15, 0.1],
        lam=[0.8, 1.5, 2.0],
        channels=["<b>TV</b>", "search & co", "social"],
        holdout=6,
    )
    data = made.data
    days = [date(2023, 1, 2) + timedelta(weeks=w) for w in range(data.periods)]
    attributed = {name: 0.9 * data.kpi for name in data.channels[:2]}
    return analyze(made.result, data, dates=days, attributed=attributed)


def _decode(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        pixels = np.asarray(image)
    # A blank canvas would be one colour; a chart has lines, bands and text.
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10
    return image.size


def test_charts_are_decodable_pngs(analysis: Analysis) -> None:
    charts = render_charts(analysis)
    assert set(charts) == {"response_curves.png", "contributions.png", "roas.png"}
    for png in charts.values():
        width, height = _decode(png)
        assert width > 300
        assert height > 200
    # Without dates, claims or a holdout the charts still draw.
    plain = dataclasses.replace(
        analysis,
        platform_claims=None,
        contributions=dataclasses.replace(analysis.contributions, dates=None, fit_periods=60),
    )
    for png in render_charts(plain).values():
        _decode(png)


def test_html_is_escaped_self_contained_and_shows_the_numbers(analysis: Analysis) -> None:
    page = render_html(analysis, title="Q3 <MMM> & friends", kpi_label="revenue")
    assert "<title>Q3 &lt;MMM&gt; &amp; friends</title>" in page
    assert "<MMM>" not in page
    assert "&lt;b&gt;TV&lt;/b&gt;" in page
    assert "<b>TV</b>" not in page
    assert "search &amp; co" in page
    # Every image is inline and decodes; nothing is fetched from elsewhere.
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3
    for encoded in images:
        _decode(base64.b64decode(encoded))
    assert "http://" not in page
    assert "https://" not in page
    for channel in analysis.channels:
        assert channel.roas is not None
        for value in (channel.roas.mean, channel.roas.lower, channel.roas.upper):
            assert f"{value:.2f}" in page
        assert f"{channel.marginal_roas.mean:.2f}" in page
        assert f"{100 * channel.contribution_share.mean:.1f} %" in page
        assert f"{channel.incremental_kpi.mean:,.0f}" in page
    claims = analysis.platform_claims
    assert claims is not None
    claimed = f"Platforms claim {100 * claims.claimed_vs_actual:.0f} % of actual revenue"
    assert claimed in page
    assert f"the model attributes {100 * analysis.media.share.mean:.0f} % to media" in page
    assert "The sampler converged." in page
    assert "held out" in page


def test_unconverged_fits_carry_a_plain_warning(analysis: Analysis) -> None:
    unconverged = dataclasses.replace(
        analysis,
        diagnostics=dataclasses.replace(
            analysis.diagnostics, converged=False, message="NOT converged: max R-hat 1.2 > 1.01"
        ),
    )
    page = render_html(unconverged, title="t", charts={})
    assert "Warning:" in page
    assert "max R-hat 1.2 &gt; 1.01" in page
    assert "The sampler converged." not in page
    assert "<img" not in page


def test_headline_without_claims_states_the_media_share(analysis: Analysis) -> None:
    sentence = headline(dataclasses.replace(analysis, platform_claims=None))
    share = analysis.media.share
    assert sentence == (
        f"Of all KPI, the model attributes {100 * share.mean:.0f} % to media "
        f"({100 * share.lower:.0f} to {100 * share.upper:.0f} %)."
    )

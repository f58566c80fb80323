"""The causal module through HTTP on the session Ray cluster: datasets, fits as Ray tasks,
answers, budget, report; tenant isolation and 422s that say what and where."""

from __future__ import annotations

import io
import time
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest

from engine.causal.simulate import simulate
from tests.integration.conftest import Stack, Tenant, add_user

pytestmark = pytest.mark.integration

BASE = "/api/v1/causal"
# Tiny sampler settings: these tests check the service, not the statistics (unit tests do).
QUICK_FIT = {"chains": 1, "warmup": 60, "samples": 60, "seed": 3}


def weekly_frame(*, periods: int = 60, channels: int = 2, seed: int = 5) -> pl.DataFrame:
    sim = simulate(periods=periods, channels=channels, seed=seed)
    start = date(2023, 1, 2)
    columns: dict[str, Any] = {"date": [start + timedelta(weeks=i) for i in range(periods)]}
    for index, name in enumerate(sim.data.channels):
        columns[f"spend_{name}"] = sim.data.spend[:, index]
        # Platforms claim more than they cause: the over-attribution the module must expose.
        columns[f"attributed_{name}"] = 2.5 * sim.contributions[:, index]
    columns["revenue"] = sim.data.kpi
    columns["price"] = 10 + np.sin(np.arange(periods))
    return pl.DataFrame(columns)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def upload(
    client: httpx.Client, tenant: Tenant, frame: pl.DataFrame, name: str = "weekly"
) -> httpx.Response:
    return client.post(
        f"{BASE}/datasets",
        headers=tenant.auth,
        files={"file": (f"{name}.csv", csv_bytes(frame), "text/csv")},
        data={"name": name},
    )


def wait_for_job(client: httpx.Client, tenant: Tenant, job_id: str, timeout_s: float = 240) -> Any:
    deadline = time.monotonic() + timeout_s
    seen_progress: set[float] = set()
    while time.monotonic() < deadline:
        response = client.get(f"{BASE}/jobs/{job_id}", headers=tenant.auth)
        assert response.status_code == 200, response.text
        job = response.json()
        seen_progress.add(job["progress"])
        if job["status"] in ("succeeded", "failed"):
            job["seen_progress"] = sorted(seen_progress)
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s: {job}")


@pytest.fixture(scope="module")
def fitted(client: httpx.Client) -> dict[str, Any]:
    """One tenant, one dataset, one fitted model, shared by the read-only tests below."""
    from tests.integration.conftest import signup

    tenant = signup(client, prefix="causal")
    response = upload(client, tenant, weekly_frame())
    assert response.status_code == 201, response.text
    dataset = response.json()
    response = client.post(
        f"{BASE}/attribution/analyze",
        headers=tenant.auth,
        json={
            "dataset_id": dataset["id"],
            "channels": ["channel_1", "channel_2"],
            "model_type": "bayesian_structural",
            "fit": QUICK_FIT,
            "wait_seconds": 0,
        },
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    job = wait_for_job(client, tenant, accepted["job_id"])
    assert job["status"] == "succeeded", job
    return {"tenant": tenant, "dataset": dataset, "job": job, "accepted": accepted}


def test_upload_validates_and_stores_a_canonical_dataset(
    client: httpx.Client, tenant: Tenant
) -> None:
    response = upload(client, tenant, weekly_frame())
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["frequency"] == "weekly"
    assert dataset["name"] == "weekly"
    listed = client.get(f"{BASE}/datasets", headers=tenant.auth).json()["items"]
    assert dataset["id"] in {d["id"] for d in listed}
    got = client.get(f"{BASE}/datasets/{dataset['id']}", headers=tenant.auth)
    assert got.status_code == 200
    assert got.json()["content_sha256"] == dataset["content_sha256"]

    assert client.delete(f"{BASE}/datasets/{dataset['id']}", headers=tenant.auth).status_code == 204
    assert client.get(f"{BASE}/datasets/{dataset['id']}", headers=tenant.auth).status_code == 404


def test_json_rows_upload(client: httpx.Client, tenant: Tenant) -> None:
    rows = weekly_frame().with_columns(pl.col("date").cast(pl.String)).to_dicts()
    response = client.post(
        f"{BASE}/datasets", headers=tenant.auth, json={"name": "from json", "rows": rows}
    )
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "json"
    for body, field in (({"rows": rows}, "name"), ({"name": "x", "rows": []}, "rows")):
        bad = client.post(f"{BASE}/datasets", headers=tenant.auth, json=body)
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("mutate", "field", "fragment"),
    [
        (lambda f: f.with_columns(pl.lit(-5.0).alias("spend_channel_1")), "spend_channel_1", ""),
        (lambda f: f.filter(pl.col("date") != date(2023, 3, 6)), "date", "2023-03-06"),
        (lambda f: f.with_columns(pl.lit(0.0).alias("revenue")), "revenue", ""),
        (lambda f: f.head(10), "rows", ""),
    ],
    ids=["negative-spend", "missing-period", "zero-kpi", "too-few-periods"],
)
def test_bad_data_is_a_422_naming_field_and_place_and_nothing_is_stored(
    client: httpx.Client, tenant: Tenant, mutate: Any, field: str, fragment: str
) -> None:
    before = client.get(f"{BASE}/datasets", headers=tenant.auth).json()["items"]
    response = upload(client, tenant, mutate(weekly_frame()))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert fragment in error["message"]
    after = client.get(f"{BASE}/datasets", headers=tenant.auth).json()["items"]
    assert after == before


def test_non_numeric_cell_and_unparseable_date(client: httpx.Client, tenant: Tenant) -> None:
    text = csv_bytes(weekly_frame()).decode().splitlines()
    header = text[0].split(",")
    cells = text[5].split(",")
    cells[header.index("spend_channel_2")] = "lots"
    text[5] = ",".join(cells)
    response = client.post(
        f"{BASE}/datasets",
        headers=tenant.auth,
        files={"file": ("bad.csv", "\n".join(text).encode(), "text/csv")},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "spend_channel_2"
    assert "lots" in error["message"]

    cells = text[3].split(",")
    cells[0] = "not-a-date"
    text[3] = ",".join(cells)
    text[5] = csv_bytes(weekly_frame()).decode().splitlines()[5]
    response = client.post(
        f"{BASE}/datasets",
        headers=tenant.auth,
        files={"file": ("bad.csv", "\n".join(text).encode(), "text/csv")},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "date"


def test_unsupported_media_type(client: httpx.Client, tenant: Tenant) -> None:
    response = client.post(f"{BASE}/datasets", headers=tenant.auth, content=b"date,revenue")
    assert response.status_code == 415


def test_analyze_rejects_bad_requests_before_queueing(client: httpx.Client, tenant: Tenant) -> None:
    dataset = upload(client, tenant, weekly_frame()).json()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channels": ["tv"]}, "channels"),
        ({"date_range": "2031-Q1"}, "date_range"),
        ({"kpi": "conversions"}, "kpi"),
        ({"model_type": "linear"}, "model_type"),
        (
            {
                "lift_tests": [
                    {
                        "channel": "channel_1",
                        "start": "2030-01-01",
                        "end": "2030-02-01",
                        "incremental_kpi": 100,
                        "standard_error": 10,
                    }
                ]
            },
            "lift_tests",
        ),
    ]
    for extra, field in cases:
        response = client.post(
            f"{BASE}/attribution/analyze",
            headers=tenant.auth,
            json={"dataset_id": dataset["id"], "fit": QUICK_FIT, **extra},
        )
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["error"]["field"] == field, (extra, response.json())
    assert client.get(f"{BASE}/jobs", headers=tenant.auth).json()["items"] == []
    missing = client.post(
        f"{BASE}/attribution/analyze",
        headers=tenant.auth,
        json={"dataset_id": str(uuid.uuid4())},
    )
    assert missing.status_code == 404


def test_fit_runs_as_a_job_and_answers_with_intervals(
    client: httpx.Client, fitted: dict[str, Any]
) -> None:
    tenant, job = fitted["tenant"], fitted["job"]
    assert fitted["accepted"]["status_url"].endswith(job["id"])
    assert job["progress"] == 1.0
    assert job["attempts"] == 1
    model = client.get(f"{BASE}/models/{job['model_id']}", headers=tenant.auth)
    assert model.status_code == 200, model.text
    body = model.json()
    assert set(body["incremental_roas"]) == {"channel_1", "channel_2"}
    for interval in body["incremental_roas"].values():
        assert interval["lower"] <= interval["median"] <= interval["upper"]
    diagnostics = body["diagnostics"]
    assert {"max_rhat", "min_ess", "divergences", "r2", "mape", "holdout_mape"} <= set(diagnostics)
    # 60 draws cannot certify convergence; the model must say what it is.
    assert body["converged"] == diagnostics["converged"]
    assert body["result"]["data"]["controls"][:1] == ["price"]
    analysis = body["result"]["analysis"]
    assert analysis, "the answers are stored with the model"
    listed = client.get(f"{BASE}/models", headers=tenant.auth).json()["items"]
    assert [m["id"] for m in listed] == [body["id"]]


def test_platform_claims_are_compared_with_incremental(
    client: httpx.Client, fitted: dict[str, Any]
) -> None:
    tenant, job = fitted["tenant"], fitted["job"]
    body = client.get(f"{BASE}/models/{job['model_id']}", headers=tenant.auth).json()
    text = str(body["result"]["analysis"])
    assert "claim" in text


def test_report_and_charts(client: httpx.Client, fitted: dict[str, Any]) -> None:
    tenant, job = fitted["tenant"], fitted["job"]
    model = client.get(f"{BASE}/models/{job['model_id']}", headers=tenant.auth).json()
    report = client.get(model["report_url"], headers=tenant.auth)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "<html" in report.text.lower()
    assert "channel_1" in report.text
    for url in model["charts"]:
        chart = client.get(url, headers=tenant.auth)
        assert chart.status_code == 200, url
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
    unknown = client.get(f"{BASE}/models/{job['model_id']}/charts/x.png", headers=tenant.auth)
    assert unknown.status_code == 404


def test_budget_optimisation_respects_the_total_and_locks(
    client: httpx.Client, fitted: dict[str, Any]
) -> None:
    tenant, job = fitted["tenant"], fitted["job"]
    response = client.post(
        f"{BASE}/budget/optimize",
        headers=tenant.auth,
        json={
            "model_id": job["model_id"],
            "total_budget": 100_000,
            "horizon_periods": 13,
            "locked": {"channel_2": 20_000},
        },
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["model_id"] == job["model_id"]
    text = str(plan)
    assert "channel_1" in text
    assert "channel_2" in text
    bad = client.post(
        f"{BASE}/budget/optimize",
        headers=tenant.auth,
        json={"model_id": job["model_id"], "total_budget": 1000, "locked": {"channel_2": 5000}},
    )
    assert bad.status_code == 422, bad.text


def test_other_tenants_see_nothing(
    client: httpx.Client, fitted: dict[str, Any], other_tenant: Tenant
) -> None:
    job, dataset = fitted["job"], fitted["dataset"]
    auth = other_tenant.auth
    for path in (
        f"{BASE}/datasets/{dataset['id']}",
        f"{BASE}/jobs/{job['id']}",
        f"{BASE}/models/{job['model_id']}",
        f"{BASE}/models/{job['model_id']}/report",
        f"{BASE}/models/{job['model_id']}/charts/roas.png",
    ):
        assert client.get(path, headers=auth).status_code == 404, path
    assert client.delete(f"{BASE}/datasets/{dataset['id']}", headers=auth).status_code == 404
    optimize = client.post(
        f"{BASE}/budget/optimize",
        headers=auth,
        json={"model_id": job["model_id"], "total_budget": 1000},
    )
    assert optimize.status_code == 404
    analyze = client.post(
        f"{BASE}/attribution/analyze", headers=auth, json={"dataset_id": dataset["id"]}
    )
    assert analyze.status_code == 404
    assert client.get(f"{BASE}/models", headers=auth).json()["items"] == []


def test_viewers_read_but_cannot_run(client: httpx.Client, fitted: dict[str, Any]) -> None:
    tenant, job = fitted["tenant"], fitted["job"]
    viewer = add_user(client, tenant, "viewer")
    assert client.get(f"{BASE}/models/{job['model_id']}", headers=viewer.auth).status_code == 200
    anonymous = client.post(
        f"{BASE}/datasets", files={"file": ("x.csv", csv_bytes(weekly_frame()), "text/csv")}
    )
    assert anonymous.status_code == 401
    denied = client.post(
        f"{BASE}/attribution/analyze",
        headers=viewer.auth,
        json={"dataset_id": fitted["dataset"]["id"]},
    )
    assert denied.status_code == 403


def test_variant_search_with_ray_tune_keeps_the_best(
    client: httpx.Client, fitted: dict[str, Any]
) -> None:
    tenant, dataset = fitted["tenant"], fitted["dataset"]
    response = client.post(
        f"{BASE}/attribution/analyze",
        headers=tenant.auth,
        json={
            "dataset_id": dataset["id"],
            "fit": QUICK_FIT,
            "wait_seconds": 0,
            "search": {
                "adstocks": ["geometric"],
                "saturations": ["hill", "logistic"],
                "holdout_periods": 8,
                "chains": 1,
                "warmup": 40,
                "samples": 40,
            },
        },
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(client, tenant, response.json()["job_id"], timeout_s=300)
    assert job["status"] == "succeeded", job
    model = client.get(f"{BASE}/models/{job['model_id']}", headers=tenant.auth).json()
    table = model["result"]["variant_search"]
    assert [row["variant"].split(",")[0] for row in table] == [
        "geometric+hill",
        "geometric+logistic",
    ]
    chosen = [row for row in table if row["chosen"]]
    assert len(chosen) == 1
    assert model["spec"]["saturation"] == chosen[0]["variant"].split("+")[1].split(",")[0]


def test_calendar_dimension_endpoint(client: httpx.Client, tenant: Tenant) -> None:
    response = client.get(
        f"{BASE}/eda/calendar-dimension",
        headers=tenant.auth,
        params={"start_date": "2024-01-01", "end_date": "2024-12-31"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 366
    assert len(body["schema"]["fields"]) == 61
    assert set(body["data"][0]) == {f["name"] for f in body["schema"]["fields"]}
    thanksgiving = next(row for row in body["data"] if row["date"] == "2024-11-28")
    assert thanksgiving["is_holiday"] is True
    for fmt, magic in (("parquet", b"PAR1"), ("csv", b"date,")):
        response = client.get(
            f"{BASE}/eda/calendar-dimension",
            headers=tenant.auth,
            params={"start_date": "2024-01-01", "end_date": "2024-01-31", "format": fmt},
        )
        assert response.status_code == 200
        assert response.content.startswith(magic)
    for params, field in (
        ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "end_date"),
        ({"start_date": "2024-01-01", "end_date": "2024-01-31", "country": "XX"}, "country"),
        ({"start_date": "1990-01-01", "end_date": "2045-01-01"}, "end_date"),
    ):
        response = client.get(f"{BASE}/eda/calendar-dimension", headers=tenant.auth, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] == field, (params, response.json())


def test_import_platform_exports_with_own_kpi(client: httpx.Client, tenant: Tenant) -> None:
    rng = np.random.default_rng(1)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(40)]
    google = ["Campaign report", '"January 1, 2024 - February 9, 2024"']
    google.append("Day,Campaign,Currency code,Cost,Conversions,Conv. value")
    meta = [
        "Reporting starts,Reporting ends,Campaign name,Day,Amount spent (USD),"
        "Purchases,Purchases conversion value"
    ]
    kpi = ["date,revenue"]
    for day in days:
        cost = rng.uniform(500, 1500)
        google.append(f'{day},Brand,USD,"{cost:,.2f}",3,"{3 * cost:,.2f}"')
        spent = rng.uniform(200, 800)
        meta.append(f"2024-01-01,2024-02-09,Prospecting,{day},{spent:.2f},2,{2.5 * spent:.2f}")
        kpi.append(f"{day},{rng.uniform(5000, 9000):.2f}")
    response = client.post(
        f"{BASE}/datasets/import",
        headers=tenant.auth,
        files={
            "google_ads": ("google.csv", "\n".join(google).encode(), "text/csv"),
            "meta": ("meta.csv", "\n".join(meta).encode(), "text/csv"),
            "kpi": ("revenue.csv", "\n".join(kpi).encode(), "text/csv"),
        },
        data={"name": "from platforms"},
    )
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["source"] == "import"
    assert dataset["frequency"] == "daily"
    summary = str(dataset["summary"])
    assert "google_ads" in summary
    assert "meta" in summary

    without_kpi = client.post(
        f"{BASE}/datasets/import",
        headers=tenant.auth,
        files={"meta": ("meta.csv", "\n".join(meta).encode(), "text/csv")},
    )
    assert without_kpi.status_code == 422
    assert without_kpi.json()["error"]["field"] == "kpi"


def test_backfill_job_fits_each_dataset_once_and_skips_on_rerun(
    client: httpx.Client, stack: Stack
) -> None:
    import asyncio
    import json

    from jobs import mmm_backfill
    from tests.integration.conftest import signup

    tenants = [signup(client, prefix="brand"), signup(client, prefix="brand")]
    for tenant in tenants:
        assert upload(client, tenant, weekly_frame(seed=11)).status_code == 201
    template = stack.modules_dir / "backfill-request.json"
    template.write_text(json.dumps({"fit": QUICK_FIT, "calendar_controls": False}))
    argv = [arg for t in tenants for arg in ("--org", t.org_id)]
    argv += ["--request", str(template), "--concurrency", "2"]

    settings = stack.settings.model_copy(update={"database_url": stack.urls.database_url})
    first = asyncio.run(mmm_backfill.run(mmm_backfill.parse_args(argv), settings))
    assert sorted(item.status for item in first) == ["fitted", "fitted"]
    second = asyncio.run(mmm_backfill.run(mmm_backfill.parse_args(argv), settings))
    assert sorted(item.status for item in second) == ["skipped", "skipped"]
    for tenant in tenants:
        models = client.get(f"{BASE}/models", headers=tenant.auth).json()["items"]
        assert len(models) == 1


def test_geo_hierarchy_fit_reports_each_geo(client: httpx.Client, tenant: Tenant) -> None:
    frames = [
        weekly_frame(seed=20 + i).with_columns(pl.lit(geo).alias("geo"))
        for i, geo in enumerate(("north", "south", "west"))
    ]
    dataset = upload(client, tenant, pl.concat(frames), name="geos").json()
    assert dataset["frequency"] == "weekly"
    response = client.post(
        f"{BASE}/attribution/analyze",
        headers=tenant.auth,
        json={
            "dataset_id": dataset["id"],
            "geo_hierarchy": True,
            "fit": QUICK_FIT,
            "wait_seconds": 0,
        },
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(client, tenant, response.json()["job_id"])
    assert job["status"] == "succeeded", job
    model = client.get(f"{BASE}/models/{job['model_id']}", headers=tenant.auth).json()
    assert model["result"]["data"]["geos"] == ["north", "south", "west"]
    per_geo = {(r["geo"], r["channel"]) for r in model["result"]["geo_roas"]}
    assert len(per_geo) == 6
    assert set(model["incremental_roas"]) == {"channel_1", "channel_2"}
    refused = client.post(
        f"{BASE}/budget/optimize",
        headers=tenant.auth,
        json={"model_id": job["model_id"], "total_budget": 1000},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "model_id"

    national = upload(client, tenant, weekly_frame()).json()
    response = client.post(
        f"{BASE}/attribution/analyze",
        headers=tenant.auth,
        json={"dataset_id": national["id"], "geo_hierarchy": True},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "geo"


def test_temporal_eda_inline_series_and_dataset(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    rng = np.random.default_rng(4)
    days = [date(2022, 1, 1) + timedelta(days=i) for i in range(730)]
    weekend = np.array([d.weekday() >= 5 for d in days])
    values = 1000 * np.where(weekend, 0.75, 1.0) * np.exp(0.03 * rng.standard_normal(len(days)))
    series = [{"date": d.isoformat(), "value": float(v)} for d, v in zip(days, values, strict=True)]
    response = client.post(f"{BASE}/eda/temporal", headers=tenant.auth, json={"series": series})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["frequency"] == "daily"
    significant = {e["feature"] for e in body["effects"] if e["significant"]}
    assert significant, body["effects"][:3]
    assert len(body["decomposition"]["weekday_effects"]) == 7
    chart = client.post(
        f"{BASE}/eda/temporal",
        headers=tenant.auth,
        params={"chart": "decomposition.png"},
        json={"series": series},
    )
    assert chart.status_code == 200
    assert chart.content.startswith(b"\x89PNG")

    dataset = upload(client, tenant, weekly_frame(periods=120)).json()
    from_dataset = client.post(
        f"{BASE}/eda/temporal", headers=tenant.auth, json={"dataset_id": dataset["id"]}
    )
    assert from_dataset.status_code == 200, from_dataset.text
    assert from_dataset.json()["frequency"] == "weekly"
    foreign = client.post(
        f"{BASE}/eda/temporal", headers=other_tenant.auth, json={"dataset_id": dataset["id"]}
    )
    assert foreign.status_code == 404
    both = client.post(
        f"{BASE}/eda/temporal",
        headers=tenant.auth,
        json={"dataset_id": dataset["id"], "series": series[:3]},
    )
    assert both.status_code == 422
    short = client.post(f"{BASE}/eda/temporal", headers=tenant.auth, json={"series": series[:5]})
    assert short.status_code == 422
    assert short.json()["error"]["field"] == "series"

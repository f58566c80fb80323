from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cluster import telemetry


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """A provider of this test's own (the process-wide one can be installed only once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_worker_tracer", provider.get_tracer("test"))
    return exporter


def test_work_continues_the_submitters_trace_as_a_child(spans: InMemorySpanExporter) -> None:
    submitter = telemetry._worker_tracer
    with submitter.start_as_current_span("request") as request:
        carrier = telemetry.trace_carrier()
    assert set(carrier) == {"traceparent"}
    with telemetry.continue_trace("causal.fit", carrier, attributes={"liftos.job_id": "j"}):
        pass
    fit = next(s for s in spans.get_finished_spans() if s.name == "causal.fit")
    assert fit.kind == SpanKind.CONSUMER
    assert fit.context.trace_id == request.get_span_context().trace_id
    assert fit.parent is not None
    assert fit.parent.span_id == request.get_span_context().span_id
    assert fit.attributes is not None
    assert fit.attributes["liftos.job_id"] == "j"


def test_a_failure_marks_the_span_and_propagates(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ZeroDivisionError), telemetry.continue_trace("eval.run", None):
        _ = 1 / 0
    (failed,) = spans.get_finished_spans()
    assert not failed.status.is_ok
    assert failed.parent is None  # no carrier: a trace of its own


def test_the_file_exporter_appends_json_lines_and_rotates(tmp_path: Path) -> None:
    exporter_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter_spans))
    with provider.get_tracer("t").start_as_current_span("one"):
        pass
    finished = exporter_spans.get_finished_spans()
    path = tmp_path / "traces.jsonl"
    exporter = telemetry.JsonLinesSpanExporter(path, max_bytes=1)
    exporter.export(finished)
    assert [s["name"] for s in telemetry.read_spans(path)] == ["one"]
    exporter.export(finished)  # past max_bytes: the first file becomes traces.jsonl.1
    assert len(telemetry.read_spans(path)) == 1
    rotated = path.with_name("traces.jsonl.1").read_text().splitlines()
    assert json.loads(rotated[0])["name"] == "one"

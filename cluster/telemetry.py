"""OpenTelemetry tracing: one trace per request or job, from the ingress into Ray tasks and actors.

Each service opens a server span per request (FastAPI's native OpenTelemetry support, continuing
the caller's W3C ``traceparent``). Work handed to Ray carries the submitting span's context as a
small dict (``trace_carrier()``); the task or actor method continues it (``continue_trace``), so a
fit, an audit, a memory-shard call or an eval run is a child span of the request that started it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from cluster.settings import Settings

log = logging.getLogger(__name__)

EXPORTERS = ("none", "console", "file", "otlp")

_configured = False


class JsonLinesSpanExporter(SpanExporter):
    """Finished spans as JSON Lines in one file that every process of the local cluster appends
    to; the file is rotated (one ``.1`` kept) past ``max_bytes`` so a long-running local cluster
    stays small."""

    def __init__(self, path: Path, *, max_bytes: int = 20 * 1024 * 1024) -> None:
        self._path = path
        self._max_bytes = max_bytes
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        payload = "".join(span.to_json(indent=None) + "\n" for span in spans).encode()
        try:
            if self._path.exists() and self._path.stat().st_size > self._max_bytes:
                os.replace(self._path, self._path.with_name(self._path.name + ".1"))
            # One append per batch: the processes sharing the file never interleave a line.
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, payload)
            finally:
                os.close(fd)
        except OSError:
            log.exception("could not write spans to %s", self._path)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


def configure_tracing(
    *,
    exporter: str,
    service_name: str,
    sample_ratio: float = 1.0,
    file_path: Path | None = None,
    span_exporter: SpanExporter | None = None,
) -> bool:
    """Install the process-wide tracer provider once.

    ``exporter`` is ``none`` (spans are not recorded; trace context still propagates),
    ``console``, ``file`` (JSON Lines at ``file_path``) or ``otlp`` (endpoint from the standard
    ``OTEL_EXPORTER_OTLP_*`` variables). New traces are sampled at ``sample_ratio``; a span whose
    caller sampled (or not) follows the caller, so a trace is never cut in half.
    ``span_exporter`` overrides the exporter, for tests. Returns whether this call installed a
    provider (OpenTelemetry allows one per process).
    """
    global _configured
    if _configured or (exporter == "none" and span_exporter is None):
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    if span_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "file":
        if file_path is None:
            raise ValueError("the file exporter needs a file path")
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(file_path)))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        raise ValueError(f"unknown OpenTelemetry exporter {exporter!r}; one of {EXPORTERS}")
    trace.set_tracer_provider(provider)
    _configured = True
    log.info("tracing enabled (%s, sampling %.3g) for %s", exporter, sample_ratio, service_name)
    return True


def configure_from(settings: Settings, *, component: str) -> bool:
    """Tracing as ``settings`` say, for a service replica or a Ray worker (``component``)."""
    return configure_tracing(
        exporter=settings.otel_exporter,
        service_name=f"{settings.otel_service_name}-{component}",
        sample_ratio=settings.otel_sample_ratio,
        file_path=settings.otel_file_path,
    )


def flush() -> None:
    """Export what this process has finished, before a Ray worker goes idle or exits."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis=5000)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_context(headers: MutableMapping[str, str]) -> None:
    propagate.inject(headers)


def trace_carrier() -> dict[str, str]:
    """The current span's context as a small dict that travels with a Ray task or actor call
    (empty when nothing is being traced)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


_worker_tracer = tracer("liftos.worker")


@contextmanager
def continue_trace(
    name: str,
    carrier: Mapping[str, str] | None,
    *,
    attributes: Mapping[str, str | int | float | bool] | None = None,
    settings: Settings | None = None,
) -> Iterator[trace.Span]:
    """A span for work a Ray task or actor does on behalf of the request in ``carrier``.

    ``settings`` (given in a worker process) configures this process's tracing first, once.
    An exception marks the span failed and propagates.
    """
    if settings is not None:
        configure_from(settings, component="worker")
    parent = propagate.extract(dict(carrier or {}))
    with _worker_tracer.start_as_current_span(
        name,
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes=dict(attributes or {}),
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def read_spans(path: Path) -> list[dict[str, object]]:
    """The spans a file exporter wrote (for ``liftos`` tooling and tests)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

"""OpenTelemetry tracing: one span per request in each service, linked by W3C trace context."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

log = logging.getLogger(__name__)

_configured = False


def configure_tracing(
    *, exporter: str, service_name: str, span_exporter: SpanExporter | None = None
) -> bool:
    """Install the process-wide tracer provider once.

    ``exporter`` is ``none`` (spans are not recorded; trace context still propagates),
    ``console`` or ``otlp`` (endpoint from the standard ``OTEL_EXPORTER_OTLP_*`` variables).
    ``span_exporter`` overrides both, for tests. Returns whether this call installed a provider
    (OpenTelemetry allows one per process).
    """
    global _configured
    if _configured or (exporter == "none" and span_exporter is None):
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if span_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        raise ValueError(f"unknown OpenTelemetry exporter {exporter!r}")
    trace.set_tracer_provider(provider)
    _configured = True
    log.info("tracing enabled (%s) for %s", exporter, service_name)
    return True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_context(headers: MutableMapping[str, str]) -> None:
    propagate.inject(headers)

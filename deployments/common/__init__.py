"""What every LiftOS service shares: the ingress layer (request ids, errors, tracing, auth,
rate limits, audit) and the per-replica runtime (pools and clients)."""

"""LiftOS cluster tooling: configuration, state, migrations and the `liftos` CLI."""

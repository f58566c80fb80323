"""Shared test configuration. Unit tests never start Ray; integration tests share one cluster."""

import os

# Ray reads its auth mode once, when it is first imported, and the session's cluster inherits
# the environment when it starts. Importing cluster.cli sets token mode (as `liftos up` runs);
# fixing it here, before any test module imports Ray, keeps the client and the cluster in one
# mode whatever order the test modules are collected in.
os.environ.setdefault("RAY_AUTH_MODE", "token")

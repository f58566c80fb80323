"""Pure LiftOS domain logic: auth, rate limiting and module manifests, free of I/O frameworks."""

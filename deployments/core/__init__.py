"""The core application: auth, organisations, API keys, audit, module registry, health."""

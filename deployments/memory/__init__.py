"""The memory module: per-tenant hybrid recall served at /api/v1/memory."""

"""Ray Jobs entrypoints (`python -m jobs.NAME`): backfills and batch runs."""

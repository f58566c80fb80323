"""LLM domain logic: prices and costs, platform limits, templates, leaderboards and quality
metrics. Plain typed Python: no provider SDK, HTTP, Ray or database here."""

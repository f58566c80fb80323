"""The LLM module: providers, templates, generation with platform checks, cost and budgets."""

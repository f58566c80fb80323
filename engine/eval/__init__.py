"""Eval domain logic: the statistics on scores, assertions, the safety probes and the agent
sandbox. Plain typed Python: no Ray, HTTP or database here."""

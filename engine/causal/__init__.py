"""Bayesian marketing-mix modelling: data, model specification, numpyro model, inference."""

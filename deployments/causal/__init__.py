"""The causal module's Serve application: datasets, MMM fits as Ray tasks, answers, reports."""

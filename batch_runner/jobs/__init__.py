"""A run's life in AWS: manifest, upload, submit, track, wait, cancel, retry, on-demand, cost.

Light on purpose (the orchestration Lambda imports it): no pyarrow, Jinja2 or jsonschema at import.
May import: ``batch_runner.results``, ``batch_runner.prepare`` (its light modules),
``batch_runner.catalog``, ``batch_runner.aws``, ``batch_runner.exceptions``.
"""

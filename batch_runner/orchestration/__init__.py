"""Orchestrated runs: the deployed stack drives runs to the end, sharing each model's quota.

``scheduler`` is one pass over every active run (plain Python over injected clients),
``allocation`` shares free job slots among runs and teams, ``registry`` is the DynamoDB index of
orchestrated runs, ``cloud_run`` the single-writer view of a run's manifest, ``handlers`` the thin
Lambda entry points; on the laptop's side, ``requests`` registers runs and asks for cancel or retry
(owner-checked), and ``stack_view`` shows what the registry says to `status`, `wait` and `runs`.
Light like ``jobs`` (a Lambda imports it): no pyarrow, Jinja2 or jsonschema.
May import: ``batch_runner.jobs``, ``batch_runner.results`` and what they may import.
"""

"""What the runner knows about models: families and request bodies, output schemas, quotas, prices
and limits (data files in ``batch_runner/data`` with their sources).

May import: ``batch_runner.aws``, ``batch_runner.exceptions``.
"""

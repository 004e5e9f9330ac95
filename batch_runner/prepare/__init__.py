"""Dataset -> rendered requests -> validated records -> shard files + record index: the plan.
Nothing here calls AWS.

May import: ``batch_runner.catalog``, ``batch_runner.aws``, ``batch_runner.exceptions``.
"""

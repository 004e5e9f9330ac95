"""Talking to AWS: the one client factory, error mapping, settings resolution, the stack-output keys.

May import: ``batch_runner.exceptions`` (and boto3/botocore). Nothing else of the runner.
"""

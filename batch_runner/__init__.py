"""Amazon Bedrock batch inference made easy, cheap and safe.

A library first, a CLI second: ``python -m batch_runner --help`` lists the commands.
"""

__version__ = "0.1.0"

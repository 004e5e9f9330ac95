"""Every error the runner raises on purpose. The CLI maps them to one line on stderr and an exit code."""

from __future__ import annotations


class BatchRunnerError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(BatchRunnerError):
    """The user's input or configuration is wrong; nothing was uploaded or submitted."""

    exit_code = 2


class DatasetError(UsageError):
    """The dataset cannot be read or is malformed."""


class TemplateError(UsageError):
    """The prompt template cannot be rendered for a row."""


class ModelNotSupportedError(UsageError):
    """No adapter knows how to build requests for this model."""


class PlanError(UsageError):
    """The dataset cannot be split into jobs that the service accepts."""


class ConfigurationError(UsageError):
    """Settings (region, credentials, stack, flags) are missing or inconsistent."""


class StackNotFoundError(ConfigurationError):
    """The CloudFormation stack that holds the buckets and role is not deployed."""


class RunNotFoundError(UsageError):
    """No run manifest exists under the given run name."""


class AwsError(BatchRunnerError):
    """An AWS call failed after retries; carries the service's error code and message."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class NotRunOwnerError(BatchRunnerError):
    """Cancel or retry of an orchestrated run by someone other than the caller that submitted it."""

    exit_code = 77  # sysexits.h EX_NOPERM, as 70 is EX_SOFTWARE

    def __init__(self, run: str, *, owner: str, caller: str) -> None:
        super().__init__(
            f"run {run} belongs to {owner}, not to you ({caller}): ask its owner, or add --force "
            "(force=True from Python) if you administer the stack"
        )
        self.owner = owner


class JobsUnsuccessfulError(BatchRunnerError):
    """Every job ended, but records remain failed or missing (after any retries): `retry` them."""

    exit_code = 3


class WaitTimeoutError(BatchRunnerError):
    """Waiting hit its deadline before every job was terminal."""

    exit_code = 124


class RecordIndexError(BatchRunnerError):
    """A run's record index (input row <-> recordId map) is unreadable or inconsistent."""


class InternalError(BatchRunnerError):
    """A runner invariant broke (e.g. results that do not reconcile): a bug to report."""

    exit_code = 70

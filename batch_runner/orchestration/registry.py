"""The run registry: one DynamoDB item per orchestrated run, the scheduler's index of work.

The S3 manifest stays each run's source of truth; the registry answers what the manifests cannot
cheaply: which runs are active, for which team and model. Key ``run``; the ``by-state`` index
(``state`` + ``created_at``) lists the active runs. Requests from laptops (cancel, retry) are
flags on the item that the scheduler, the manifest's single writer, acts on and clears.

Who may ask: a request names its sender (``cancel_requested_by``, ``retry_requested_by``) and is
written only if the sender is the run's ``owner`` (the condition is part of the write, so nothing
slips in between a check and the update), unless it is forced. Both are claims of the writer: the
item is writable by anyone holding the submitter policy, so IAM is the boundary, and the owner check
keeps people from cancelling a colleague's run by mistake.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error, error_code
from batch_runner.exceptions import AwsError, NotRunOwnerError
from batch_runner.jobs.tracking import STACK_ACTIVE

STATE_INDEX = "by-state"
ACTIVE = STACK_ACTIVE
FINISHED = "finished"


@dataclass(frozen=True)
class RegistryEntry:
    run: str
    model_id: str
    base_model: str
    created_at: str
    team: str = "default"
    priority: int = 0
    owner: str = ""  # the caller that registered the run (requests are checked against it)
    state: str = ACTIVE
    outcome: str = ""  # the run's state word once it ended (Completed, PartiallyCompleted, ...)
    waiting_reason: str = ""
    last_pass_at: str = ""
    cancel_requested: bool = False
    retry_requested: int = 0  # retry rounds asked for and not yet done
    cancel_requested_by: str = ""  # the caller that asked (ARN), as it said
    retry_requested_by: str = ""
    retries_done: int = 0
    results_uri: str = ""
    results_summary: str = ""
    # The run's workflow (a Step Functions execution) and the task token it waits with: the
    # scheduler starts one per round (a retry after the results were collected starts another)
    # and hands the token back when the run finishes.
    execution: str = ""
    workflows_started: int = 0
    task_token: str = ""
    heartbeat_at: str = ""

    def to_item(self) -> dict[str, Any]:
        return {f.name: _attribute(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> RegistryEntry:
        return cls(**{f.name: _value(item[f.name]) for f in fields(cls) if f.name in item})


def _attribute(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def _value(attribute: Mapping[str, Any]) -> Any:
    if "BOOL" in attribute:
        return bool(attribute["BOOL"])
    if "N" in attribute:
        return int(attribute["N"])
    return str(attribute.get("S", ""))


@dataclass(frozen=True)
class Registry:
    """The registry table through an injected DynamoDB client."""

    dynamodb: Any
    table: str

    def register(self, entry: RegistryEntry) -> bool:
        """Add the run; False when it is already registered (submitting again is harmless)."""
        return self._conditional(
            "registering",
            entry.run,
            "put_item",
            Item=entry.to_item(),
            ConditionExpression="attribute_not_exists(#r)",
            ExpressionAttributeNames={"#r": "run"},
        )

    def get(self, run: str) -> RegistryEntry | None:
        item = self._call("reading", run, "get_item", Key={"run": {"S": run}}, ConsistentRead=True).get(
            "Item"
        )
        return RegistryEntry.from_item(item) if item else None

    def active(self) -> Iterator[RegistryEntry]:
        """Every active run, oldest first (pages of the ``by-state`` index)."""
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table,
            IndexName=STATE_INDEX,
            KeyConditionExpression="#s = :active",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":active": {"S": ACTIVE}},
        )
        try:
            for page in pages:
                yield from (RegistryEntry.from_item(item) for item in page.get("Items", []))
        except (ClientError, BotoCoreError) as err:
            raise aws_error(err, "listing active runs") from err

    def update(
        self, run: str, changes: Mapping[str, object], *, retries_handled: int = 0
    ) -> RegistryEntry | None:
        """Set some fields of the run's item (never the whole item, so a request sent meanwhile
        survives); ``retries_handled`` is taken off ``retry_requested``. Returns the item as
        written (what another writer set meanwhile included)."""
        names = {f"#f{n}": name for n, name in enumerate(sorted(changes))}
        values = {f":v{n}": _attribute(changes[name]) for n, name in enumerate(sorted(changes))}
        sets = [f"#f{n} = :v{n}" for n in range(len(changes))]
        if retries_handled:
            names["#retry"], values[":handled"] = "retry_requested", _attribute(retries_handled)
            sets.append("#retry = #retry - :handled")
        written = self._call(
            "updating",
            run,
            "update_item",
            Key={"run": {"S": run}},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        ).get("Attributes")
        return RegistryEntry.from_item(written) if written and "model_id" in written else None

    def record_results(self, run: str, round_number: int, uri: str, summary: str) -> bool:
        """Say where the run's results are, unless a newer round of its workflow started since
        (a retry after this collection began): False then, and the item is left alone."""
        return self._conditional(
            "recording the results of",
            run,
            "update_item",
            Key={"run": {"S": run}},
            UpdateExpression="SET results_uri = :uri, results_summary = :summary",
            ConditionExpression="workflows_started = :round",
            ExpressionAttributeValues={
                ":uri": {"S": uri},
                ":summary": {"S": summary},
                ":round": {"N": str(round_number)},
            },
        )

    def request(
        self, run: str, *, cancel: bool = False, retry: bool = False, by: str = "", force: bool = False
    ) -> bool:
        """Ask the scheduler to cancel or retry ``run`` on behalf of ``by`` (a caller ARN).

        False when the run is not registered; ``NotRunOwnerError`` when ``by`` is not its owner and
        ``force`` is not given (runs registered without an owner take requests from anyone)."""
        sets: list[str] = []
        values: dict[str, Any] = {":by": {"S": by}}
        if cancel:
            sets += ["cancel_requested = :yes", "cancel_requested_by = :by"]
            values[":yes"] = {"BOOL": True}
        if retry:
            # A finished run becomes active again, so the scheduler visits it; a cancelled one is
            # no longer cancelled (as locally, a retry after cancel resends what was not processed).
            sets += [
                "retry_requested = retry_requested + :one",
                "retry_requested_by = :by",
                "#s = :active",
                "cancel_requested = :no",
            ]
            values |= {":one": {"N": "1"}, ":active": {"S": ACTIVE}, ":no": {"BOOL": False}}
        condition = "attribute_exists(#r)"
        if not force:
            condition += " AND (attribute_not_exists(#o) OR #o = :none OR #o = :by)"
            values[":none"] = {"S": ""}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"run": {"S": run}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#r": "run"}
                | ({"#s": "state"} if retry else {})
                | ({} if force else {"#o": "owner"}),
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise aws_error(err, f"sending a request for run {run}") from err
            entry = self.get(run)
            if entry is None:
                return False
            raise NotRunOwnerError(run, owner=entry.owner, caller=by) from err
        except BotoCoreError as err:
            raise aws_error(err, f"sending a request for run {run}") from err
        return True

    def _conditional(self, doing: str, run: str, operation: str, **params: Any) -> bool:
        """A write with a condition: False when the condition did not hold."""
        try:
            self._call(doing, run, operation, **params)
        except AwsError as err:
            if err.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _call(self, doing: str, run: str, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.dynamodb, operation)(TableName=self.table, **params)
        except (ClientError, BotoCoreError) as err:
            raise aws_error(err, f"{doing} run {run} in the registry") from err
        return response

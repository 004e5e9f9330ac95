"""The run registry: one DynamoDB item per orchestrated run, the scheduler's index of work.

The S3 manifest stays each run's source of truth; the registry answers what the manifests cannot
cheaply: which runs are active, for which team and model. Key ``run``; the ``by-state`` index
(``state`` + ``created_at``) lists the active runs. Requests from laptops (cancel, retry) are
flags on the item that the scheduler, the manifest's single writer, acts on and clears.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batch_runner.aws.errors import aws_error, error_code

STATE_INDEX = "by-state"
ACTIVE = "active"
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
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=entry.to_item(),
                ConditionExpression="attribute_not_exists(#r)",
                ExpressionAttributeNames={"#r": "run"},
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise aws_error(err, f"registering run {entry.run}") from err
        except BotoCoreError as err:
            raise aws_error(err, f"registering run {entry.run}") from err
        return True

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

    def request(self, run: str, *, cancel: bool = False, retry: bool = False) -> bool:
        """Ask the scheduler to cancel or retry ``run``; False when the run is not registered."""
        sets: list[str] = []
        values: dict[str, Any] = {}
        if cancel:
            sets.append("cancel_requested = :yes")
            values[":yes"] = {"BOOL": True}
        if retry:  # a finished run becomes active again, so the scheduler visits it
            sets += ["retry_requested = retry_requested + :one", "#s = :active"]
            values |= {":one": {"N": "1"}, ":active": {"S": ACTIVE}}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"run": {"S": run}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(#r)",
                ExpressionAttributeNames={"#r": "run"} | ({"#s": "state"} if retry else {}),
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise aws_error(err, f"sending a request for run {run}") from err
        return True

    def _call(self, doing: str, run: str, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.dynamodb, operation)(TableName=self.table, **params)
        except (ClientError, BotoCoreError) as err:
            raise aws_error(err, f"{doing} run {run} in the registry") from err
        return response

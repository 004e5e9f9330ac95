"""Who the default credentials are: an IAM user holding the stack's submitter policy.

On AWS every caller is an IAM identity, held to its policies. moto answers unknown access keys as
``user/moto``, an identity no IAM API knows, so `doctor` could not check that the caller may pass the
role and manage jobs. The emulator therefore gives the documented default access key (``testing``) to
the user ``batch-runner-local``, which holds the deployed stack's submitter policy, as a person the
platform team set up would. Every emulated call made with it (Bedrock jobs, the model catalog, IAM's
policy simulation) is authorized against that policy, so detaching it makes `doctor` and `submit`
fail as on AWS. Any other access key is the account root, allowed everything; the emulator's own
clients use one.

moto's STS recognises only 20-character AKIA-style keys in a request's signature, so
``GetCallerIdentity`` for a user's key of another shape is answered here (``caller_identity``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from batch_runner.aws.stack_outputs import OutputKey
from batch_runner.local.moto_state import IamState

DEFAULT_ACCESS_KEY = "testing"
USER_NAME = "batch-runner-local"
# What a developer's own identity usually may do besides submitting: read itself, so `doctor` can
# simulate its policies (the submitter policy lets it read only the roles the stack knows).
_SELF_READS = ("iam:GetUser", "iam:SimulatePrincipalPolicy")


def provision(iam: Any, outputs: dict[str, str], account_id: str) -> str | None:
    """Create the user (once), attach the submitter policy, give it the default access key; returns
    the user's ARN, or None when the stack has no submitter policy (a hand-written template)."""
    policy_arn = outputs.get(OutputKey.SUBMITTER_POLICY_ARN)
    if not policy_arn:
        return None
    try:
        arn = str(iam.get_user(UserName=USER_NAME)["User"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        arn = str(iam.create_user(UserName=USER_NAME)["User"]["Arn"])
    iam.attach_user_policy(UserName=USER_NAME, PolicyArn=policy_arn)
    self_reads = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(_SELF_READS), "Resource": arn}],
    }
    iam.put_user_policy(UserName=USER_NAME, PolicyName="read-itself", PolicyDocument=json.dumps(self_reads))
    IamState(account_id).give_access_key(USER_NAME, DEFAULT_ACCESS_KEY)
    return arn


def caller_identity(body: bytes, account_id: str, access_key: str) -> bytes | None:
    """The STS GetCallerIdentity response (query protocol, XML) for an IAM user's access key; None for
    other requests and keys, which moto answers."""
    if parse_qs(body.decode("utf-8", "replace")).get("Action") != ["GetCallerIdentity"]:
        return None
    user = IamState(account_id).user_of_access_key(access_key)
    if user is None:
        return None
    arn, user_id = user
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>{escape(arn)}</Arn><UserId>{escape(user_id)}</UserId>"
        f"<Account>{account_id}</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()

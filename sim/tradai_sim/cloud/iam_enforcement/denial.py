"""The answer to a denied request: the service's access-denied error, in the request's wire
protocol, with AWS's message.

Codes as each service's API reference names them: ``AccessDeniedException`` (HTTP 400) is
the common error of the JSON services (e.g.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html,
https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html,
https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html); Lambda
answers it with 403; the query services (SQS, Auto Scaling, CloudWatch, IAM, STS) and S3 say
``AccessDenied`` (403; SQS: "An error occurred (AccessDenied) when calling the SendMessage
operation", https://repost.aws/knowledge-center/sqs-accessdenied-errors, its JSON protocol
carrying the query code in ``x-amzn-query-error``); SNS ``AuthorizationError`` (403, its
modeled ``AuthorizationErrorException``); EC2 ``Client.UnauthorizedOperation``
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/query-api-troubleshooting.html).

Message, as https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
shows it: "User: <assumed-role ARN> is not authorized to perform: <action> on resource:
<ARN> because no identity-based policy allows the <action> action" (or "with an explicit deny
in an identity-based policy").
"""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.aws_requests.wire import ErrorSpec, ServiceWire
from tradai_sim.cloud.iam_enforcement.evaluator import EXPLICIT_DENY

CODES = {
    "s3": ErrorSpec("AccessDenied", 403), "sqs": ErrorSpec("AccessDenied", 403),
    "autoscaling": ErrorSpec("AccessDenied", 403), "monitoring": ErrorSpec("AccessDenied", 403),
    "iam": ErrorSpec("AccessDenied", 403), "sts": ErrorSpec("AccessDenied", 403),
    "sns": ErrorSpec("AuthorizationError", 403), "ec2": ErrorSpec("UnauthorizedOperation", 403),
    "lambda": ErrorSpec("AccessDeniedException", 403),
}
DEFAULT = ErrorSpec("AccessDeniedException", 400)


def message(principal_arn: str, action: str, resource: str, outcome: str) -> str:
    why = ("with an explicit deny in an identity-based policy" if outcome == EXPLICIT_DENY
           else f"because no identity-based policy allows the {action} action")
    text = (f"User: {principal_arn} is not authorized to perform: {action} on resource: "
            f"{resource} {why}")
    return text


def access_denied(wire: ServiceWire, protocol: str, principal_arn: str, action: str,
                  resource: str, outcome: str) -> Any:
    spec = CODES.get(wire.signing_name, DEFAULT)
    text = message(principal_arn, action, resource, outcome)
    if wire.signing_name == "ec2":
        text = f"You are not authorized to perform this operation. {text}"
    return wire.error(spec, text, protocol)

"""Values of the spec's secrets: generated logins (pulumi-random) written into secret versions,
and the secrets only an operator can fill (exchange keys, the webhook URL).

A ``RandomPassword``'s ``result`` is a secret output (pulumi-random registers it with
``additional_secret_outputs``); every value taken from it here is wrapped in
``pulumi.Output.secret`` as well, so it stays secret whatever carries it on: encrypted in the
state, ``[secret]`` in previews and logs, and never exported.
The ECS ``secrets`` a container gets (valueFrom a secret's JSON key) are declared here too, so
the execution role may read exactly the secrets some task definition names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from tradai.registry.credentials import READER_USERNAME, RUNNER_USERNAME
from tradai.topology import Topology
from tradai.topology.ecs_secrets import CONTAINER_SECRETS, value_from
from tradai_infra.context import Context
from tradai_infra.errors import SpecMappingError

# MLflow's admin (the service creates it at start from mlflow-basic-auth) and the RDS master
# user (database.py), the one login MLflow's backend store knows.
MLFLOW_ADMIN = "tradai-admin"
DATABASE_USER = "mlflow"
PASSWORD_LENGTH = 32

# Generated: secret name -> the username beside the generated password. ``mlflow-users``
# holds {"users": {<username>: <password>}}: the gateway's read-only identity.
LOGINS = {
    "mlflow-basic-auth": MLFLOW_ADMIN,
    "mlflow-runner": RUNNER_USERNAME,
    "mlflow-database": DATABASE_USER,
}
USERS = {"mlflow-users": (READER_USERNAME,)}
# Values nobody can generate: live-trading keys, the webhook's URL. The program says so on
# every run (see infra/README.md).
OPERATOR = {
    "exchange-credentials": '{"api_key": "...", "api_secret": "..."}',
    "notification-webhook": '{"url": "https://..."}',
}
# Values the stack itself knows: the Cognito app client's id (edge.py writes it).
GATEWAY_CLIENT_SECRET = "gateway-client"
FROM_STACK = (GATEWAY_CLIENT_SECRET,)

# ECS ``secrets`` per container (tradai.topology.ecs_secrets, which the local cloud declares
# too): MLflow's database login reaches it this way only (the task role cannot read it).


@dataclass(frozen=True)
class SecretValues:
    passwords: dict[str, random.RandomPassword]  # "<secret>" or "<secret>/<user>"
    versions: dict[str, aws.secretsmanager.SecretVersion]

    def password(self, key: str) -> pulumi.Output[str]:
        return pulumi.Output.secret(self.passwords[key].result)

    @property
    def database_password(self) -> pulumi.Output[str]:
        return self.password("mlflow-database")


def check_secrets(topo: Topology) -> None:
    """Every spec secret is generated here or named as the operator's; before any resource."""
    known = {**LOGINS, **USERS, **OPERATOR, **dict.fromkeys(FROM_STACK)}
    for s in topo.secrets:
        if s.name not in known:
            raise SpecMappingError(
                f"secrets[{s.name!r}]: tradai_infra.secret_values neither generates a value "
                "for it nor names it as the operator's (LOGINS, USERS, FROM_STACK or "
                "OPERATOR)")
        if s.name in LOGINS and set(s.fields) != {"username", "password"}:
            raise SpecMappingError(f"secrets[{s.name!r}]: a generated login has the fields "
                                   f"username and password, the spec says {s.fields}")
    if topo.database.secret not in LOGINS:
        raise SpecMappingError(f"database.secret {topo.database.secret!r} must be a generated "
                               "login (the RDS master password is set from it)")
    names = {s.name for s in topo.secrets}
    for container, refs in CONTAINER_SECRETS.items():
        for _, secret, _ in refs:
            if secret not in names:
                raise SpecMappingError(f"CONTAINER_SECRETS[{container!r}] names {secret!r}, "
                                       "which the topology spec does not declare")


def operator_secrets(topo: Topology) -> list[str]:
    return [s.name for s in topo.secrets if s.name in OPERATOR]


def _password(ctx: Context, key: str) -> random.RandomPassword:
    # Letters and digits only: valid as an RDS master password and inside a URL unescaped.
    # ``keepers`` empty: the value changes only if this resource is replaced.
    return random.RandomPassword(ctx.name(f"{key.replace('/', '-')}-password"),
                                 length=PASSWORD_LENGTH, special=False)


def build_secret_values(ctx: Context,
                        secrets: dict[str, aws.secretsmanager.Secret]) -> SecretValues:
    passwords: dict[str, random.RandomPassword] = {}
    versions: dict[str, aws.secretsmanager.SecretVersion] = {}
    for spec in ctx.topo.secrets:
        if spec.name in LOGINS:
            passwords[spec.name] = _password(ctx, spec.name)
            value = pulumi.Output.json_dumps({
                "username": LOGINS[spec.name],
                "password": pulumi.Output.secret(passwords[spec.name].result)})
        elif spec.name in USERS:
            users = {}
            for user in USERS[spec.name]:
                passwords[f"{spec.name}/{user}"] = _password(ctx, f"{spec.name}/{user}")
                users[user] = pulumi.Output.secret(passwords[f"{spec.name}/{user}"].result)
            value = pulumi.Output.json_dumps({"users": users})
        else:
            continue
        versions[spec.name] = aws.secretsmanager.SecretVersion(
            f"{ctx.name(spec.name)}-value",
            secret_id=secrets[spec.name].id,
            secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=secrets[spec.name]),
        )
    left = operator_secrets(ctx.topo)
    if left:
        pulumi.log.warn(
            "secrets without a value, to be put by the operator (infra/README.md, 'Secret "
            "values'): " + "; ".join(
                f"aws secretsmanager put-secret-value --secret-id {ctx.name(n)} "
                f"--secret-string '{OPERATOR[n]}'" for n in left))
    return SecretValues(passwords=passwords, versions=versions)


def container_secrets(name: str, arns: dict[str, pulumi.Input[str]]) -> list[dict[str, object]]:
    """The ECS ``secrets`` of a container, ``valueFrom`` as ecs_secrets.value_from makes it."""
    return [{"name": env,
             "valueFrom": pulumi.Output.from_input(arns[secret]).apply(
                 lambda a, k=key: value_from(a, k))}
            for env, secret, key in CONTAINER_SECRETS.get(name, ())]

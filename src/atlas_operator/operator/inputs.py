"""Resolving a resource's inputs: URLs, desired schema, dev database, from the spec
and the Secrets and ConfigMaps it references.

Precedence is upstream's: `urlFrom` > `url` > `credentials`; `devURLFrom` >
`devURL`; `configMapKeyRef` > `hcl` > `sql` > `url`. Failures raise
`InputError` with upstream's text first, then the field it comes from, and never a
credential.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote, urlencode

from atlas_operator.operator.resources import (
    ConfigMapKeySelector,
    Credentials,
    DesiredSchema,
    SecretKeySelector,
    SecretRef,
    TargetAndProjectFields,
    Variable,
)


class InputError(Exception):
    """A resource input that cannot be resolved; the message names the field."""


class DesiredStateMissingError(InputError):
    """No desired schema at all; upstream notices it while writing the working directory
    (reason `CreatingWorkingDir`), after the inputs were read."""


class ObjectSource(Protocol):
    """Reads referenced objects: the API server in the operator, files in local mode."""

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decoded data of a Secret, or None when there is no such Secret."""

    def configmap_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The data of a ConfigMap, or None when there is no such ConfigMap."""


def not_found(resource: str, name: str, namespace: str, field: str) -> str:
    """The API server's text (`secrets "x" not found`, as upstream shows it), then the
    field and namespace it was looked up for."""
    return f'{resource} "{name}" not found ({field}, namespace {namespace})'


def secret_value(source: ObjectSource, namespace: str, ref: SecretKeySelector, field: str) -> str:
    data = source.secret_data(namespace, ref.name)
    if data is None:
        raise InputError(not_found("secrets", ref.name, namespace, field))
    if ref.key not in data:
        raise InputError(
            f'secret {namespace}/{ref.name} does not contain key "{ref.key}" ({field})'
        )
    return string_value(data[ref.key], f'{field}: secret {namespace}/{ref.name} key "{ref.key}"')


def configmap_value(
    source: ObjectSource, namespace: str, ref: ConfigMapKeySelector, field: str
) -> str:
    data = source.configmap_data(namespace, ref.name)
    if data is None:
        raise InputError(not_found("configmaps", ref.name, namespace, field))
    if ref.key not in data:
        raise InputError(
            f'configmaps {namespace}/{ref.name} does not contain key "{ref.key}" ({field})'
        )
    return string_value(data[ref.key], f'{field}: configmap {namespace}/{ref.name} key "{ref.key}"')


def string_value(value: object, where: str) -> str:
    """Object data are strings on the API server; a file in local mode may hold anything,
    and the value itself is not shown (it may be a credential)."""
    if not isinstance(value, str):
        raise InputError(f"{where}: the value must be a string, got {type(value).__name__}")
    return value


def from_secret(
    source: ObjectSource, namespace: str, ref: SecretRef | None, field: str
) -> str | None:
    if ref is None or ref.secret_key_ref is None:
        return None
    return secret_value(source, namespace, ref.secret_key_ref, f"{field}.secretKeyRef")


def target_url(spec: TargetAndProjectFields, namespace: str, source: ObjectSource) -> str:
    """The target database URL (upstream's TargetSpec.DatabaseURL)."""
    url = from_secret(source, namespace, spec.url_from, "spec.urlFrom")
    if url:
        return url
    if spec.url:
        return spec.url
    if spec.credentials is not None:
        built = credentials_url(spec.credentials, namespace, source)
        if built:
            return built
    raise InputError("no target database defined: set spec.urlFrom, spec.url or spec.credentials")


def credentials_url(creds: Credentials, namespace: str, source: ObjectSource) -> str | None:
    host = (
        from_secret(source, namespace, creds.host_from, "spec.credentials.hostFrom") or creds.host
    )
    if not host:
        return None
    if not creds.scheme:
        raise InputError("spec.credentials.scheme: the database driver (URL scheme) is required")
    user = (
        from_secret(source, namespace, creds.user_from, "spec.credentials.userFrom") or creds.user
    )
    password = (
        from_secret(source, namespace, creds.password_from, "spec.credentials.passwordFrom")
        or creds.password
    )
    userinfo = ""
    if user:
        userinfo = quote(user, safe="")
        if password:
            userinfo += ":" + quote(password, safe="")
        userinfo += "@"
    netloc = host + (f":{creds.port}" if creds.port and creds.port > 0 else "")
    params = dict(creds.parameters or {})
    path = ""
    if creds.database:
        if creds.scheme == "sqlserver":
            params["database"] = creds.database
        else:
            path = "/" + creds.database
    query = ("?" + urlencode(params)) if params else ""
    return f"{creds.scheme}://{userinfo}{netloc}{path}{query}"


def dev_url(spec: TargetAndProjectFields, namespace: str, source: ObjectSource) -> str | None:
    return from_secret(source, namespace, spec.dev_url_from, "spec.devURLFrom") or spec.dev_url


def desired_schema(
    schema: DesiredSchema | None, namespace: str, source: ObjectSource
) -> tuple[str, str]:
    """The desired schema text and its format (`sql` or `hcl`)."""
    if schema is None:
        raise DesiredStateMissingError("spec.schema: the desired state is not set")
    if schema.config_map_key_ref is not None:
        ref = schema.config_map_key_ref
        ext = ref.key.rsplit(".", 1)[-1].lower() if "." in ref.key else ""
        if ext not in ("sql", "hcl"):
            raise InputError(
                f'spec.schema.configMapKeyRef: configmaps key "{ref.key}" must be ending with '
                f'.sql or .hcl, received ".{ext}"'
                if ext
                else f'spec.schema.configMapKeyRef: configmaps key "{ref.key}" must be ending with '
                f'.sql or .hcl, received ""'
            )
        return configmap_value(source, namespace, ref, "spec.schema.configMapKeyRef"), ext
    if schema.hcl:
        return schema.hcl, "hcl"
    if schema.sql:
        return schema.sql, "sql"
    if schema.url:
        raise InputError(
            f"spec.schema.url: {schema.url.split('://', 1)[0]}:// schema URLs need Atlas Cloud, "
            "which this operator does not support; put the schema in spec.schema.sql or a ConfigMap"
        )
    raise DesiredStateMissingError("spec.schema: the desired state is not set")


CUSTOM_CONFIG_GATE = (
    'install the operator with "--set allowCustomConfig=true" to use custom atlas.hcl config'
)


def reject_custom_config(spec: TargetAndProjectFields, allowed: bool = False) -> None:
    """`spec.config`/`configFrom` hold an atlas.hcl for the Atlas binary, which we do not
    run. Upstream's gate comes first so the message matches when the gate is closed."""
    if not (spec.config or spec.config_from):
        return
    if not allowed:
        raise InputError(f"spec.config: {CUSTOM_CONFIG_GATE}")
    if not spec.env_name:
        raise InputError("spec.envName: env name must be set when using custom atlas.hcl config")
    raise InputError("spec.config: custom atlas.hcl configuration is not supported yet")


def resolve_vars(
    spec: TargetAndProjectFields, namespace: str, source: ObjectSource
) -> dict[str, str]:
    """`spec.vars` as a mapping; a key given twice is an error (DECISIONS.md §3.6), where
    upstream silently keeps the last value."""
    values: dict[str, str] = {}
    for index, var in enumerate(spec.vars or []):
        field = f"spec.vars[{index}]"
        if not var.key:
            raise InputError(f"{field}.key: a variable needs a key")
        if var.key in values:
            raise InputError(f'{field}.key: variable "{var.key}" is given more than once')
        values[var.key] = variable_value(var, namespace, source, field)
    return values


def variable_value(var: Variable, namespace: str, source: ObjectSource, field: str) -> str:
    ref = var.value_from
    if ref is not None and ref.config_map_key_ref is not None:
        return configmap_value(
            source, namespace, ref.config_map_key_ref, f"{field}.valueFrom.configMapKeyRef"
        )
    if ref is not None and ref.secret_key_ref is not None:
        return secret_value(
            source, namespace, ref.secret_key_ref, f"{field}.valueFrom.secretKeyRef"
        )
    return var.value or ""

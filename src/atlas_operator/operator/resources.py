"""Typed models of the two custom resources, `AtlasSchema` and `AtlasMigration`.

These models are the single source of truth for the resources' shape: the CRD
YAML (`atlas-operator crds`, `config/crd/`) is generated from them by
`atlas_operator.operator.crd`, and the controllers parse the objects they read
from the API server (or from files in local mode) with them.

Wire compatibility with the Go operator (`db.atlasgo.io/v1alpha1`) is the rule:
every JSON name, default and enum below matches upstream, including its mixed
naming (`observed_hash` and `last_applied` in snake_case next to `planURL`).
Python attributes are snake_case; the JSON name is the field's alias.
Attribute docstrings become the CRD's `description`s.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

GROUP = "db.atlasgo.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Keys the CRD generator reads from a field's `json_schema_extra`.
CRD_DEFAULT = "x-crd-default"
CRD_INT64 = "x-crd-int64"


def crd_default(value: Any) -> dict[str, Any]:
    """Marks a field's default as one the API server applies (an OpenAPI `default`)."""
    return {CRD_DEFAULT: value}


INT64: dict[str, Any] = {CRD_INT64: True}


class Model(BaseModel):
    """Base of every resource model: camelCase JSON names, unknown fields refused."""

    model_config = ConfigDict(
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="forbid",
        validate_default=True,
    )

    def to_json(self) -> dict[str, Any]:
        """The object as the API server stores it: JSON names, unset optionals left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class AtomicModel(Model):
    """A reference object that Kubernetes replaces as a whole on apply."""

    crd_map_type: ClassVar[str | None] = "atomic"


# --- references to Secrets and ConfigMaps -----------------------------------


class SecretKeySelector(AtomicModel):
    """Selects a key of a Secret in the resource's namespace."""

    key: str
    """The key of the Secret to select from. Must be a valid secret key."""
    name: str = Field("", json_schema_extra=crd_default(""))
    """Name of the referent (the Secret)."""
    optional: bool | None = None
    """Specify whether the Secret or its key must be defined."""


class ConfigMapKeySelector(AtomicModel):
    """Selects a key of a ConfigMap in the resource's namespace."""

    key: str
    """The key to select."""
    name: str = Field("", json_schema_extra=crd_default(""))
    """Name of the referent (the ConfigMap)."""
    optional: bool | None = None
    """Specify whether the ConfigMap or its key must be defined."""


class LocalObjectReference(AtomicModel):
    """References an object in the resource's namespace by name."""

    name: str = Field("", json_schema_extra=crd_default(""))
    """Name of the referent."""


class SecretRef(Model):
    """A value read from a Secret."""

    secret_key_ref: SecretKeySelector | None = Field(None, alias="secretKeyRef")
    """Selects a key of a Secret in the resource's namespace."""


# --- target database (TargetSpec) ------------------------------------------


class Credentials(Model):
    """The parts of a database URL, used when neither `url` nor `urlFrom` is set."""

    scheme: str | None = None
    """The URL scheme: the database driver (postgres, mysql, maria, sqlite, ...)."""
    user: str | None = None
    """The user name."""
    user_from: SecretRef | None = Field(None, alias="userFrom")
    """Reads the user name from a Secret; overrides `user`."""
    password: str | None = None
    """The password. Prefer `passwordFrom`."""
    password_from: SecretRef | None = Field(None, alias="passwordFrom")
    """Reads the password from a Secret; overrides `password`."""
    host: str | None = None
    """The database host. A URL is built only when the host is set."""
    host_from: SecretRef | None = Field(None, alias="hostFrom")
    """Reads the host from a Secret; overrides `host`."""
    port: int | None = None
    """The database port; omitted from the URL when not positive."""
    database: str | None = None
    """The database name (the URL path)."""
    parameters: dict[str, str] | None = None
    """Query parameters of the URL (for example `sslmode: disable`)."""


class Variable(Model):
    """An input variable of the project configuration."""

    key: str | None = None
    """The variable's name."""
    value: str | None = None
    """The variable's value."""
    value_from: VariableSource | None = Field(None, alias="valueFrom")
    """Reads the value from a Secret or ConfigMap; overrides `value`."""


class VariableSource(Model):
    """Where a variable's value comes from."""

    secret_key_ref: SecretKeySelector | None = Field(None, alias="secretKeyRef")
    """Selects a key of a Secret in the resource's namespace."""
    config_map_key_ref: ConfigMapKeySelector | None = Field(None, alias="configMapKeyRef")
    """Selects a key of a ConfigMap in the resource's namespace; wins over `secretKeyRef`."""


class Container(Model):
    """A container of the custom dev-database pod (the rest of corev1.Container is kept)."""

    model_config = ConfigDict(extra="allow")

    name: str
    """Name of the container."""
    image: str | None = None
    """Container image name."""


class PodSpec(Model):
    """A corev1.PodSpec for the dev database; every PodSpec field is accepted and kept."""

    model_config = ConfigDict(extra="allow")

    containers: list[Container]
    """The containers of the dev-database pod."""


class DevDB(Model):
    """A custom dev-database pod."""

    spec: PodSpec | None = None
    """The pod spec of the dev database. Requires `devURL` or `devURLFrom`, whose host is
    replaced by the pod's IP."""


class TargetAndProjectFields(Model):
    """Fields shared by both resources (upstream's inlined TargetSpec and ProjectConfigSpec)."""

    url: str | None = None
    """The URL of the target database. Prefer `urlFrom` when it carries credentials."""
    url_from: SecretRef | None = Field(None, alias="urlFrom")
    """Reads the URL of the target database from a Secret; wins over `url`."""
    credentials: Credentials | None = None
    """The target database as URL parts; used when neither `urlFrom` nor `url` is set."""
    config: str | None = None
    """A project configuration (atlas.hcl). Needs the operator's allowCustomConfig setting."""
    config_from: SecretRef | None = Field(None, alias="configFrom")
    """Reads the project configuration from a Secret; overrides `config`."""
    env_name: str | None = Field(None, alias="envName")
    """The env block of the project configuration to use (default `kubernetes`)."""
    vars: list[Variable] | None = None
    """Input variables of the project configuration."""
    dev_db: DevDB | None = Field(None, alias="devDB")
    """A custom dev-database pod."""
    dev_url: str | None = Field(None, alias="devURL")
    """The URL of the dev database used to normalise and plan. When empty the operator
    runs one itself (SQLite uses an in-memory database)."""
    dev_url_from: SecretRef | None = Field(None, alias="devURLFrom")
    """Reads the dev-database URL from a Secret; wins over `devURL`."""
    backoff_limit: int = Field(20, alias="backoffLimit", json_schema_extra=crd_default(20))
    """Consecutive failed reconciles after which retrying stops; 0 retries forever."""


# --- AtlasSchema ------------------------------------------------------------


class TxMode(StrEnum):
    """How statements are grouped into transactions."""

    FILE = "file"
    ALL = "all"
    NONE = "none"


class LintReview(StrEnum):
    """When a plan needs a review (an Atlas Cloud feature)."""

    ALWAYS = "ALWAYS"
    WARNING = "WARNING"
    ERROR = "ERROR"


class DesiredSchema(Model):
    """The desired schema, in SQL or Atlas HCL, inline or from a ConfigMap."""

    sql: str | None = None
    """The desired schema as SQL statements."""
    hcl: str | None = None
    """The desired schema in the Atlas HCL language."""
    url: str | None = None
    """An `atlas://` schema-registry URL (Atlas Cloud; not supported by this operator)."""
    config_map_key_ref: ConfigMapKeySelector | None = Field(None, alias="configMapKeyRef")
    """Reads the desired schema from a ConfigMap key ending in `.sql` or `.hcl`; wins over
    `hcl` and `sql`."""


class SchemaCloud(Model):
    """Atlas Cloud settings of an AtlasSchema (accepted, not supported)."""

    repo: str | None = None
    """The Atlas Cloud schema repository."""
    token_from: SecretRef | None = Field(None, alias="tokenFrom")
    """Reads the Atlas Cloud token from a Secret."""


class CheckConfig(Model):
    """Settings of one lint check."""

    error: bool | None = None
    """Fail the reconcile when the check reports a finding."""


class Lint(Model):
    """Lint policies applied to a plan before it runs."""

    destructive: CheckConfig | None = None
    """Destructive changes (dropping schemas, tables or columns)."""
    review: LintReview | None = None
    """The Atlas Cloud review policy (not supported by this operator)."""


class SkipChanges(Model):
    """Kinds of change left out of the plan."""

    add_schema: bool | None = None
    """Leave out creating schemas."""
    drop_schema: bool | None = None
    """Leave out dropping schemas."""
    modify_schema: bool | None = None
    """Leave out altering schemas."""
    add_table: bool | None = None
    """Leave out creating tables."""
    drop_table: bool | None = None
    """Leave out dropping tables."""
    modify_table: bool | None = None
    """Leave out altering tables."""
    add_column: bool | None = None
    """Leave out creating columns."""
    drop_column: bool | None = None
    """Leave out dropping columns."""
    modify_column: bool | None = None
    """Leave out altering columns."""
    add_index: bool | None = None
    """Leave out creating indexes."""
    drop_index: bool | None = None
    """Leave out dropping indexes."""
    modify_index: bool | None = None
    """Leave out altering indexes."""
    add_foreign_key: bool | None = None
    """Leave out creating foreign keys."""
    drop_foreign_key: bool | None = None
    """Leave out dropping foreign keys."""
    modify_foreign_key: bool | None = None
    """Leave out altering foreign keys."""
    # Schema objects beyond tables (PostgreSQL; an addition to upstream's keys).
    add_view: bool | None = None
    """Leave out creating views."""
    drop_view: bool | None = None
    """Leave out dropping views."""
    modify_view: bool | None = None
    """Leave out changing views."""
    add_materialized: bool | None = None
    """Leave out creating materialized views."""
    drop_materialized: bool | None = None
    """Leave out dropping materialized views."""
    modify_materialized: bool | None = None
    """Leave out changing materialized views."""
    add_function: bool | None = None
    """Leave out creating functions."""
    drop_function: bool | None = None
    """Leave out dropping functions."""
    modify_function: bool | None = None
    """Leave out changing functions."""
    add_procedure: bool | None = None
    """Leave out creating procedures."""
    drop_procedure: bool | None = None
    """Leave out dropping procedures."""
    modify_procedure: bool | None = None
    """Leave out changing procedures."""
    add_trigger: bool | None = None
    """Leave out creating triggers."""
    drop_trigger: bool | None = None
    """Leave out dropping triggers."""
    modify_trigger: bool | None = None
    """Leave out changing triggers."""
    add_sequence: bool | None = None
    """Leave out creating sequences."""
    drop_sequence: bool | None = None
    """Leave out dropping sequences."""
    modify_sequence: bool | None = None
    """Leave out changing sequences."""
    add_enum: bool | None = None
    """Leave out creating enum types."""
    drop_enum: bool | None = None
    """Leave out dropping enum types."""
    modify_enum: bool | None = None
    """Leave out changing enum types."""
    add_domain: bool | None = None
    """Leave out creating domains."""
    drop_domain: bool | None = None
    """Leave out dropping domains."""
    modify_domain: bool | None = None
    """Leave out changing domains."""
    add_composite: bool | None = None
    """Leave out creating composite types."""
    drop_composite: bool | None = None
    """Leave out dropping composite types."""
    modify_composite: bool | None = None
    """Leave out changing composite types."""
    add_policy: bool | None = None
    """Leave out creating row-level security policies."""
    drop_policy: bool | None = None
    """Leave out dropping row-level security policies."""
    modify_policy: bool | None = None
    """Leave out changing row-level security policies."""
    add_extension: bool | None = None
    """Leave out creating extensions."""
    drop_extension: bool | None = None
    """Leave out dropping extensions."""
    modify_extension: bool | None = None
    """Leave out changing extensions."""
    add_collation: bool | None = None
    """Leave out creating collations."""
    drop_collation: bool | None = None
    """Leave out dropping collations."""
    modify_collation: bool | None = None
    """Leave out changing collations."""
    add_event_trigger: bool | None = None
    """Leave out creating event triggers."""
    drop_event_trigger: bool | None = None
    """Leave out dropping event triggers."""
    modify_event_trigger: bool | None = None
    """Leave out changing event triggers."""
    add_event: bool | None = None
    """Leave out creating scheduled events (MySQL/MariaDB)."""
    drop_event: bool | None = None
    """Leave out dropping scheduled events (MySQL/MariaDB)."""
    modify_event: bool | None = None
    """Leave out changing scheduled events (MySQL/MariaDB)."""


class ConcurrentIndex(Model):
    """PostgreSQL: create and drop indexes CONCURRENTLY (outside a transaction)."""

    create: bool | None = None
    """Use CREATE INDEX CONCURRENTLY."""
    drop: bool | None = None
    """Use DROP INDEX CONCURRENTLY."""


class Diff(Model):
    """Policies that shape the planned changes."""

    concurrent_index: ConcurrentIndex | None = None
    """Build and drop indexes concurrently (PostgreSQL)."""
    skip: SkipChanges | None = None
    """Kinds of change to leave out of the plan."""


class Policy(Model):
    """Policies that govern how changes are planned and checked."""

    lint: Lint | None = None
    """Checks run on the plan."""
    diff: Diff | None = None
    """How the plan is computed."""


class ConditionStatus(StrEnum):
    """The status of a condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """A metav1.Condition."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    """Type of condition: Ready, Reconciling or Stalled."""
    status: ConditionStatus
    """Status of the condition."""
    observed_generation: int | None = Field(
        None, alias="observedGeneration", ge=0, json_schema_extra=INT64
    )
    """The .metadata.generation the condition was set for."""
    last_transition_time: str = Field(
        alias="lastTransitionTime", json_schema_extra={"format": "date-time"}
    )
    """When the condition last changed status."""
    reason: str = Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    """A CamelCase reason for the condition's last transition."""
    message: str = Field(max_length=32768)
    """A human readable message about the transition."""


class AtlasSchemaSpec(TargetAndProjectFields):
    """The desired state of an AtlasSchema."""

    schema_: DesiredSchema | None = Field(None, alias="schema")
    """The desired schema of the target."""
    cloud: SchemaCloud | None = None
    """Atlas Cloud settings (not supported by this operator)."""
    exclude: list[str] | None = None
    """Glob patterns of database objects to leave alone (`table`, `schema.table`, `*.column`,
    with type selectors such as `*[type=view]`)."""
    tx_mode: TxMode = Field(TxMode.FILE, alias="txMode", json_schema_extra=crd_default("file"))
    """The transaction mode used to apply the plan."""
    policy: Policy | None = None
    """Policies for planning and checking schema changes."""
    schemas: list[str] | None = None
    """The schemas (named databases) of the target to manage."""


class AtlasSchemaStatus(Model):
    """The observed state of an AtlasSchema."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = Field(
        None, alias="observedGeneration", json_schema_extra=INT64
    )
    """The generation last processed by the controller."""
    conditions: list[Condition] | None = None
    """The latest observations of the resource's state."""
    observed_hash: str | None = None
    """The hash of the most recently applied desired schema."""
    last_applied: int | None = Field(None, json_schema_extra=INT64)
    """Unix time of the last successful apply (0: never)."""
    plan_url: str | None = Field(None, alias="planURL")
    """The URL of the schema plan to apply (Atlas Cloud)."""
    plan_link: str | None = Field(None, alias="planLink")
    """The link to the schema plan on Atlas Cloud."""
    failed: int = Field(0, json_schema_extra=crd_default(0))
    """Consecutive failed reconciles."""


class ObjectMeta(Model):
    """The parts of metav1.ObjectMeta the controllers read; the rest is kept as is."""

    model_config = ConfigDict(extra="allow")
    crd_opaque: ClassVar[bool] = True

    name: str | None = None
    namespace: str | None = None
    generation: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class Resource(Model):
    """Fields every custom resource has."""

    kind_name: ClassVar[str]
    plural: ClassVar[str]

    api_version: str | None = Field(None, alias="apiVersion")
    """APIVersion defines the versioned schema of this representation of an object."""
    kind: str | None = None
    """Kind is a string value representing the REST resource this object represents."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


class AtlasSchema(Resource):
    """AtlasSchema is the Schema for the atlasschemas API"""

    kind_name: ClassVar[str] = "AtlasSchema"
    plural: ClassVar[str] = "atlasschemas"

    spec: AtlasSchemaSpec = Field(default_factory=AtlasSchemaSpec)
    status: AtlasSchemaStatus = Field(
        default_factory=lambda: AtlasSchemaStatus(observedGeneration=-1),
        json_schema_extra=crd_default({"observedGeneration": -1}),
    )


# --- AtlasMigration ---------------------------------------------------------


class ExecOrder(StrEnum):
    """How files that sort before the last applied version are treated."""

    LINEAR = "linear"
    LINEAR_SKIP = "linear-skip"
    NON_LINEAR = "non-linear"


class MigrationCloud(Model):
    """Atlas Cloud settings of an AtlasMigration (accepted, not supported)."""

    url: str | None = None
    """The Atlas Cloud URL."""
    project: str | None = None
    """The Atlas Cloud project."""
    token_from: SecretRef | None = Field(None, alias="tokenFrom")
    """Reads the Atlas Cloud token from a Secret."""


class RemoteDir(Model):
    """A migration directory on Atlas Cloud (not supported)."""

    name: str | None = None
    """The directory's name."""
    tag: str | None = None
    """The directory's tag."""


class MigrationDir(Model):
    """Where the migration directory comes from."""

    local: dict[str, str] | None = None
    """The migration files inline: file name to content (`*.sql` and `atlas.sum`)."""
    config_map_ref: LocalObjectReference | None = Field(None, alias="configMapRef")
    """A ConfigMap whose keys are the migration files."""
    remote: RemoteDir | None = None
    """A directory on Atlas Cloud (not supported by this operator)."""


class MigrateDown(Model):
    """The migrate-down (downgrade) flow."""

    allow: bool = Field(False, json_schema_extra=crd_default(False))
    """Allow downgrading the database to an earlier version."""
    auto_approve: bool = Field(False, alias="autoApprove", json_schema_extra=crd_default(False))
    """Approve downgrades without review (local directories only)."""


class ProtectedFlows(Model):
    """Flows that must be allowed explicitly."""

    migrate_down: MigrateDown | None = Field(None, alias="migrateDown")
    """Downgrades."""


class AtlasMigrationSpec(TargetAndProjectFields):
    """The desired state of an AtlasMigration."""

    cloud: MigrationCloud | None = None
    """Atlas Cloud settings (not supported by this operator)."""
    dir: MigrationDir
    """The migration directory."""
    revisions_schema: str | None = Field(None, alias="revisionsSchema")
    """The schema that holds the revisions table."""
    baseline: str | None = None
    """The version to start from on a database that is not clean."""
    exec_order: ExecOrder = Field(
        ExecOrder.LINEAR, alias="execOrder", json_schema_extra=crd_default("linear")
    )
    """How files that sort before the last applied version are treated."""
    protected_flows: ProtectedFlows | None = Field(None, alias="protectedFlows")
    """Flows that must be allowed explicitly, such as downgrades."""


class AtlasMigrationStatus(Model):
    """The observed state of an AtlasMigration."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = Field(
        None, alias="observedGeneration", json_schema_extra=INT64
    )
    """The generation last processed by the controller."""
    conditions: list[Condition] | None = None
    """The latest observations of the resource's state."""
    last_applied_version: str | None = Field(None, alias="lastAppliedVersion")
    """The migration version the database is at."""
    last_deployment_url: str | None = Field(None, alias="lastDeploymentUrl")
    """The Atlas Cloud deployment URL."""
    approval_url: str | None = Field(None, alias="approvalUrl")
    """The approval URL of a pending downgrade plan."""
    observed_hash: str | None = None
    """The hash of the inputs of the last successful run."""
    last_applied: int | None = Field(None, alias="lastApplied", json_schema_extra=INT64)
    """Unix time of the last successful run."""
    failed: int = Field(0, json_schema_extra=crd_default(0))
    """Consecutive failed reconciles."""


class AtlasMigration(Resource):
    """AtlasMigration is the Schema for the atlasmigrations API"""

    kind_name: ClassVar[str] = "AtlasMigration"
    plural: ClassVar[str] = "atlasmigrations"

    spec: AtlasMigrationSpec
    status: AtlasMigrationStatus = Field(
        default_factory=lambda: AtlasMigrationStatus(observedGeneration=-1),
        json_schema_extra=crd_default({"observedGeneration": -1}),
    )


RESOURCE_KINDS: tuple[type[Resource], ...] = (AtlasSchema, AtlasMigration)

Variable.model_rebuild()
Condition.model_rebuild()

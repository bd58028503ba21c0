"""The qflux configuration: QueryFlux's YAML format, loaded into frozen attrs classes.

The file format is QueryFlux's (camelCase keys), so an existing QueryFlux config loads
unchanged; the Python side uses snake_case attributes. cattrs does the structuring with a
renaming override per attribute, `forbid_extra_keys` and detailed validation, so every
problem can be reported with the key path it came from.

Loading happens in passes, each collecting as many problems as it can:

1. read and parse the YAML (syntax errors carry file, line and column);
2. expand `${VAR}` / `${VAR:-default}` in string values (`$${` is a literal `${`);
3. structure into the classes below (types, ranges, unknown keys, unknown enum values);
   regexes are compiled here, router and translation scripts read and compiled (never
   run), and the PostgreSQL wire frontend's TLS files checked for readability;
4. if that succeeded, check cross references and engine requirements (`_check_config`).

All problems from the first pass that has any are raised together as one `ConfigError`,
so `qflux check` can print them all at once.
"""

import ast
import contextlib
import difflib
import enum
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Annotated, Any, ClassVar, Literal, TypeAlias, TypeVar, get_args, get_origin
from urllib.parse import urlsplit

import attrs
import cattrs
import yaml
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, make_mapping_structure_fn
from cattrs.gen import override as cattrs_override
from sqlglot.dialects.dialect import Dialect

from qflux.core import EngineType, FrontendProtocol

__all__ = [
    "AdminApiConfig",
    "AuthConfig",
    "AuthorizationConfig",
    "ClientTagsRouter",
    "ClientTagsRule",
    "ClusterAuthConfig",
    "ClusterConfig",
    "ClusterGroupConfig",
    "CompoundCondition",
    "CompoundRouter",
    "ConditionType",
    "Config",
    "ConfigError",
    "FrontendConfig",
    "FrontendsConfig",
    "HeaderRouter",
    "HealthCheckConfig",
    "PersistenceConfig",
    "PgTlsConfig",
    "PostgresWireConfig",
    "ProtocolBasedRouter",
    "PythonScriptRouter",
    "QfluxSection",
    "QueryAuthConfig",
    "QueryRegexRouter",
    "RegexRule",
    "RouterConfig",
    "StaticUser",
    "StrategyConfig",
    "StrategyType",
    "TagsRouter",
    "TagsRule",
    "TlsConfig",
    "TranslationConfig",
    "TranslationScript",
    "TrinoHttpConfig",
    "config_to_dict",
    "default_config",
    "load_config",
]


class ConfigError(Exception):
    """An invalid configuration. `problems` holds every problem found, each "path: message"."""

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# --- value constraints, declared on the attribute types ------------------------------


@attrs.frozen
class _Range:
    """`Annotated` metadata: the structuring hook rejects numbers outside this range."""

    low: float
    high: float | None = None
    low_exclusive: bool = False


@attrs.frozen
class _NotYet:
    """`Annotated` metadata on a `Literal`: values QueryFlux knows that qflux does not yet.

    Such a value is reported as "not supported yet" rather than as a typo.
    """

    values: tuple[str, ...]
    noun: str


@attrs.frozen
class _ValidRegex:
    """`Annotated` metadata on a `str`: the value must compile with Python's `re`."""


@attrs.frozen
class _SqlglotDialect:
    """`Annotated` metadata on a `str`: the value must name a sqlglot dialect."""


_Port = Annotated[int, _Range(0, 65535)]
_PositiveInt = Annotated[int, _Range(1)]
_NonNegativeInt = Annotated[int, _Range(0)]
_NonNegativeFloat = Annotated[float, _Range(0)]
_PositiveFloat = Annotated[float, _Range(0, low_exclusive=True)]
_Regex = Annotated[str, _ValidRegex()]
_DialectName = Annotated[str, _SqlglotDialect()]


# --- the configuration classes --------------------------------------------------------


@attrs.frozen
class TrinoHttpConfig:
    """The Trino HTTP frontend, the one frontend enabled by default."""

    enabled: bool = True
    port: _Port = 8080
    host: str | None = None  # None: the section's bindAddress
    # Trino's query.client.timeout (5m): a query nobody polls for this long is abandoned.
    client_timeout_secs: _PositiveFloat = 300.0
    max_page_bytes: _PositiveInt = 1_048_576
    max_request_bytes: _PositiveInt = 4_194_304


@attrs.frozen
class FrontendConfig:
    """A frontend not implemented yet; the port default depends on the protocol."""

    enabled: bool = False
    port: _Port = attrs.field(kw_only=True)
    host: str | None = None  # None: the section's bindAddress


@attrs.frozen
class PgTlsConfig:
    """The PostgreSQL wire frontend's certificate and key, PEM files.

    Relative paths are resolved against the config file's directory, as for a
    `scriptFile`; once loaded both hold absolute paths, and both files were readable.
    """

    cert_file: str
    key_file: str


@attrs.frozen
class PostgresWireConfig:
    """The PostgreSQL wire protocol frontend (`queryflux.frontends.postgresWire`)."""

    enabled: bool = False
    port: _Port = 5432
    host: str | None = None  # None: the section's bindAddress
    # The largest message a client may send; every length prefix is checked against it.
    max_message_bytes: _PositiveInt = 16 * 1024 * 1024
    max_statements: _PositiveInt = 1000  # named prepared statements per connection
    max_portals: _PositiveInt = 100  # named portals per connection
    # None: scram-sha-256 when auth.provider is static, trust otherwise.
    auth_method: Literal["trust", "cleartext", "md5", "scram-sha-256"] | None = None
    allow_cleartext_without_tls: bool = False  # permit authMethod cleartext with no tls
    tls: PgTlsConfig | None = None  # None: no TLS
    server_version: str = "16.4"  # reported in ParameterStatus server_version


@attrs.frozen
class FrontendsConfig:
    """One entry per client protocol; the keys are the `FrontendProtocol` values."""

    trino_http: TrinoHttpConfig = attrs.Factory(TrinoHttpConfig)
    postgres_wire: PostgresWireConfig = attrs.Factory(PostgresWireConfig)
    mysql_wire: FrontendConfig = attrs.Factory(lambda: FrontendConfig(port=3306))
    clickhouse_http: FrontendConfig = attrs.Factory(lambda: FrontendConfig(port=8123))
    flight_sql: FrontendConfig = attrs.Factory(lambda: FrontendConfig(port=50051))

    def by_protocol(
        self,
    ) -> dict[FrontendProtocol, TrinoHttpConfig | PostgresWireConfig | FrontendConfig]:
        """All frontends keyed by protocol, so listeners can be started in one loop."""
        return {p: getattr(self, _snake(p.value)) for p in FrontendProtocol}


@attrs.frozen
class PersistenceConfig:
    """Where query history lives. Only in-memory today; QueryFlux also has postgres, redis.

    Both QueryFlux spellings are accepted: `{type: inMemory}` and `{inMemory: {}}`.
    """

    type: Annotated[Literal["inMemory"], _NotYet(("postgres", "redis"), "persistence")] = "inMemory"
    max_history: _NonNegativeInt = 10_000  # finished queries kept for the admin API


@attrs.frozen
class AdminApiConfig:
    """The admin REST API and metrics endpoint."""

    enabled: bool = True
    host: str | None = None  # None: the section's bindAddress
    port: _Port = 9000
    username: str = "admin"
    password: str = "admin"


@attrs.frozen
class HealthCheckConfig:
    """How often qflux probes each cluster, and when it changes its mind about one."""

    enabled: bool = True
    interval_secs: _PositiveFloat = 10.0
    timeout_secs: _PositiveFloat = 5.0  # one probe; may exceed the interval
    unhealthy_threshold: _PositiveInt = 3  # consecutive failures before a cluster is skipped
    healthy_threshold: _PositiveInt = 1  # consecutive successes before it is used again


@attrs.frozen
class QfluxSection:
    """The `queryflux:` section: the proxy process itself."""

    external_address: str | None = None  # base of the URIs handed to clients
    bind_address: str = "0.0.0.0"
    frontends: FrontendsConfig = attrs.Factory(FrontendsConfig)
    persistence: PersistenceConfig = attrs.Factory(PersistenceConfig)
    admin_api: AdminApiConfig = attrs.Factory(AdminApiConfig)
    health_check: HealthCheckConfig = attrs.Factory(HealthCheckConfig)
    shutdown_grace_secs: _NonNegativeFloat = 30.0
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"


@attrs.frozen
class ClusterAuthConfig:
    """Credentials qflux presents to a backend cluster."""

    type: Literal["basic", "bearer", "keyPair", "accessKey"]
    username: str | None = None
    password: str | None = None
    token: str | None = None


@attrs.frozen
class TlsConfig:
    """TLS settings for the connection to a backend cluster."""

    insecure_skip_verify: bool = False
    ca_file: str | None = None


@attrs.frozen
class QueryAuthConfig:
    """Whose identity a backend query runs under."""

    type: Literal["serviceAccount", "passthrough", "impersonate", "tokenExchange"]


@attrs.frozen
class ClusterConfig:
    """One backend cluster. Which keys are required depends on the engine."""

    engine: EngineType
    enabled: bool = True
    max_running_queries: _PositiveInt | None = None
    database_path: str | None = None  # duckDb; None: an in-memory database
    endpoint: str | None = None  # every engine but duckDb and athena
    auth: ClusterAuthConfig | None = None
    tls: TlsConfig | None = None
    query_auth: QueryAuthConfig | None = None
    pool_size: _PositiveInt | None = None
    region: str | None = None  # athena
    s3_output_location: str | None = None  # athena
    workgroup: str | None = None  # athena
    catalog: str | None = None
    database: str | None = None
    health_check_query: str | None = None  # None: the engine's own probe


class StrategyType(enum.StrEnum):
    """How a group picks one of its healthy clusters."""

    ROUND_ROBIN = "roundRobin"
    LEAST_LOADED = "leastLoaded"
    FAILOVER = "failover"
    ENGINE_AFFINITY = "engineAffinity"
    WEIGHTED = "weighted"


@attrs.frozen
class StrategyConfig:
    """A group's load-balancing strategy; `preference` and `weights` belong to one type each."""

    type: StrategyType
    preference: tuple[EngineType, ...] = ()  # engineAffinity: engines in preference order
    weights: Mapping[str, _PositiveInt] = attrs.field(factory=dict)  # weighted: member -> weight


@attrs.frozen
class ClusterGroupConfig:
    """A routing target: clusters sharing one FIFO admission queue."""

    members: tuple[str, ...]
    max_running_queries: _PositiveInt
    enabled: bool = True
    max_queued_queries: _NonNegativeInt | None = None  # None: unbounded
    queue_timeout_secs: _NonNegativeFloat | None = None  # None: as long as the client waits
    strategy: StrategyConfig = attrs.Factory(lambda: StrategyConfig(StrategyType.ROUND_ROBIN))
    overflow_group: str | None = None  # where queries go when this group's queue is full
    # With overflowGroup: a query still queued after this long moves there as well.
    overflow_after_secs: _PositiveFloat | None = None
    # Translate against the member engines' table schemas (see translation.schemaTtlSecs).
    schema_aware_translation: bool = False


@attrs.frozen
class ProtocolBasedRouter:
    """Routes by the protocol the client spoke (`type: protocolBased`)."""

    type: ClassVar[Literal["protocolBased"]] = "protocolBased"  # the YAML tag; not a field

    trino_http: str | None = None
    postgres_wire: str | None = None
    mysql_wire: str | None = None
    clickhouse_http: str | None = None
    flight_sql: str | None = None

    def mapping(self) -> dict[FrontendProtocol, str]:
        """The protocols this router routes, with their group names."""
        groups = {p: getattr(self, _snake(p.value)) for p in FrontendProtocol}
        return {p: g for p, g in groups.items() if g is not None}


@attrs.frozen
class HeaderRouter:
    """Routes by the value of one request header (`type: header`)."""

    type: ClassVar[Literal["header"]] = "header"  # the YAML tag; not a field

    header_name: str
    header_value_to_group: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class RegexRule:
    """One rule of a queryRegex router: a query matching `regex` (re.search) goes there."""

    regex: _Regex
    target_group: str


@attrs.frozen
class QueryRegexRouter:
    """Routes by the SQL text; the first matching rule wins (`type: queryRegex`)."""

    type: ClassVar[Literal["queryRegex"]] = "queryRegex"  # the YAML tag; not a field

    rules: tuple[RegexRule, ...]


@attrs.frozen
class ClientTagsRule:
    """One rule of a clientTags router: matches when the session carries every tag listed."""

    tags: tuple[str, ...]  # as the client sent them: `etl`, `team:eng`
    target_group: str


@attrs.frozen
class ClientTagsRouter:
    """Routes by the client tags of the session; the first matching rule wins."""

    type: ClassVar[Literal["clientTags"]] = "clientTags"  # the YAML tag; not a field

    rules: tuple[ClientTagsRule, ...]


@attrs.frozen
class TagsRule:
    """One rule of a tags router: every key must be present, with this value (null: any)."""

    tags: Mapping[str, str | None]
    target_group: str


@attrs.frozen
class TagsRouter:
    """Routes by key/value session tags; the first matching rule wins (`type: tags`)."""

    type: ClassVar[Literal["tags"]] = "tags"  # the YAML tag; not a field

    rules: tuple[TagsRule, ...]


@attrs.frozen
class PythonScriptRouter:
    """Routes with a `route(query, ctx)` function (`type: pythonScript`).

    The YAML gives either `script` (the source) or `scriptFile`. Once loaded, `script`
    always holds the source and `script_file` the file's absolute path (None: inline).
    """

    type: ClassVar[Literal["pythonScript"]] = "pythonScript"  # the YAML tag; not a field

    script: str
    script_file: str | None = None
    timeout_ms: _PositiveInt = 100


class ConditionType(enum.StrEnum):
    """What one condition of a compound router tests; each type has its own keys."""

    PROTOCOL = "protocol"  # protocol
    HEADER = "header"  # headerName, headerValue
    USER = "user"  # username
    CLIENT_TAG = "clientTag"  # tag
    QUERY_REGEX = "queryRegex"  # regex


@attrs.frozen
class CompoundCondition:
    """One condition of a compound router; only the keys of its `type` are set."""

    type: ConditionType
    protocol: FrontendProtocol | None = None
    header_name: str | None = None
    header_value: str | None = None
    username: str | None = None
    tag: str | None = None
    regex: _Regex | None = None


@attrs.frozen
class CompoundRouter:
    """Routes to one group when all (or any) of its conditions hold (`type: compound`)."""

    type: ClassVar[Literal["compound"]] = "compound"  # the YAML tag; not a field

    target_group: str
    conditions: tuple[CompoundCondition, ...]
    combine: Literal["all", "any"] = "all"


RouterConfig: TypeAlias = (
    ProtocolBasedRouter
    | HeaderRouter
    | QueryRegexRouter
    | ClientTagsRouter
    | TagsRouter
    | PythonScriptRouter
    | CompoundRouter
)

_ROUTER_CLASSES: Mapping[str, type[RouterConfig]] = {
    cls.type: cls
    for cls in (
        ProtocolBasedRouter,
        HeaderRouter,
        QueryRegexRouter,
        ClientTagsRouter,
        TagsRouter,
        PythonScriptRouter,
        CompoundRouter,
    )
}

# The keys each compound condition type needs; the other option keys must stay unset.
_CONDITION_KEYS: Mapping[ConditionType, tuple[str, ...]] = {
    ConditionType.PROTOCOL: ("protocol",),
    ConditionType.HEADER: ("header_name", "header_value"),
    ConditionType.USER: ("username",),
    ConditionType.CLIENT_TAG: ("tag",),
    ConditionType.QUERY_REGEX: ("regex",),
}


@attrs.frozen
class TranslationScript:
    """A `transform(sql, src, dst)` hook that gets the last word on translated SQL.

    The YAML gives either `script` (the source) or `scriptFile`, as for a pythonScript
    router. Once loaded, `script` always holds the source and `script_file` the file's
    absolute path (None: inline).
    """

    script: str
    script_file: str | None = None


@attrs.frozen
class TranslationConfig:
    """SQL dialect translation between the client's protocol and the engine."""

    # True: fail a query sqlglot cannot translate faithfully; False: send it as parsed.
    error_on_unsupported: bool = False
    cache_size: _NonNegativeInt = 10_000  # translations kept; 0 disables the cache
    flight_sql_dialect: _DialectName = "trino"  # the sqlglot dialect Flight SQL clients speak
    schema_ttl_secs: _PositiveFloat = 300.0  # how long a fetched engine schema is used
    python_scripts: tuple[TranslationScript, ...] = ()  # applied in order


@attrs.frozen
class StaticUser:
    """One user of the static auth provider (`auth.users.<name>`)."""

    password: str  # may come from the environment: `${PG_ALICE_PASSWORD}`


@attrs.frozen
class AuthConfig:
    """Client authentication: `none` (trust the network) or `static` (the users listed)."""

    provider: Annotated[Literal["none", "static"], _NotYet(("oidc", "ldap"), "auth provider")] = (
        "none"
    )
    required: bool = False  # reject sessions that carry no user name
    users: Mapping[str, StaticUser] = attrs.field(factory=dict)  # static: name -> user


@attrs.frozen
class AuthorizationConfig:
    """Which users may use which groups. Only `none` (allow all) is implemented."""

    provider: Annotated[Literal["none"], _NotYet(("openfga",), "authorization provider")] = "none"


@attrs.frozen
class Config:
    """The whole configuration file."""

    queryflux: QfluxSection = attrs.Factory(QfluxSection)
    clusters: Mapping[str, ClusterConfig] = attrs.field(factory=dict)
    cluster_groups: Mapping[str, ClusterGroupConfig] = attrs.field(factory=dict)
    routers: tuple[RouterConfig, ...] = ()
    routing_fallback: str | None = None  # the group for queries no router claims
    translation: TranslationConfig = attrs.Factory(TranslationConfig)
    auth: AuthConfig = attrs.Factory(AuthConfig)
    authorization: AuthorizationConfig = attrs.Factory(AuthorizationConfig)


# --- public functions -----------------------------------------------------------------


def load_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> Config:
    """Load and validate a config from a YAML file path or an already-parsed mapping.

    Raises ConfigError listing every problem found.
    """
    base_dir = None  # where relative file paths are looked up; None: the current directory
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        raw: Any = _read_yaml(path)
        base_dir = os.path.dirname(os.path.abspath(path))
    else:
        raw = source
    if not isinstance(raw, Mapping):
        raise ConfigError(f"(top level): expected a mapping of sections, got {_show(raw)}")

    env_problems: list[tuple[str, str]] = []
    expanded = _expand_env(raw, (), env_problems)
    skip = {path for path, _ in env_problems}  # their values are unusable: no echo errors
    problems = list(env_problems)
    token = _base_dir.set(base_dir)
    try:
        config = _converter.structure(expanded, Config)
    except (ClassValidationError, IterableValidationError) as exc:
        problems += [p for p in _structural_problems(exc) if p[0] not in skip]
    else:
        problems += [p for p in _check_config(config) if p[0] not in skip]
    finally:
        _base_dir.reset(token)
    if problems:
        raise ConfigError(
            _unique(f"{path or '(top level)'}: {message}" for path, message in problems)
        )
    return config


def default_config() -> Config:
    """The config used when none is given: one in-memory DuckDB behind Trino HTTP on 8080."""
    return load_config(
        {
            "clusters": {"duckdb": {"engine": "duckDb", "maxRunningQueries": 8}},
            "clusterGroups": {"default": {"members": ["duckdb"], "maxRunningQueries": 8}},
            "routingFallback": "default",
        }
    )


def config_to_dict(config: Config) -> dict[str, Any]:
    """Unstructure a Config back to QueryFlux's camelCase form; load_config accepts it back."""
    result: dict[str, Any] = _converter.unstructure(config)
    return result


# --- reading the file -----------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys: YAML would silently keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty; expected a mapping of sections")
    return data


def _yaml_problem(path: str, exc: yaml.MarkedYAMLError) -> str:
    """`file:line:column: problem`, 1-based, the form editors can jump to."""
    mark = exc.problem_mark or exc.context_mark
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.context_mark:
        cm = exc.context_mark
        message += f" ({exc.context} at line {cm.line + 1}, column {cm.column + 1})"
    return f"{where}: {message}"


# --- ${VAR} expansion -----------------------------------------------------------------

_ENV_REF = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)(?P<close>\})?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _expand_env(value: Any, path: tuple[str | int, ...], problems: list[tuple[str, str]]) -> Any:
    """Expand environment references in every string value (not in keys), recursively."""
    if isinstance(value, str):
        return _expand_string(value, _fmt_path(path), problems)
    if isinstance(value, Mapping):
        return {k: _expand_env(v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_expand_env(v, (*path, i), problems) for i, v in enumerate(value)]
    return value


def _expand_string(text: str, path: str, problems: list[tuple[str, str]]) -> str:
    """Shell-like: `${VAR}`, `${VAR:-default}` (default also when VAR is empty), `$${`."""
    if "$" not in text:
        return text

    def replace(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        body = m.group("body")
        if m.group("close") is None:
            problems.append((path, "unterminated '${' (write '$${' for a literal '${')"))
            return m.group(0)
        name, has_default, default = body.partition(":-")
        if not _ENV_NAME.fullmatch(name):
            problems.append((path, f"invalid environment variable reference '${{{body}}}'"))
            return m.group(0)
        value = os.environ.get(name)
        if has_default:
            return value or default
        if value is None:
            problems.append((path, f"environment variable {name} is not set"))
            return m.group(0)
        return value

    return _ENV_REF.sub(replace, text)


# --- structuring hooks ----------------------------------------------------------------


class _Invalid(ValueError):
    """A structuring failure whose message is already fit for the user."""


def _show(value: Any) -> str:
    """A value as the user wrote it, short enough for one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    hint = "; quote it to make it a string" if isinstance(value, int | float) else ""
    raise _Invalid(f"expected a string, got {_show(value)}{hint}")


def _structure_int(value: Any, _: Any) -> int:
    # Numeric strings are accepted because `${VAR}` expansion always yields a string.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise _Invalid(f"expected an integer, got {_show(value)}")


def _structure_float(value: Any, _: Any) -> float:
    number = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if number is None or not math.isfinite(number):  # a NaN timeout would never compare
        raise _Invalid(f"expected a number, got {_show(value)}")
    return number


def _structure_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Invalid(f"expected true or false, got {_show(value)}")


def _choice(value: Any, choices: Sequence[str]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    raise _Invalid(f"unknown {_show(value)}; expected one of {', '.join(choices)}")


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    return cls(_choice(value, [str(m.value) for m in cls]))


def _structure_literal(value: Any, tp: Any) -> str:
    return _choice(value, [str(a) for a in get_args(tp)])


_M = TypeVar("_M")


def _metadata(tp: Any, kind: type[_M]) -> _M | None:
    """The `Annotated` metadata of class `kind` on type `tp`, if any."""
    if get_origin(tp) is Annotated:
        return next((m for m in tp.__metadata__ if isinstance(m, kind)), None)
    return None


def _range_hook(tp: Any) -> Callable[[Any, Any], Any]:
    base = get_args(tp)[0]
    rng = _metadata(tp, _Range)
    assert rng is not None
    structure_base = _converter.get_structure_hook(base)

    def structure(value: Any, _: Any) -> Any:
        number = structure_base(value, base)
        if rng.high is not None and not rng.low <= number <= rng.high:
            raise _Invalid(f"must be between {rng.low:g} and {rng.high:g}, got {number!r}")
        if rng.low_exclusive and number <= rng.low:
            raise _Invalid(f"must be greater than {rng.low:g}, got {number!r}")
        if number < rng.low:
            raise _Invalid(f"must be at least {rng.low:g}, got {number!r}")
        return number

    return structure


def _not_yet_hook(tp: Any) -> Callable[[Any, Any], str]:
    literal = get_args(tp)[0]
    not_yet = _metadata(tp, _NotYet)
    assert not_yet is not None
    choices = [*get_args(literal), *not_yet.values]

    def structure(value: Any, _: Any) -> str:
        if value in not_yet.values:
            raise _Invalid(f"the {value} {not_yet.noun} is not supported yet")
        return _choice(value, choices)

    return structure


def _structure_regex(value: Any, _: Any) -> str:
    pattern = _structure_str(value, str)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise _Invalid(f"invalid regex: {exc}") from None
    return pattern


def _structure_dialect(value: Any, _: Any) -> str:
    name = _structure_str(value, str)
    return _choice(name, sorted(key for key in Dialect.classes if key))


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _tuple_hook(tp: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
    """A list of items; unlike cattrs' default, a string is not a list of characters."""
    item_type = get_args(tp)[0]
    structure_item = _converter.get_structure_hook(item_type)

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise _Invalid(f"expected a list, got {_show(value)}")
        items, errors = [], []
        for i, item in enumerate(value):
            try:
                items.append(structure_item(item, item_type))
            except Exception as exc:
                note = IterableValidationNote(f"Structuring item @ index {i}", i, item_type)
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
        return tuple(items)

    return structure


def _is_mapping_type(tp: Any) -> bool:
    return get_origin(tp) in (Mapping, dict)


def _mapping_hook(tp: Any) -> Callable[[Any, Any], dict[Any, Any]]:
    inner = make_mapping_structure_fn(tp, _converter)

    def structure(value: Any, _: Any) -> dict[Any, Any]:
        return inner(_as_mapping(value), tp)

    return structure


def _as_mapping(value: Any) -> Mapping[Any, Any]:
    """A section given as `null` (all its keys commented out) counts as empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Invalid(f"expected a mapping, got {_show(value)}")
    return value


def _renames(cls: type) -> dict[str, Any]:
    return {a.name: cattrs_override(rename=_camel(a.name)) for a in attrs.fields(cls)}


def _attrs_hook(cls: type) -> Callable[[Any, Any], Any]:
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, _converter, **_renames(cls))
    not_yet = {
        _camel(a.name): m
        for a in attrs.fields(cls)
        if (m := _metadata(a.type, _NotYet)) is not None
    }
    keys = [_camel(a.name) for a in attrs.fields(cls)]

    def structure(value: Any, _: Any) -> Any:
        obj = _as_mapping(value)
        if any(obj.get(k) in m.values for k, m in not_yet.items()):
            # Options of an unsupported provider would each be an "unknown key": noise.
            obj = {k: v for k, v in obj.items() if k in keys}
        return _split_unknown_keys(inner, obj, cls)

    return structure


def _split_unknown_keys(inner: Callable[[Any, Any], Any], obj: Mapping[Any, Any], cls: type) -> Any:
    """One problem per unknown key (cattrs reports them together), in document order."""
    try:
        return inner(obj, cls)
    except ClassValidationError as exc:
        errors: list[Exception] = []
        for e in exc.exceptions:
            if isinstance(e, ForbiddenExtraKeysError) and len(e.extra_fields) > 1:
                ordered = [k for k in obj if k in e.extra_fields]
                errors += [ForbiddenExtraKeysError("", e.cl, {k}) for k in ordered]
            else:
                errors.append(e)
        raise ClassValidationError(exc.message, errors, exc.cl) from None


def _at(key: str, message: str) -> _Invalid:
    """An error attached to `key` of the mapping being structured."""
    exc = _Invalid(message)
    exc.__notes__ = [AttributeValidationNote(f"Structuring @ {key}", key, None)]
    return exc


def _frontends_hook(_: Any) -> Callable[[Any, Any], FrontendsConfig]:
    """Fills in each protocol's default port, so `mysqlWire: {enabled: false}` is valid."""
    inner = _attrs_hook(FrontendsConfig)
    default_ports = {p.value: f.port for p, f in FrontendsConfig().by_protocol().items()}

    def structure(value: Any, _: Any) -> FrontendsConfig:
        obj = dict(_as_mapping(value))
        for key, port in default_ports.items():
            section = obj.get(key)
            if section is None and key in obj:
                obj[key] = {"port": port}
            elif isinstance(section, Mapping) and "port" not in section:
                obj[key] = {**section, "port": port}
        result: FrontendsConfig = inner(obj, FrontendsConfig)
        return result

    return structure


_PERSISTENCE_KEYS = ("inMemory", "postgres", "redis")


def _persistence_hook(_: Any) -> Callable[[Any, Any], PersistenceConfig]:
    """Accepts `{type: inMemory, ...}` and QueryFlux's `{inMemory: {...}}` spelling."""
    flat = _attrs_hook(PersistenceConfig)
    return lambda value, _: _structure_persistence(flat, _as_mapping(value))


def _structure_persistence(
    flat: Callable[[Any, Any], PersistenceConfig], obj: Mapping[Any, Any]
) -> PersistenceConfig:
    nested = [k for k in _PERSISTENCE_KEYS if k in obj]
    if not nested:
        result: PersistenceConfig = flat(obj, PersistenceConfig)
        return result
    if len(obj) > 1:
        keys = ", ".join(_show(k) for k in obj)
        message = f"expected either 'type' or one of {', '.join(_PERSISTENCE_KEYS)}, got {keys}"
        raise ClassValidationError(
            "While structuring PersistenceConfig", [_Invalid(message)], PersistenceConfig
        )
    (key,) = nested
    if key != "inMemory":
        raise ClassValidationError(
            "While structuring PersistenceConfig",
            [_at(key, f"the {key} persistence is not supported yet")],
            PersistenceConfig,
        )
    try:
        options = _as_mapping(obj[key])
        result = flat({**options, "type": "inMemory"}, PersistenceConfig)
    except Exception as exc:
        exc.__notes__ = [AttributeValidationNote(f"Structuring @ {key}", key, None)]
        raise ClassValidationError(
            "While structuring PersistenceConfig", [exc], PersistenceConfig
        ) from None
    return result


def _structure_router(value: Any, _: Any) -> RouterConfig:
    """Dispatches on `type`, QueryFlux's tag for its router variants."""
    obj = _as_mapping(value)
    kind = obj.get("type")
    if "type" not in obj:
        error = _at("type", "required key missing")
    elif kind not in _ROUTER_CLASSES:
        expected = ", ".join(_ROUTER_CLASSES)
        error = _at("type", f"unknown {_show(kind)}; expected one of {expected}")
    else:
        cls = _ROUTER_CLASSES[str(kind)]
        body = {k: v for k, v in obj.items() if k != "type"}
        router: RouterConfig = _converter.structure(body, cls)
        return router
    raise ClassValidationError("While structuring a router", [error], dict)


# The directory a relative file path (`scriptFile`, `tls.certFile`, ...) is resolved
# against: the config file's, set by load_config; None (a mapping): the current directory.
_base_dir: ContextVar[str | None] = ContextVar("_base_dir", default=None)


def _resolve_path(path: str) -> str:
    """A file path from the config, made absolute against the config file's directory."""
    return os.path.abspath(os.path.join(_base_dir.get() or os.getcwd(), path))


def _read_problem(exc: OSError | UnicodeDecodeError, path: str) -> str:
    """`cannot read <path>: <the OS's reason>`."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return f"cannot read {path}: {reason}"


@attrs.frozen
class _ScriptFunction:
    """The top-level function a script must define, and the arguments it is called with."""

    name: str
    params: tuple[str, ...]  # all passed positionally

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


_ScriptT = TypeVar("_ScriptT", PythonScriptRouter, TranslationScript)

# What each kind of script must define.
_SCRIPT_FUNCTIONS: Mapping[type, _ScriptFunction] = {
    PythonScriptRouter: _ScriptFunction("route", ("query", "ctx")),
    TranslationScript: _ScriptFunction("transform", ("sql", "src", "dst")),
}


def _script_hook(cls: type[_ScriptT]) -> Callable[[Any, Any], _ScriptT]:
    """Takes `script` or `scriptFile`, reads the file, and checks the source (never runs it)."""
    inner = _attrs_hook(cls)
    function = _SCRIPT_FUNCTIONS[cls]

    def fail(key: str, message: str) -> ClassValidationError:
        return ClassValidationError(f"While structuring {cls.__name__}", [_at(key, message)], cls)

    def structure(value: Any, _: Any) -> _ScriptT:
        obj = {k: v for k, v in _as_mapping(value).items() if v is not None}
        if "script" in obj and "scriptFile" in obj:
            raise _Invalid("expected either script or scriptFile, not both")
        if "script" not in obj and "scriptFile" not in obj:
            raise _Invalid("requires script (the source) or scriptFile")
        loaded: _ScriptT = inner({"script": "", **obj}, cls)
        key = "script"
        if loaded.script_file is not None:
            key = "scriptFile"
            path = _resolve_path(loaded.script_file)
            try:
                with open(path, encoding="utf-8") as f:
                    loaded = attrs.evolve(loaded, script=f.read(), script_file=path)
            except (OSError, UnicodeDecodeError) as exc:
                raise fail(key, _read_problem(exc, path)) from None
        message = _script_problem(loaded.script, loaded.script_file, function)
        if message is not None:
            raise fail(key, message)
        return loaded

    return structure


def _script_problem(source: str, path: str | None, function: _ScriptFunction) -> str | None:
    """Why `source` (from file `path`, None: inline) does not define `function`, or None."""
    where = f" in {path}" if path else ""
    try:
        compile(source, path or "<pythonScript>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = f" at line {exc.lineno}" if exc.lineno else ""
        return f"syntax error{where}{line}: {exc.msg}"
    except ValueError as exc:  # a NUL byte, before Python 3.12
        return f"syntax error{where}: {exc}"
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function.name]
    if not defs or not _accepts_positional(defs[-1].args, len(function.params)):
        return f"{path} must define {function}" if path else f"must define {function}"
    return None


def _accepts_positional(args: ast.arguments, count: int) -> bool:
    """Whether a function with these parameters can be called with `count` positional args."""
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    required_keywords = any(default is None for default in args.kw_defaults)
    return (
        (positional >= count or args.vararg is not None)
        and required <= count
        and not required_keywords
    )


def _pg_tls_hook(_: Any) -> Callable[[Any, Any], PgTlsConfig]:
    """Resolves certFile and keyFile like a scriptFile, and checks both can be read now.

    Only that they can be read: whether they hold a PEM certificate and its key is
    found out when the TLS context is built.
    """
    inner = _attrs_hook(PgTlsConfig)

    def structure(value: Any, _: Any) -> PgTlsConfig:
        loaded: PgTlsConfig = inner(value, PgTlsConfig)
        paths = {
            "certFile": _resolve_path(loaded.cert_file),
            "keyFile": _resolve_path(loaded.key_file),
        }
        errors: list[Exception] = []
        for key, path in paths.items():
            try:
                with open(path, "rb") as f:
                    f.read(1)
            except OSError as exc:
                errors.append(_at(key, _read_problem(exc, path)))
        if errors:
            raise ClassValidationError("While structuring PgTlsConfig", errors, PgTlsConfig)
        return PgTlsConfig(cert_file=paths["certFile"], key_file=paths["keyFile"])

    return structure


def _script_source_form(data: dict[str, Any], script_file: str | None) -> dict[str, Any]:
    """A script as load_config accepts it back: `scriptFile` when read from one, else `script`."""
    del data["script" if script_file is not None else "scriptFile"]
    return data


def _router_unstructure_hook(
    cls: type[RouterConfig], conv: cattrs.Converter
) -> Callable[[Any], dict[str, Any]]:
    inner = make_dict_unstructure_fn(cls, conv, **_renames(cls))

    def unstructure(router: Any) -> dict[str, Any]:
        data = {"type": cls.type, **inner(router)}
        if isinstance(router, PythonScriptRouter):
            return _script_source_form(data, router.script_file)
        return data

    return unstructure


_ENUMS = (EngineType, StrategyType, FrontendProtocol, ConditionType)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # Exact-type hooks: cattrs' defaults coerce (`bool("false")` is True, `int(2.9)` is 2).
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    for enum_cls in _ENUMS:
        conv.register_structure_hook(enum_cls, _structure_enum)
    # Predicate hooks; the last registered is tried first.
    conv.register_structure_hook_factory(attrs.has, _attrs_hook)
    conv.register_structure_hook_factory(_is_mapping_type, _mapping_hook)
    conv.register_structure_hook_factory(_is_homogeneous_tuple, _tuple_hook)
    conv.register_structure_hook_func(lambda t: get_origin(t) is Literal, _structure_literal)
    conv.register_structure_hook_factory(lambda t: _metadata(t, _Range) is not None, _range_hook)
    conv.register_structure_hook_factory(lambda t: _metadata(t, _NotYet) is not None, _not_yet_hook)
    conv.register_structure_hook_func(
        lambda t: _metadata(t, _ValidRegex) is not None, _structure_regex
    )
    conv.register_structure_hook_func(
        lambda t: _metadata(t, _SqlglotDialect) is not None, _structure_dialect
    )
    conv.register_structure_hook_factory(lambda t: t is FrontendsConfig, _frontends_hook)
    conv.register_structure_hook_factory(lambda t: t is PersistenceConfig, _persistence_hook)
    conv.register_structure_hook_factory(lambda t: t is PythonScriptRouter, _script_hook)
    conv.register_structure_hook_factory(lambda t: t is TranslationScript, _script_hook)
    conv.register_structure_hook_factory(lambda t: t is PgTlsConfig, _pg_tls_hook)
    conv.register_structure_hook_func(lambda t: t == RouterConfig, _structure_router)

    for enum_cls in _ENUMS:
        # A StrEnum is a str, and cattrs would pass it through as the enum member.
        conv.register_unstructure_hook(enum_cls, lambda member: member.value)
    conv.register_unstructure_hook_factory(
        attrs.has, lambda cls: make_dict_unstructure_fn(cls, conv, **_renames(cls))
    )
    condition = make_dict_unstructure_fn(CompoundCondition, conv, **_renames(CompoundCondition))
    conv.register_unstructure_hook(  # only the keys of the condition's type
        CompoundCondition, lambda c: {k: v for k, v in condition(c).items() if v is not None}
    )
    script = make_dict_unstructure_fn(TranslationScript, conv, **_renames(TranslationScript))
    conv.register_unstructure_hook(
        TranslationScript, lambda s: _script_source_form(script(s), s.script_file)
    )
    # After the condition hook: a router's hook binds its field types' hooks when made.
    for router_cls in _ROUTER_CLASSES.values():
        conv.register_unstructure_hook(router_cls, _router_unstructure_hook(router_cls, conv))
    return conv


# --- turning cattrs' errors into "path: message" --------------------------------------

_SEP = "\x00"  # ends each description, so the path can be split off unambiguously
_PATH_TOKEN = re.compile(
    r"\.(?P<attr>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\[(?P<index>-?\d+)\]"
    r"|\[(?P<key>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]"
)


def _describe(exc: BaseException, tp: Any) -> str:
    if isinstance(exc, _Invalid):
        message = str(exc)
    elif isinstance(exc, ForbiddenExtraKeysError):
        message = "; ".join(_unknown_key(k, exc.cl) for k in exc.extra_fields)
    elif isinstance(exc, KeyError):
        message = "required key missing"
    else:
        message = f"invalid value ({exc})"
    return message + _SEP


def _unknown_key(key: Any, cls: type) -> str:
    message = f"unknown key {_show(key)}"
    if not isinstance(key, str) or not attrs.has(cls):
        return message
    known = [_camel(a.name) for a in attrs.fields(cls)]
    if cls is PersistenceConfig:
        known += _PERSISTENCE_KEYS
    guess = _camel(key) if _camel(key) in known else None
    guess = guess or next(iter(difflib.get_close_matches(key, known, n=1, cutoff=0.75)), None)
    return f"{message}; did you mean '{guess}'?" if guess else message


def _structural_problems(exc: Exception) -> list[tuple[str, str]]:
    problems = []
    for line in cattrs.transform_error(exc, path="$", format_exception=_describe):
        message, _, raw_path = line.partition(_SEP + " @ ")
        problems.append((_fmt_path(_parse_path(raw_path)), message))
    return problems


def _parse_path(raw: str) -> list[str | int]:
    """cattrs' `$.cluster_groups['adhoc'].strategy` -> ['clusterGroups', 'adhoc', 'strategy']."""
    segments: list[str | int] = []
    for m in _PATH_TOKEN.finditer(raw, 1):
        if m.group("attr") is not None:
            segments.append(_camel(m.group("attr")))
        elif m.group("index") is not None:
            segments.append(int(m.group("index")))
        else:
            segments.append(ast.literal_eval(m.group("key")))
    return segments


def _fmt_path(segments: Sequence[str | int]) -> str:
    out = ""
    for seg in segments:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


def _unique(items: Iterator[str] | list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- semantic checks: cross references and per-engine requirements --------------------

_WILDCARD_HOSTS = ("0.0.0.0", "::", "", "*")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_ENDPOINT_OPTIONAL = (EngineType.DUCKDB, EngineType.ATHENA)
_SUPPORTED_FRONTENDS = (FrontendProtocol.TRINO_HTTP, FrontendProtocol.POSTGRES_WIRE)
# What clients parse out of server_version: a leading `major[.minor...]`.
_PG_SERVER_VERSION = re.compile(r"\d+(\.\d+)*")


def _check_config(config: Config) -> list[tuple[str, str]]:
    """Everything a type cannot express: names that must resolve, keys an engine needs."""
    problems: list[tuple[str, str]] = []

    def problem(path: str, message: str) -> None:
        problems.append((path, message))

    section = config.queryflux
    if section.external_address is not None:
        url = urlsplit(section.external_address)
        if url.scheme not in ("http", "https") or not url.netloc:
            problem(
                "queryflux.externalAddress",
                f"expected an http:// or https:// URL, got {_show(section.external_address)}",
            )
    if section.log_level.lower() not in _LOG_LEVELS:
        problem(
            "queryflux.logLevel",
            f"unknown {_show(section.log_level)}; expected one of {', '.join(_LOG_LEVELS)}",
        )

    # Listeners: only Trino HTTP and PostgreSQL wire exist so far; no two may share a port.
    listeners: list[tuple[str, str, int]] = []
    for protocol, frontend in section.frontends.by_protocol().items():
        path = f"queryflux.frontends.{protocol.value}"
        if not frontend.enabled:
            continue
        if protocol not in _SUPPORTED_FRONTENDS:
            problem(f"{path}.enabled", f"the {protocol.value} frontend is not supported yet")
        listeners.append((f"{path}.port", frontend.host or section.bind_address, frontend.port))
    if section.admin_api.enabled:
        admin = section.admin_api
        listeners.append(
            ("queryflux.adminApi.port", admin.host or section.bind_address, admin.port)
        )
    for i, (path, host, port) in enumerate(listeners):
        for other_path, other_host, other_port in listeners[:i]:
            same_host = host == other_host or bool({host, other_host} & set(_WILDCARD_HOSTS))
            if port and port == other_port and same_host:
                problem(path, f"port {port} is already used by {other_path}")
                break

    _check_postgres_wire(section.frontends.postgres_wire, config.auth, problem)
    _check_auth(config.auth, problem)

    # Clusters: each engine's required keys.
    for name, cluster in config.clusters.items():
        path = f"clusters.{name}"
        engine = cluster.engine
        if engine not in _ENDPOINT_OPTIONAL and not cluster.endpoint:
            problem(f"{path}.endpoint", f"required for a {engine.value} cluster")
        if engine is EngineType.ATHENA and not cluster.region:
            problem(f"{path}.region", "required for an athena cluster")
        if cluster.health_check_query is not None and not cluster.health_check_query.strip():
            problem(f"{path}.healthCheckQuery", "must not be empty")
        if cluster.auth is not None:
            if cluster.auth.type == "basic" and not cluster.auth.username:
                problem(f"{path}.auth.username", "required for auth type basic")
            if cluster.auth.type == "bearer" and not cluster.auth.token:
                problem(f"{path}.auth.token", "required for auth type bearer")

    groups = config.cluster_groups

    def group_ref(path: str, name: str) -> None:
        """A reference to a group that must exist and be enabled."""
        if name not in groups:
            defined = ", ".join(sorted(groups)) or "(none)"
            problem(path, f"unknown group {_show(name)}; defined groups: {defined}")
        elif not groups[name].enabled:
            problem(path, f"group {_show(name)} is disabled")

    # Groups: members, strategy options, overflow.
    for name, group in groups.items():
        path = f"clusterGroups.{name}"
        if not group.members:
            problem(f"{path}.members", "must name at least one cluster")
        for i, member in enumerate(group.members):
            if member not in config.clusters:
                defined = ", ".join(sorted(config.clusters)) or "(none)"
                problem(
                    f"{path}.members[{i}]",
                    f"unknown cluster {_show(member)}; defined clusters: {defined}",
                )
            elif member in group.members[:i]:
                problem(f"{path}.members[{i}]", f"cluster {_show(member)} is listed twice")
        _check_strategy(f"{path}.strategy", group, problem)
        if group.overflow_group is None and group.overflow_after_secs is not None:
            problem(f"{path}.overflowAfterSecs", "requires overflowGroup")
        if group.overflow_group is not None:
            if group.overflow_group == name:
                problem(f"{path}.overflowGroup", "must name another group, not the group itself")
            elif group.enabled:
                group_ref(f"{path}.overflowGroup", group.overflow_group)
    problems += _overflow_cycles(groups)

    # Routers and the fallback.
    for i, router in enumerate(config.routers):
        _check_router(f"routers[{i}]", router, problem, group_ref)
    if config.routing_fallback is not None:
        group_ref("routingFallback", config.routing_fallback)
    elif not groups:
        problem("routingFallback", "required")
    return problems


def _check_postgres_wire(
    pg: PostgresWireConfig, auth: AuthConfig, problem: Callable[[str, str], None]
) -> None:
    """Password methods need users to check against, and cleartext needs TLS (or consent).

    Checked whether or not the frontend is enabled, so enabling it cannot break the file.
    """
    path = "queryflux.frontends.postgresWire"
    method = pg.auth_method
    if method not in (None, "trust") and auth.provider != "static":
        problem(f"{path}.authMethod", f"{method} needs auth.provider static")
    if method == "cleartext" and pg.tls is None and not pg.allow_cleartext_without_tls:
        problem(
            f"{path}.authMethod",
            "cleartext without tls would send passwords across the network in clear; "
            "configure tls, or set allowCleartextWithoutTls: true to accept that",
        )
    if not _PG_SERVER_VERSION.match(pg.server_version):
        problem(
            f"{path}.serverVersion",
            f"expected a version number like '16.4', got {_show(pg.server_version)}",
        )


def _check_auth(auth: AuthConfig, problem: Callable[[str, str], None]) -> None:
    if auth.provider == "static" and not auth.users:
        problem("auth.users", "required for provider static")
    if auth.provider != "static" and auth.users:
        problem("auth.users", "only used by provider static")
    for name, user in auth.users.items():
        if not name.strip():
            problem("auth.users", "a user name must not be empty")
        elif not user.password:
            problem(f"auth.users.{name}.password", "must not be empty")


def _check_router(
    path: str,
    router: RouterConfig,
    problem: Callable[[str, str], None],
    group_ref: Callable[[str, str], None],
) -> None:
    """A router's own requirements, and every group it can route to."""
    if isinstance(router, ProtocolBasedRouter):
        for protocol, group_name in router.mapping().items():
            group_ref(f"{path}.{protocol.value}", group_name)
    elif isinstance(router, HeaderRouter):
        if not router.header_name.strip():
            problem(f"{path}.headerName", "must not be empty")
        for header_value, group_name in router.header_value_to_group.items():
            group_ref(f"{path}.headerValueToGroup.{header_value}", group_name)
    elif isinstance(router, QueryRegexRouter | ClientTagsRouter | TagsRouter):
        rules: Sequence[RegexRule | ClientTagsRule | TagsRule] = router.rules
        if not rules:
            problem(f"{path}.rules", "must have at least one rule")
        for j, rule in enumerate(rules):
            rule_path = f"{path}.rules[{j}]"
            if isinstance(rule, ClientTagsRule | TagsRule) and not rule.tags:
                problem(f"{rule_path}.tags", "must name at least one tag")
            if isinstance(rule, ClientTagsRule):
                for k, tag in enumerate(rule.tags):
                    if not tag.strip():
                        problem(f"{rule_path}.tags[{k}]", "must not be empty")
            group_ref(f"{rule_path}.targetGroup", rule.target_group)
    elif isinstance(router, CompoundRouter):
        if not router.conditions:
            problem(f"{path}.conditions", "must have at least one condition")
        for j, condition in enumerate(router.conditions):
            _check_condition(f"{path}.conditions[{j}]", condition, problem)
        group_ref(f"{path}.targetGroup", router.target_group)


def _check_condition(
    path: str, condition: CompoundCondition, problem: Callable[[str, str], None]
) -> None:
    """Each condition type sets exactly its own keys (as a strategy has its own options)."""
    needed = _CONDITION_KEYS[condition.type]
    for field in attrs.fields(CompoundCondition)[1:]:  # every option key after `type`
        value = getattr(condition, field.name)
        if field.name in needed and value is None:
            problem(f"{path}.{_camel(field.name)}", f"required for condition type {condition.type}")
        elif field.name not in needed and value is not None:
            problem(f"{path}.{_camel(field.name)}", f"not used by condition type {condition.type}")
    if condition.header_name is not None and not condition.header_name.strip():
        problem(f"{path}.headerName", "must not be empty")


def _check_strategy(
    path: str, group: ClusterGroupConfig, problem: Callable[[str, str], None]
) -> None:
    strategy = group.strategy
    if strategy.type is StrategyType.ENGINE_AFFINITY and not strategy.preference:
        problem(f"{path}.preference", "required for strategy engineAffinity")
    if strategy.type is not StrategyType.ENGINE_AFFINITY and strategy.preference:
        problem(f"{path}.preference", "only used by strategy engineAffinity")
    if strategy.type is not StrategyType.WEIGHTED:
        if strategy.weights:
            problem(f"{path}.weights", "only used by strategy weighted")
        return
    if not strategy.weights:
        problem(f"{path}.weights", "required for strategy weighted")
        return
    for member in strategy.weights:
        if member not in group.members:
            problem(f"{path}.weights.{member}", f"{_show(member)} is not a member of the group")
    for member in dict.fromkeys(group.members):
        if member not in strategy.weights:
            problem(f"{path}.weights", f"no weight for member {_show(member)}")


def _overflow_cycles(groups: Mapping[str, ClusterGroupConfig]) -> list[tuple[str, str]]:
    """A loop of overflow groups would bounce a query forever; report each loop once."""
    problems = []
    for start in groups:
        chain = [start]
        current = groups[start].overflow_group
        while current is not None and current in groups and current not in chain:
            chain.append(current)
            current = groups[current].overflow_group
        if current == start and len(chain) > 1 and start == min(chain):
            loop = " -> ".join([*chain, start])
            problems.append((f"clusterGroups.{start}.overflowGroup", f"overflow loop: {loop}"))
    return problems


_converter = _make_converter()

"""An emulated PostgreSQL system catalog, held in a small in-memory DuckDB database.

psql, drivers and BI tools browse a database by querying `pg_catalog` and
`information_schema`. The engines behind qflux have no such tables (or, like DuckDB,
only part of them), so the PostgreSQL frontend builds them from the engine's catalog
discovery: one pg_namespace row per schema, one pg_class row per table, one
pg_attribute row per column with the type oid the frontend sends for it, plus the
built-in types. The tables live in schemas `pgcat` and `infoschema`; the functions
clients call (`format_type`, `pg_table_is_visible`, `to_regtype` ...) are macros
beside them. `pg_catalog_sql` rewrites client queries to read from here.

Oids are derived from names, so a table keeps its oid across rebuilds and a client
that read it a moment ago can still use it.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import duckdb
import pyarrow as pa
from sqlglot import exp

from qflux.engines.base import Catalog
from qflux.frontends.pg_catalog_data import (
    BOOTSTRAP_ROLE,
    BUILTIN_TYPES,
    DEFAULT_COLLATION,
    DEFAULT_TABLESPACE,
    FIRST_USER_OID,
    HEAP_AM,
    INFORMATION_SCHEMA,
    INFORMATION_SCHEMA_NAMESPACE,
    PG_CATALOG,
    PG_CATALOG_NAMESPACE,
    TYPE_ALIASES,
    BuiltinType,
)

CATALOG_SCHEMA = "pgcat"
INFO_SCHEMA = "infoschema"
#: The DuckDB ENUM used for PostgreSQL's one-byte "char" columns. It survives
#: projections, joins and CTEs, and arrives as an Arrow dictionary, which is how the
#: frontend knows to describe such a column as "char" (asyncpg reads typtype as bytes).
CHAR_ENUM = "pgchar"

_KINDS: dict[str, tuple[str, pa.DataType, int]] = {  # kind -> DuckDB type, Arrow type, oid
    "o": ("BIGINT", pa.int64(), 26),
    "n": ("VARCHAR", pa.string(), 19),
    "t": ("VARCHAR", pa.string(), 25),
    "c": (CHAR_ENUM, pa.string(), 18),
    "b": ("BOOLEAN", pa.bool_(), 16),
    "i2": ("SMALLINT", pa.int16(), 21),
    "i4": ("INTEGER", pa.int32(), 23),
    "i8": ("BIGINT", pa.int64(), 20),
    "f4": ("REAL", pa.float32(), 700),
    "ts": ("TIMESTAMPTZ", pa.timestamp("us", tz="UTC"), 1184),
}
_DEFAULTS: dict[str, Any] = {"o": 0, "c": "", "b": False, "i2": 0, "i4": 0, "i8": 0, "f4": 0.0}
_BY_OID = {t.oid: t for t in BUILTIN_TYPES}
_BY_NAME = {t.name: t for t in BUILTIN_TYPES}


@attrs.frozen
class Column:
    name: str
    kind: str
    array: bool

    @property
    def duckdb_type(self) -> str:
        return _KINDS[self.kind][0] + ("[]" if self.array else "")

    @property
    def arrow_type(self) -> pa.DataType:
        base = _KINDS[self.kind][1]
        return pa.list_(base) if self.array else base

    @property
    def type_oid(self) -> int:
        oid = _KINDS[self.kind][2]
        return _BY_OID[oid].array_oid if self.array else oid

    def default(self) -> Any:
        return None if self.array else _DEFAULTS.get(self.kind)


def columns(spec: str) -> list[Column]:
    """Parse a `name:kind ...` table spec."""
    out = []
    for item in spec.split():
        name, kind = item.split(":")
        out.append(Column(name, kind.removesuffix("[]"), kind.endswith("[]")))
    return out


# -- engine types as PostgreSQL types ------------------------------------------------

_T = exp.DataType.Type
_SIMPLE_OIDS = {
    _T.BOOLEAN: 16,
    _T.TINYINT: 21,
    _T.UTINYINT: 21,
    _T.SMALLINT: 21,
    _T.USMALLINT: 23,
    _T.INT: 23,
    _T.UINT: 20,
    _T.BIGINT: 20,
    _T.UBIGINT: 1700,
    _T.INT128: 1700,
    _T.UINT128: 1700,
    _T.FLOAT: 700,
    _T.DOUBLE: 701,
    _T.TEXT: 25,
    _T.VARCHAR: 25,
    _T.NVARCHAR: 25,
    _T.NAME: 19,
    _T.BLOB: 17,
    _T.VARBINARY: 17,
    _T.BINARY: 17,
    _T.DATE: 1082,
    _T.TIME: 1083,
    _T.TIMETZ: 1266,
    _T.TIMESTAMP: 1114,
    _T.DATETIME: 1114,
    _T.TIMESTAMP_S: 1114,
    _T.TIMESTAMP_MS: 1114,
    _T.TIMESTAMP_NS: 1114,
    _T.TIMESTAMPTZ: 1184,
    _T.TIMESTAMPLTZ: 1184,
    _T.INTERVAL: 1186,
    _T.UUID: 2950,
    _T.JSON: 114,
    _T.JSONB: 3802,
}


def pg_type_of(type_text: str, dialect: str) -> tuple[int, int]:
    """(type oid, typmod) PostgreSQL clients see for an engine column type."""
    try:
        data_type = exp.DataType.build(type_text, dialect=dialect)
    except Exception:
        return 25, -1
    return pg_type_of_node(data_type)


def pg_type_of_node(data_type: exp.DataType) -> tuple[int, int]:
    """(type oid, typmod) for a parsed SQL type."""
    kind = data_type.this
    params = [p.this for p in data_type.expressions if isinstance(p, exp.DataTypeParam)]
    if kind in (_T.ARRAY, _T.LIST) and data_type.expressions:
        element = data_type.expressions[0]
        oid, modifier = pg_type_of_node(element) if isinstance(element, exp.DataType) else (25, -1)
        base = _BY_OID.get(oid)
        return (base.array_oid if base and base.array_oid else 1009), modifier
    if kind == _T.DECIMAL:
        numbers = [int(p.name) for p in params if p.is_int]
        precision, scale = (*numbers, 0)[:2] if numbers else (18, 3)  # DuckDB's default
        return 1700, ((precision << 16) | scale) + 4
    if kind == _T.CHAR and params:
        return 1042, int(params[0].name) + 4
    return _SIMPLE_OIDS.get(kind, 25), -1


# -- oids -----------------------------------------------------------------------------


class _Oids:
    """Stable oids from names: a hash in the user range, probing past collisions."""

    def __init__(self) -> None:
        self.taken: set[int] = set()

    def __call__(self, *names: str, low: int = FIRST_USER_OID, span: int = 1 << 30) -> int:
        oid = low + zlib.crc32("\x00".join(names).encode()) % span
        while oid in self.taken:
            oid = low + (oid - low + 1) % span
        self.taken.add(oid)
        return oid


# -- the database --------------------------------------------------------------------


@attrs.frozen(eq=False)
class CatalogDatabase:
    """One built catalog: the DuckDB connection and what rewrites need to know."""

    conn: duckdb.DuckDBPyConnection
    database: str
    schema: str  # where unqualified names resolve
    schema_oid: int
    schemas: tuple[str, ...]

    def query(self, sql: str) -> pa.Table:
        """Run a rewritten query (in a worker thread: DuckDB releases the GIL)."""
        cursor = self.conn.cursor()
        try:
            return cursor.sql(sql).to_arrow_table()
        finally:
            cursor.close()


def build(catalog: Catalog, database: str | None) -> CatalogDatabase:
    """The emulated catalog of `database` (one of the engine's catalogs), or of the
    engine's default catalog when the client named none that exists."""
    name = database_name(catalog, database)
    schemas = catalog.tables.get(name, {})
    default_schema = catalog.default_schema or "main"
    if default_schema not in schemas and schemas:
        default_schema = "public" if "public" in schemas else next(iter(schemas))
    oids = _Oids()
    rows: Rows = {table: [] for table in PG_CATALOG}
    info: Rows = {view: [] for view in INFORMATION_SCHEMA}
    namespaces = _namespaces(rows, info, oids, name, schemas)
    _types(rows["pg_type"])
    _catalog_relations(rows, oids)
    for schema, relations in sorted(schemas.items()):
        for table, cols in sorted(relations.items()):
            typed = [(col, *pg_type_of(t, catalog.dialect)) for col, t in cols.items()]
            oid = oids(name, schema, table)
            _relation(rows, oid, table, namespaces[schema], typed, "r")
            rows["pg_stat_user_tables"].append({"relid": oid, "schemaname": schema,
                                                "relname": table})  # fmt: skip
            rows["pg_tables"].append({"schemaname": schema, "tablename": table})
            _information(info, name, schema, table, typed)
    for datname in sorted(catalog.tables) or [name]:
        rows["pg_database"].append(_database(oids(datname, low=1, span=12_000), datname))
    _fixed_rows(rows)
    schema_oid = namespaces.get(default_schema, 0)
    conn = _materialize(rows, info, schema_oid or PG_CATALOG_NAMESPACE)
    return CatalogDatabase(conn, name, default_schema, schema_oid, tuple(sorted(schemas)))


Rows = dict[str, list[dict[str, Any]]]


def database_name(catalog: Catalog, database: str | None) -> str:
    """Which of the engine's catalogs a client's database name stands for."""
    if database is not None and database in catalog.tables:
        return database
    return catalog.default_catalog or next(iter(catalog.tables), "")


def _namespaces(
    rows: Rows, info: Rows, oids: _Oids, database: str, schemas: Mapping[str, Any]
) -> dict[str, int]:
    namespaces = {
        "pg_catalog": PG_CATALOG_NAMESPACE,
        "information_schema": INFORMATION_SCHEMA_NAMESPACE,
    }
    for schema in sorted(schemas):
        namespaces[schema] = oids(database, schema)
    for schema, oid in namespaces.items():
        rows["pg_namespace"].append({"oid": oid, "nspname": schema, "nspowner": BOOTSTRAP_ROLE})
        info["schemata"].append({"catalog_name": database, "schema_name": schema})
    return namespaces


def _catalog_relations(rows: Rows, oids: _Oids) -> None:
    """The emulated relations describe themselves, so `\\d pg_class` works too."""
    for table, spec in PG_CATALOG.items():
        _relation(rows, oids(table, low=12_000, span=4_000), table, PG_CATALOG_NAMESPACE,
                  [(c.name, c.type_oid, -1) for c in columns(spec)], kind="r")  # fmt: skip
    for view, spec in INFORMATION_SCHEMA.items():
        _relation(rows, oids("information_schema", view, low=12_000, span=4_000), view,
                  INFORMATION_SCHEMA_NAMESPACE,
                  [(c.name, c.type_oid, -1) for c in columns(spec)], kind="v")  # fmt: skip


def _fixed_rows(rows: Rows) -> None:
    """Access methods, collations and tablespaces every PostgreSQL has."""
    rows["pg_am"] += [
        {"oid": HEAP_AM, "amname": "heap", "amhandler": "heap_tableam_handler", "amtype": "t"},
        {"oid": 403, "amname": "btree", "amhandler": "bthandler", "amtype": "i"},
    ]
    rows["pg_collation"] += [
        _collation(DEFAULT_COLLATION, "default", "d", None),
        _collation(950, "C", "c", "C"),
        _collation(951, "POSIX", "c", "POSIX"),
    ]
    rows["pg_tablespace"] += [
        {"oid": DEFAULT_TABLESPACE, "spcname": "pg_default", "spcowner": BOOTSTRAP_ROLE},
        {"oid": 1664, "spcname": "pg_global", "spcowner": BOOTSTRAP_ROLE},
    ]


def _materialize(rows: Rows, info: Rows, default_namespace: int) -> duckdb.DuckDBPyConnection:
    """The in-memory DuckDB holding the rows, the "char" ENUM and the macros."""
    conn = duckdb.connect(":memory:")
    chars = ["", *(c for c in string.printable if c not in "\t\n\r\x0b\x0c")]
    conn.execute(f"CREATE TYPE {CHAR_ENUM} AS ENUM ({', '.join(_quote(c) for c in chars)})")
    conn.execute(f"CREATE SCHEMA {CATALOG_SCHEMA}; CREATE SCHEMA {INFO_SCHEMA}")
    for table, spec in PG_CATALOG.items():
        _create(conn, f"{CATALOG_SCHEMA}.{table}", columns(spec), rows[table])
    for view, spec in INFORMATION_SCHEMA.items():
        _create(conn, f"{INFO_SCHEMA}.{view}", columns(spec), info[view])
    _create_type_names(conn)
    _create_macros(conn, default_namespace)
    return conn


def _types(out: list[dict[str, Any]]) -> None:
    for t in BUILTIN_TYPES:
        out.append(_type_row(t.oid, t.name, t, elem=0, array_oid=t.array_oid))
        if t.array_oid:
            out.append(_type_row(t.array_oid, "_" + t.name, t, elem=t.oid, array_oid=0))


def _type_row(oid: int, name: str, t: BuiltinType, *, elem: int, array_oid: int) -> dict[str, Any]:
    is_array = elem != 0
    pseudo = t.kind == "p" and (not is_array or t.name == "record")  # _record is one too
    return {
        "oid": oid,
        "typname": name,
        "typnamespace": PG_CATALOG_NAMESPACE,
        "typowner": BOOTSTRAP_ROLE,
        "typlen": -1 if is_array else t.length,
        "typbyval": False if is_array else t.byval,
        "typtype": "p" if pseudo else "b",
        "typcategory": ("P" if pseudo else "A") if is_array else t.category,
        "typispreferred": False,
        "typisdefined": True,
        "typdelim": ",",
        "typsubscript": "array_subscript_handler" if is_array else "-",
        "typelem": elem if is_array else t.element,
        "typarray": array_oid,
        "typinput": "array_in" if is_array else f"{t.name}in",
        "typoutput": "array_out" if is_array else f"{t.name}out",
        "typreceive": "array_recv" if is_array else f"{t.name}recv",
        "typsend": "array_send" if is_array else f"{t.name}send",
        "typalign": ("d" if t.align == "d" else "i") if is_array else t.align,
        "typstorage": "x" if is_array else t.storage,
        "typtypmod": -1,
        "typcollation": t.collation,
    }


def _relation(
    rows: dict[str, list[dict[str, Any]]],
    oid: int,
    name: str,
    namespace: int,
    cols: list[tuple[str, int, int]],
    kind: str,
) -> None:
    rows["pg_class"].append(
        {
            "oid": oid,
            "relname": name,
            "relnamespace": namespace,
            "relowner": BOOTSTRAP_ROLE,
            "relam": HEAP_AM if kind == "r" else 0,
            "relfilenode": oid if kind == "r" else 0,
            "reltuples": -1.0,
            "relpersistence": "p",
            "relkind": kind,
            "relnatts": len(cols),
            "relispopulated": True,
            "relreplident": "d" if kind == "r" else "n",
        }
    )
    for number, (column, type_oid, modifier) in enumerate(cols, start=1):
        t = _BY_OID.get(type_oid) or _array_base(type_oid)
        is_array = t is not None and t.oid != type_oid
        rows["pg_attribute"].append(
            {
                "attrelid": oid,
                "attname": column,
                "atttypid": type_oid,
                "attstattarget": -1,
                "attlen": -1 if is_array or t is None else t.length,
                "attnum": number,
                "attndims": 1 if is_array else 0,
                "attcacheoff": -1,
                "atttypmod": modifier,
                "attbyval": bool(t and t.byval and not is_array),
                "attalign": (t.align if t else "i") if not is_array else "i",
                "attstorage": (t.storage if t else "x") if not is_array else "x",
                "attislocal": True,
                "attcollation": t.collation if t and not is_array else 0,
            }
        )


def _array_base(oid: int) -> BuiltinType | None:
    return next((t for t in BUILTIN_TYPES if t.array_oid == oid), None)


def _information(
    info: dict[str, list[dict[str, Any]]],
    database: str,
    schema: str,
    table: str,
    cols: list[tuple[str, int, int]],
) -> None:
    info["tables"].append(
        {
            "table_catalog": database,
            "table_schema": schema,
            "table_name": table,
            "table_type": "BASE TABLE",
            "is_insertable_into": "YES",
            "is_typed": "NO",
        }
    )
    for position, (column, type_oid, modifier) in enumerate(cols, start=1):
        base = _array_base(type_oid)
        t = _BY_OID.get(type_oid)
        numeric = t is not None and t.category == "N"
        precision = scale = None
        if type_oid == 1700 and modifier >= 4:
            precision, scale = (modifier - 4) >> 16, (modifier - 4) & 0xFFFF
        elif numeric and t is not None:
            precision = {21: 16, 23: 32, 20: 64, 700: 24, 701: 53}.get(t.oid)
            scale = 0 if t.oid in (20, 21, 23) else None
        info["columns"].append(
            {
                "table_catalog": database,
                "table_schema": schema,
                "table_name": table,
                "column_name": column,
                "ordinal_position": position,
                "is_nullable": "YES",
                "data_type": "ARRAY" if base else (t.display if t else "text"),
                "character_maximum_length": modifier - 4 if type_oid == 1042 else None,
                "numeric_precision": precision,
                "numeric_precision_radix": (2 if type_oid != 1700 else 10) if numeric else None,
                "numeric_scale": scale,
                "udt_catalog": database,
                "udt_schema": "pg_catalog",
                "udt_name": ("_" + base.name) if base else (t.name if t else "text"),
                "dtd_identifier": str(position),
                "is_self_referencing": "NO",
                "is_identity": "NO",
                "is_generated": "NEVER",
                "is_updatable": "YES",
            }
        )


def _database(oid: int, name: str) -> dict[str, Any]:
    return {
        "oid": oid,
        "datname": name,
        "datdba": BOOTSTRAP_ROLE,
        "encoding": 6,
        "datlocprovider": "c",
        "datallowconn": True,
        "datconnlimit": -1,
        "dattablespace": DEFAULT_TABLESPACE,
        "datcollate": "C",
        "datctype": "C",
    }


def _collation(oid: int, name: str, provider: str, locale: str | None) -> dict[str, Any]:
    return {
        "oid": oid,
        "collname": name,
        "collnamespace": PG_CATALOG_NAMESPACE,
        "collowner": BOOTSTRAP_ROLE,
        "collprovider": provider,
        "collisdeterministic": True,
        "collencoding": -1,
        "collcollate": locale,
        "collctype": locale,
    }


def _create(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    cols: list[Column],
    rows: Iterable[Mapping[str, Any]],
) -> None:
    conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c.name} {c.duckdb_type}' for c in cols)})")
    data = [[row.get(c.name, c.default()) for row in rows] for c in cols]
    if data and data[0]:
        arrow = pa.table(
            [pa.array(values, c.arrow_type) for c, values in zip(cols, data, strict=True)],
            names=[c.name for c in cols],
        )
        conn.register("_rows", arrow)
        conn.execute(f"INSERT INTO {table} SELECT * FROM _rows")
        conn.unregister("_rows")


def _create_type_names(conn: duckdb.DuckDBPyConnection) -> None:
    """`qflux_types`: every name a type is known by, and format_type's spelling."""
    names: list[tuple[str, int]] = []
    displays: list[tuple[int, str]] = []
    for t in BUILTIN_TYPES:
        for oid, suffix in ((t.oid, ""), (t.array_oid, "[]")):
            if not oid:
                continue
            displays.append((oid, t.display + suffix))
            spellings = {t.name + suffix, t.display + suffix}
            if suffix:
                spellings.add("_" + t.name)
            names += [(s, oid) for s in spellings]
    names += [(alias + suffix, _BY_NAME[name].oid if not suffix else _BY_NAME[name].array_oid)
              for alias, name in TYPE_ALIASES.items() for suffix in ("", "[]")]  # fmt: skip
    _create(conn, f"{CATALOG_SCHEMA}.qflux_type_names", columns("name:t oid:o"),
            [{"name": name, "oid": oid} for name, oid in names])  # fmt: skip
    _create(conn, f"{CATALOG_SCHEMA}.qflux_types", columns("oid:o display:t"),
            [{"oid": oid, "display": display} for oid, display in displays])  # fmt: skip


#: Functions clients call, as macros over the emulated tables. Answers that depend on
#: the session (current_user, current_setting ...) are put in by the rewrite instead.
_MACROS = """
pg_table_is_visible(x) AS x IN (SELECT oid FROM {s}.pg_class WHERE relnamespace IN (11, {ns}));
pg_type_is_visible(x) AS x IS NOT NULL;
pg_function_is_visible(x) AS x IS NOT NULL;
pg_collation_is_visible(x) AS x IS NOT NULL;
format_type(t, m) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN t = 1700 AND m >= 4 THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')'
    WHEN t = 1043 AND m >= 4 THEN 'character varying(' || (m - 4) || ')'
    WHEN t = 1042 AND m >= 4 THEN 'character(' || (m - 4) || ')'
    ELSE coalesce((SELECT display FROM {s}.qflux_types WHERE oid = t), '???') END;
to_regtype(n) AS (SELECT min(oid) FROM {s}.qflux_type_names
    WHERE name = lower(trim(regexp_replace(n::VARCHAR, '^pg_catalog\\.', ''))));
to_regclass(n) AS (SELECT min(c.oid) FROM {s}.pg_class c JOIN {s}.pg_namespace s
    ON s.oid = c.relnamespace
    WHERE c.relname = replace(split_part(n::VARCHAR, '.', -1), '"', '')
      AND CASE WHEN contains(n::VARCHAR, '.')
          THEN s.nspname = replace(split_part(n::VARCHAR, '.', 1), '"', '')
          ELSE s.oid IN (11, {ns}) END);
to_regnamespace(n) AS (SELECT min(oid) FROM {s}.pg_namespace WHERE nspname = n);
regclass_text(x) AS (SELECT min(relname) FROM {s}.pg_class WHERE oid = x);
regnamespace_text(x) AS (SELECT min(nspname) FROM {s}.pg_namespace WHERE oid = x);
pg_get_expr(a, b) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR;
pg_get_indexdef(a) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR;
pg_get_constraintdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
pg_get_viewdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
pg_get_triggerdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
pg_get_ruledef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
pg_get_partkeydef(a) AS NULL::VARCHAR;
pg_get_statisticsobjdef_columns(a) AS NULL::VARCHAR;
pg_get_function_result(a) AS NULL::VARCHAR;
pg_get_function_arguments(a) AS NULL::VARCHAR;
pg_get_function_identity_arguments(a) AS NULL::VARCHAR;
pg_get_serial_sequence(a, b) AS NULL::VARCHAR;
pg_relation_is_publishable(a) AS false;
pg_encoding_to_char(e) AS CASE e WHEN 6 THEN 'UTF8' WHEN 0 THEN 'SQL_ASCII' ELSE '' END;
obj_description(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR;
col_description(a, b) AS NULL::VARCHAR;
shobj_description(a, b) AS NULL::VARCHAR;
has_table_privilege(a, b) AS true, (a, b, c) AS true;
has_schema_privilege(a, b) AS true, (a, b, c) AS true;
has_database_privilege(a, b) AS true, (a, b, c) AS true;
has_column_privilege(a, b, c) AS true, (a, b, c, d) AS true;
has_any_column_privilege(a, b) AS true, (a, b, c) AS true;
has_sequence_privilege(a, b) AS true, (a, b, c) AS true;
has_function_privilege(a, b) AS true, (a, b, c) AS true;
pg_has_role(a, b) AS true, (a, b, c) AS true;
pg_table_size(a) AS 0::BIGINT;
pg_indexes_size(a) AS 0::BIGINT;
pg_total_relation_size(a) AS 0::BIGINT;
pg_relation_size(a) AS 0::BIGINT, (a, b) AS 0::BIGINT;
pg_database_size(a) AS 0::BIGINT;
pg_size_pretty(a) AS CASE WHEN a < 10240 THEN a || ' bytes'
    WHEN a < 10485760 THEN round(a / 1024) || ' kB'
    WHEN a < 10737418240 THEN round(a / 1048576) || ' MB'
    ELSE round(a / 1073741824) || ' GB' END;
array_upper(a, d) AS CASE WHEN len(a) > 0 THEN len(a) END;
array_lower(a, d) AS CASE WHEN len(a) > 0 THEN 1 END;
pg_is_in_recovery() AS false;
pg_is_other_temp_schema(x) AS false;
pg_my_temp_schema() AS 0::BIGINT;
pg_get_keywords() AS TABLE SELECT keyword_name AS word,
    CASE keyword_category WHEN 'reserved' THEN 'R' WHEN 'type_function' THEN 'T'
        WHEN 'column_name' THEN 'C' ELSE 'U' END AS catcode,
    keyword_category AS catdesc FROM duckdb_keywords();
"""

#: The macro names, for the rewrite to qualify calls to them.
MACROS = frozenset(
    line.split("(", 1)[0] for line in _MACROS.splitlines() if line and line[0].isalpha()
)


def _create_macros(conn: duckdb.DuckDBPyConnection, default_namespace: int) -> None:
    text = _MACROS.replace("{s}", CATALOG_SCHEMA).replace("{ns}", str(default_namespace))
    for definition in text.split(";\n"):
        if definition.strip():
            conn.execute(f"CREATE MACRO {CATALOG_SCHEMA}.{definition.strip().rstrip(';')}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

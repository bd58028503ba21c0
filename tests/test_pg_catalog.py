"""The emulated PostgreSQL catalog, driven by the tools that browse it: psql's
backslash commands, asyncpg and psycopg type introspection, SQLAlchemy's inspector,
DBeaver's and Metabase's start-up queries; built-in types checked against the
PostgreSQL server on this machine."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import subprocess

import pytest

from .test_pg_types import postgres  # noqa: F401 - the real server, for comparison
from .test_postgres_wire import dsn, pg_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def catalog_proxy():
    import psycopg

    from qflux.testing import serve_in_thread, with_ephemeral_ports

    with serve_in_thread(with_ephemeral_ports(pg_config())) as proxy:
        with psycopg.connect(dsn(proxy), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE things (id INTEGER, name VARCHAR, price DECIMAL(10,2),"
                " tags VARCHAR[], seen TIMESTAMPTZ, day DATE)"
            )
            conn.execute(
                "INSERT INTO things SELECT i, 'n' || i, i / 4, ['a'], TIMESTAMPTZ '2024-01-01',"
                " DATE '2024-01-01' + i::INTEGER FROM range(5) t(i)"
            )
            conn.execute("CREATE SCHEMA sales")
            conn.execute("CREATE TABLE sales.orders (id BIGINT, total DOUBLE)")
        yield proxy


def psql(proxy, command: str) -> str:
    done = subprocess.run(
        ["psql", dsn(proxy), "-X", "-c", command],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR" not in done.stderr, done.stderr
    return done.stdout


def test_psql_lists_tables_schemas_and_databases(catalog_proxy):
    tables = psql(catalog_proxy, r"\dt")
    assert "things" in tables and "tester" in tables
    assert "orders" not in tables  # not on the search path, as in PostgreSQL
    assert "orders" in psql(catalog_proxy, r"\dt sales.*")
    schemas = psql(catalog_proxy, r"\dn")
    assert "main" in schemas and "sales" in schemas and "pg_catalog" not in schemas
    databases = psql(catalog_proxy, r"\l")
    assert "memory" in databases and "UTF8" in databases


def test_psql_describes_a_table_with_postgres_type_names(catalog_proxy):
    out = psql(catalog_proxy, r"\d things")
    assert 'Table "main.things"' in out
    for column, type_name in [
        ("id", "integer"),
        ("name", "text"),
        ("price", "numeric(10,2)"),
        ("tags", "text[]"),
        ("seen", "timestamp with time zone"),
        ("day", "date"),
    ]:
        assert any(
            line.split("|")[0].strip() == column and line.split("|")[1].strip() == type_name
            for line in out.splitlines()
            if "|" in line
        ), (column, out)
    assert "double precision" in psql(catalog_proxy, r"\d sales.orders")
    assert "Access method: heap" in psql(catalog_proxy, r"\d+ things")


def test_psql_sees_a_table_created_a_moment_ago(catalog_proxy):
    import psycopg

    assert "fresh" not in psql(catalog_proxy, r"\dt")
    with psycopg.connect(dsn(catalog_proxy), autocommit=True) as conn:
        conn.execute("CREATE TABLE fresh (x INTEGER)")
    try:
        assert "fresh" in psql(catalog_proxy, r"\dt")
    finally:
        with psycopg.connect(dsn(catalog_proxy), autocommit=True) as conn:
            conn.execute("DROP TABLE fresh")
    assert "fresh" not in psql(catalog_proxy, r"\dt")


def test_builtin_types_match_postgresql(catalog_proxy, postgres):  # noqa: F811
    """pg_type and format_type through qflux agree with the real server, row by row."""
    import psycopg

    sql = (
        "SELECT t.oid::int8, t.typname::text, t.typlen::int4, t.typtype::text,"
        " t.typcategory::text, t.typelem::int8, t.typarray::int8,"
        " format_type(t.oid, NULL), t.typbyval, t.typalign::text, t.typstorage::text,"
        " t.typcollation::int8, t.typdelim::text, t.typinput::text = 'array_in'"
        " FROM pg_catalog.pg_type t WHERE t.oid = ANY(%s) ORDER BY 1"
    )
    with psycopg.connect(dsn(catalog_proxy)) as conn:
        ours = conn.execute("SELECT oid FROM pg_catalog.pg_type WHERE typnamespace = 11").fetchall()
        oids = [row[0] for row in ours]
        assert len(oids) > 80
        proxied = conn.execute(sql, (oids,)).fetchall()
    expected = postgres.execute(sql, (oids,)).fetchall()
    assert proxied == expected


def test_information_schema_from_the_engine_catalog(catalog_proxy):
    import psycopg

    with psycopg.connect(dsn(catalog_proxy)) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        columns = conn.execute(
            "SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale"
            " FROM information_schema.columns WHERE table_name = 'things'"
            " ORDER BY ordinal_position"
        ).fetchall()
        schemata = conn.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
    assert ("main", "things", "BASE TABLE") in tables
    assert ("sales", "orders", "BASE TABLE") in tables
    assert columns[0] == ("id", "integer", "int4", 32, 0)
    assert columns[2] == ("price", "numeric", "numeric", 10, 2)
    assert columns[3][1:3] == ("ARRAY", "_text")
    assert {"main", "sales"} <= {row[0] for row in schemata}


def test_session_functions_settings_and_roles(catalog_proxy):
    import psycopg

    with psycopg.connect(dsn(catalog_proxy), application_name="probe") as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), current_schema(), current_schemas(true),"
            " current_setting('server_version_num')::int >= 150000, pg_backend_pid() > 0,"
            " current_setting('application_name')"
        ).fetchone()
        assert row == ("tester", "memory", "main", ["pg_catalog", "main"], True, True, "probe")
        setting = conn.execute(
            "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'standard_conforming_strings'"
        ).fetchone()
        assert setting == ("on",)
        roles = conn.execute("SELECT rolname, rolsuper FROM pg_roles").fetchall()
        assert roles == [("tester", True)]
        with pytest.raises(psycopg.errors.UndefinedTable) as missing:
            conn.execute("SELECT * FROM pg_catalog.pg_nonexistent")
        assert "pg_catalog.pg_nonexistent" in str(missing.value)
        conn.rollback()
        with pytest.raises(psycopg.Error, match="unrecognized configuration parameter"):
            conn.execute("SELECT current_setting('no_such_setting')")
        conn.rollback()
        assert conn.execute("SELECT current_setting('no_such_setting', true)").fetchone() == (None,)


def test_psycopg_type_info_lookups(catalog_proxy):
    import psycopg
    from psycopg.types import TypeInfo

    with psycopg.connect(dsn(catalog_proxy)) as conn:
        int4 = TypeInfo.fetch(conn, "int4")
        assert (int4.oid, int4.array_oid) == (23, 1007)
        assert TypeInfo.fetch(conn, "integer").oid == 23
        assert TypeInfo.fetch(conn, "character varying").oid == 1043
        assert TypeInfo.fetch(conn, "hstore") is None  # no such extension here


def test_asyncpg_type_introspection_and_codecs(catalog_proxy):
    import asyncpg

    async def main():
        conn = await asyncpg.connect(
            host="127.0.0.1", port=catalog_proxy.port("postgresWire"), user="t", database="memory"
        )
        try:
            await conn.set_type_codec(
                "numeric",
                encoder=str,
                decoder=lambda text: ("numeric", text),
                schema="pg_catalog",
                format="text",
            )
            value = await conn.fetchval("SELECT price FROM things WHERE id = 2")
            kinds = await conn.fetch(
                "SELECT typname, typtype FROM pg_catalog.pg_type WHERE typname = ANY($1::text[])",
                ["int4", "record"],
            )
            return value, sorted((r["typname"], r["typtype"]) for r in kinds)
        finally:
            await conn.close()

    value, kinds = asyncio.run(main())
    assert value == ("numeric", "0.50")
    assert kinds == [("int4", b"b"), ("record", b"p")]  # typtype is "char": bytes


def test_parameter_types_are_inferred_from_columns(catalog_proxy):
    """asyncpg encodes by the described type: an int for an integer column must work."""
    import asyncpg

    async def main():
        conn = await asyncpg.connect(
            host="127.0.0.1", port=catalog_proxy.port("postgresWire"), user="t", database="memory"
        )
        try:
            statement = await conn.prepare(
                "SELECT id FROM things WHERE id >= $1 AND day BETWEEN $2 AND $3"
                " AND price IN ($4, $5) ORDER BY id LIMIT $6"
            )
            types = [t.name for t in statement.get_parameters()]
            rows = await statement.fetch(
                1,
                dt.date(2024, 1, 1),
                dt.date(2024, 12, 31),
                decimal.Decimal("0.50"),
                decimal.Decimal("0.75"),
                10,
            )
            await conn.execute("CREATE TABLE IF NOT EXISTS landed (id INTEGER, at DATE)")
            await conn.executemany(
                "INSERT INTO landed (id, at) VALUES ($1, $2)",
                [(i, dt.date(2024, 2, i + 1)) for i in range(3)],
            )
            landed = await conn.fetchval(
                "SELECT count(*) FROM landed WHERE at > $1", dt.date(2024, 2, 1)
            )
            return types, [r["id"] for r in rows], landed
        finally:
            await conn.close()

    types, ids, landed = asyncio.run(main())
    assert types == ["int4", "date", "date", "numeric", "numeric", "int8"]
    assert ids == [2, 3]
    assert landed == 2


def test_sqlalchemy_inspector_and_native_hstore_probe(catalog_proxy):
    import sqlalchemy as sa

    engine = sa.create_engine(
        f"postgresql+psycopg://tester@127.0.0.1:{catalog_proxy.port('postgresWire')}/memory"
    )
    try:
        inspector = sa.inspect(engine)
        assert "things" in inspector.get_table_names()
        assert {"main", "sales"} <= set(inspector.get_schema_names())
        assert inspector.get_table_names(schema="sales") == ["orders"]
        columns = {c["name"]: c["type"] for c in inspector.get_columns("things")}
        assert isinstance(columns["id"], sa.INTEGER)
        assert isinstance(columns["price"], sa.NUMERIC) and columns["price"].scale == 2
        assert inspector.has_table("things") and not inspector.has_table("nothing")
        assert inspector.get_pk_constraint("things")["constrained_columns"] == []
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM things")).scalar() == 5
    finally:
        engine.dispose()


#: Start-up and browse queries of DBeaver (pgjdbc) and Metabase, as they send them.
BI_TOOL_QUERIES = [
    "SELECT current_schema(),session_user",
    "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n"
    " LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0"
    " AND d.classoid='pg_namespace'::regclass ORDER BY nspname",
    "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='memory'",
    "select * from pg_catalog.pg_settings where name='max_index_keys'",
    "SELECT string_agg(word, ',') from pg_catalog.pg_get_keywords()"
    " where word <> ALL ('{a,abs,absolute,action}'::text[])",
    "SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod)"
    " as base_type_name, d.description FROM pg_catalog.pg_type t"
    " LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem"
    " LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid"
    " LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid"
    " WHERE t.typname IS NOT NULL AND (c.relkind IS NULL OR c.relkind = 'c')"
    " AND (et.typcategory IS NULL OR et.typcategory <> 'C')",
    "SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid)"
    " as partition_expr, pg_catalog.pg_get_partkeydef(c.oid) as partition_key"
    " FROM pg_catalog.pg_class c LEFT OUTER JOIN pg_catalog.pg_description d"
    " ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass"
    " WHERE c.relnamespace=(SELECT oid FROM pg_namespace WHERE nspname = 'main')"
    " AND c.relkind not in ('i','I','c')",
    "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,"
    "dsc.description,dep.objid FROM pg_catalog.pg_attribute a"
    " INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)"
    " LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)"
    " LEFT OUTER JOIN pg_catalog.pg_description dsc"
    " ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)"
    " LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i'"
    " and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid"
    " WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c')"
    " AND c.oid='things'::regclass ORDER BY a.attnum",
    "select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,"
    "pg_catalog.pg_relation_size(c.oid) as rel_size FROM pg_class c"
    " WHERE c.relnamespace=(SELECT oid FROM pg_namespace WHERE nspname = 'main')",
    "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid"
    " FROM pg_catalog.pg_type LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r"
    " from pg_namespace as ns join ( select s.r, (current_schemas(false))[s.r] as nspname"
    " from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r"
    " using ( nspname ) ) as sp ON sp.nspoid = typnamespace WHERE typname = '_int4'"
    " ORDER BY sp.r, pg_type.oid DESC LIMIT 1",
    'SELECT n.nspname AS "schema", c.relname AS "name", CASE c.relkind WHEN \'r\' THEN'
    " 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN"
    " 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS \"type\","
    ' d.description AS "description", stat.n_live_tup AS "estimated_row_count"'
    " FROM pg_catalog.pg_class AS c INNER JOIN pg_catalog.pg_namespace AS n"
    " ON c.relnamespace = n.oid LEFT JOIN pg_catalog.pg_description AS d"
    " ON c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass"
    " LEFT JOIN pg_stat_user_tables AS stat ON n.nspname = stat.schemaname"
    " AND c.relname = stat.relname WHERE c.relnamespace = n.oid"
    " AND c.relkind IN ('r', 'p', 'v', 'f', 'm')"
    " AND n.nspname !~ '^information_schema|catalog_history|pg_'"
    " AND has_schema_privilege(n.nspname, 'USAGE')"
    " AND (has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT'))"
    ' ORDER BY "schema", "name"',
    'SELECT c.column_name AS name, c.udt_name AS "database-type",'
    ' c.ordinal_position - 1 AS "database-position", c.table_schema AS "table-schema",'
    ' c.table_name AS "table-name", pk.column_name IS NOT NULL AS "pk?",'
    " COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST(c.table_schema AS TEXT),"
    ' CAST(c.table_name AS TEXT)) AS REGCLASS) AS OID), c.ordinal_position) AS "field-comment"'
    " FROM information_schema.columns AS c LEFT JOIN (SELECT tc.table_schema, tc.table_name,"
    " kc.column_name FROM information_schema.table_constraints AS tc"
    " INNER JOIN information_schema.key_column_usage AS kc"
    " ON (tc.constraint_name = kc.constraint_name) AND (tc.table_schema = kc.table_schema)"
    " AND (tc.table_name = kc.table_name) WHERE tc.constraint_type = 'PRIMARY KEY') AS pk"
    " ON (c.table_schema = pk.table_schema) AND (c.table_name = pk.table_name)"
    " AND (c.column_name = pk.column_name)"
    " WHERE c.table_schema !~ '^information_schema|catalog_history|pg_'"
    " AND (c.table_schema IN ('main'))"
    ' ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC',
]


def test_bi_tool_start_up_and_browse_queries(catalog_proxy):
    import psycopg

    with psycopg.connect(dsn(catalog_proxy), autocommit=True) as conn:
        results = [conn.execute(sql).fetchall() for sql in BI_TOOL_QUERIES]
    assert results[0] == [("main", "tester")]
    assert {row[2] for row in results[1]} >= {"main", "sales", "pg_catalog"}
    assert results[2][0][2] == "memory"
    assert results[3][0][1] == "32"
    assert "select" in results[4][0][0].split(",")
    assert any(row[2] == "int4" for row in results[5])
    assert "things" in [row[2] for row in results[6]]
    assert [(row[0], row[2]) for row in results[7]][:2] == [("things", "id"), ("things", "name")]
    assert results[9] == [(True, "b", "_int4", 1007)]
    assert ("main", "things", "TABLE") in [row[:3] for row in results[10]]
    assert [row[0] for row in results[11] if row[4] == "things"] == [
        "id", "name", "price", "tags", "seen", "day",
    ]  # fmt: skip


def test_catalog_answers_are_in_the_history(catalog_proxy):
    import psycopg

    with psycopg.connect(dsn(catalog_proxy), autocommit=True) as conn:
        conn.execute("SELECT relname FROM pg_catalog.pg_class WHERE relname = 'things'")
    record = next(
        r
        for r in catalog_proxy.server.dispatcher.history.recent(20)
        if "relname = 'things'" in r.sql
    )
    assert str(record.status) == "FINISHED"
    assert record.rows_returned == 1 and record.group is not None
    assert "emulated PostgreSQL catalog" in (record.translation_note or "")


def test_invented_database_names_share_one_emulated_catalog(catalog_proxy):
    """A name the engine does not know means its default catalog: built once, not once
    per name a client makes up."""
    import psycopg

    port = catalog_proxy.port("postgresWire")
    for name in ("made_up_one", "made_up_two", "memory"):
        with psycopg.connect(f"host=127.0.0.1 port={port} user=t dbname={name}") as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
            assert ("things",) in conn.execute(
                "SELECT relname FROM pg_catalog.pg_class WHERE relname = 'things'"
            ).fetchall()
    built = catalog_proxy.call(lambda: list(catalog_proxy.server.postgres.catalog._built))
    assert len(built) == 1, built


@pytest.mark.parametrize(
    ("sql", "catalog"),
    [
        ("SELECT abalance FROM pgbench_accounts WHERE aid = 1", False),
        ("SELECT relname FROM PG_CATALOG.PG_CLASS", True),
        ("SELECT * FROM Information_Schema.tables", True),
        ("SELECT 'x'::RegClass", True),
        ("SELECT Version ( )", True),
        ("SELECT Current_Schema()", True),
        ("SELECT version_label FROM releases", False),
        ("SELECT a::int FROM t", False),
    ],
)
def test_only_catalog_queries_are_answered_by_the_proxy(sql, catalog):
    """A cheap look at the text decides first; casing is no obstacle, and a query that
    merely names similar words still goes to the engine."""
    from qflux.frontends.pg_catalog import catalog_tree

    assert (catalog_tree(sql) is not None) is catalog

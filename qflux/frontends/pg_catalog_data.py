"""The shape of PostgreSQL's system catalogs as clients read them, and the built-in types.

Each table is a list of `column:kind` pairs in PostgreSQL's column order (15.x). Kinds:
`o` oid, `n` name, `t` text, `c` the one-byte "char", `b` bool, `i2`/`i4`/`i8` integers,
`f4` real, `ts` timestamptz, and `[]` after a kind for an array of it. Only the columns
drivers, psql and BI tools read are listed; a query naming another column fails with
DuckDB's clear "column not found".
"""

from __future__ import annotations

from typing import NamedTuple

#: pg_catalog tables and views, filled from the engine's catalog or left empty.
PG_CATALOG: dict[str, str] = {
    "pg_namespace": "oid:o nspname:n nspowner:o nspacl:t[]",
    "pg_class": (
        "oid:o relname:n relnamespace:o reltype:o reloftype:o relowner:o relam:o"
        " relfilenode:o reltablespace:o relpages:i4 reltuples:f4 relallvisible:i4"
        " reltoastrelid:o relhasindex:b relisshared:b relpersistence:c relkind:c relnatts:i2"
        " relchecks:i2 relhasrules:b relhastriggers:b relhassubclass:b relrowsecurity:b"
        " relforcerowsecurity:b relispopulated:b relreplident:c relispartition:b relrewrite:o"
        " relfrozenxid:i8 relminmxid:i8 relacl:t[] reloptions:t[] relpartbound:t"
    ),
    "pg_attribute": (
        "attrelid:o attname:n atttypid:o attstattarget:i4 attlen:i2 attnum:i2 attndims:i4"
        " attcacheoff:i4 atttypmod:i4 attbyval:b attalign:c attstorage:c attcompression:c"
        " attnotnull:b atthasdef:b atthasmissing:b attidentity:c attgenerated:c"
        " attisdropped:b attislocal:b attinhcount:i4 attcollation:o attacl:t[]"
        " attoptions:t[] attfdwoptions:t[] attmissingval:t[]"
    ),
    "pg_type": (
        "oid:o typname:n typnamespace:o typowner:o typlen:i2 typbyval:b typtype:c"
        " typcategory:c typispreferred:b typisdefined:b typdelim:c typrelid:o typsubscript:t"
        " typelem:o typarray:o typinput:t typoutput:t typreceive:t typsend:t typmodin:t"
        " typmodout:t typanalyze:t typalign:c typstorage:c typnotnull:b typbasetype:o"
        " typtypmod:i4 typndims:i4 typcollation:o typdefaultbin:t typdefault:t typacl:t[]"
    ),
    "pg_database": (
        "oid:o datname:n datdba:o encoding:i4 datlocprovider:c datistemplate:b datallowconn:b"
        " datconnlimit:i4 datfrozenxid:i8 datminmxid:i8 dattablespace:o datcollate:t"
        " datctype:t daticulocale:t datcollversion:t datacl:t[]"
    ),
    "pg_am": "oid:o amname:n amhandler:t amtype:c",
    "pg_attrdef": "oid:o adrelid:o adnum:i2 adbin:t",
    "pg_collation": (
        "oid:o collname:n collnamespace:o collowner:o collprovider:c collisdeterministic:b"
        " collencoding:i4 collcollate:t collctype:t colliculocale:t collversion:t"
    ),
    "pg_index": (
        "indexrelid:o indrelid:o indnatts:i2 indnkeyatts:i2 indisunique:b"
        " indnullsnotdistinct:b indisprimary:b indisexclusion:b indimmediate:b"
        " indisclustered:b indisvalid:b indcheckxmin:b indisready:b indislive:b"
        " indisreplident:b indkey:i2[] indcollation:o[] indclass:o[] indoption:i2[]"
        " indexprs:t indpred:t"
    ),
    "pg_constraint": (
        "oid:o conname:n connamespace:o contype:c condeferrable:b condeferred:b"
        " convalidated:b conrelid:o contypid:o conindid:o conparentid:o confrelid:o"
        " confupdtype:c confdeltype:c confmatchtype:c conislocal:b coninhcount:i4"
        " connoinherit:b conkey:i2[] confkey:i2[] conpfeqop:o[] conppeqop:o[] conffeqop:o[]"
        " confdelsetcols:i2[] conexclop:o[] conbin:t"
    ),
    "pg_inherits": "inhrelid:o inhparent:o inhseqno:i4 inhdetachpending:b",
    "pg_policy": (
        "oid:o polname:n polrelid:o polcmd:c polpermissive:b polroles:o[] polqual:t polwithcheck:t"
    ),
    "pg_statistic_ext": (
        "oid:o stxrelid:o stxname:n stxnamespace:o stxowner:o stxstattarget:i4 stxkeys:i2[]"
        " stxkind:c[] stxexprs:t"
    ),
    "pg_publication": (
        "oid:o pubname:n pubowner:o puballtables:b pubinsert:b pubupdate:b pubdelete:b"
        " pubtruncate:b pubviaroot:b"
    ),
    "pg_publication_rel": "oid:o prpubid:o prrelid:o prqual:t prattrs:i2[]",
    "pg_publication_namespace": "oid:o pnpubid:o pnnspid:o",
    "pg_description": "objoid:o classoid:o objsubid:i4 description:t",
    "pg_shdescription": "objoid:o classoid:o description:t",
    "pg_proc": (
        "oid:o proname:n pronamespace:o proowner:o prolang:o procost:f4 prorows:f4"
        " provariadic:o prosupport:t prokind:c prosecdef:b proleakproof:b proisstrict:b"
        " proretset:b provolatile:c proparallel:c pronargs:i2 pronargdefaults:i2"
        " prorettype:o proargtypes:o[] proallargtypes:o[] proargmodes:c[] proargnames:t[]"
        " proargdefaults:t protrftypes:o[] prosrc:t probin:t prosqlbody:t proconfig:t[]"
        " proacl:t[]"
    ),
    "pg_range": (
        "rngtypid:o rngsubtype:o rngmultitypid:o rngcollation:o rngsubopc:o rngcanonical:t"
        " rngsubdiff:t"
    ),
    "pg_enum": "oid:o enumtypid:o enumsortorder:f4 enumlabel:n",
    "pg_tablespace": "oid:o spcname:n spcowner:o spcacl:t[] spcoptions:t[]",
    "pg_trigger": (
        "oid:o tgrelid:o tgparentid:o tgname:n tgfoid:o tgtype:i2 tgenabled:c tgisinternal:b"
        " tgconstrrelid:o tgconstrindid:o tgconstraint:o tgdeferrable:b tginitdeferred:b"
        " tgnargs:i2 tgattr:i2[] tgargs:t tgqual:t tgoldtable:n tgnewtable:n"
    ),
    "pg_rewrite": (
        "oid:o rulename:n ev_class:o ev_type:c ev_enabled:c is_instead:b ev_qual:t ev_action:t"
    ),
    "pg_extension": (
        "oid:o extname:n extowner:o extnamespace:o extrelocatable:b extversion:t"
        " extconfig:o[] extcondition:t[]"
    ),
    "pg_depend": ("classid:o objid:o objsubid:i4 refclassid:o refobjid:o refobjsubid:i4 deptype:c"),
    "pg_sequence": (
        "seqrelid:o seqtypid:o seqstart:i8 seqincrement:i8 seqmax:i8 seqmin:i8 seqcache:i8"
        " seqcycle:b"
    ),
    "pg_foreign_table": "ftrelid:o ftserver:o ftoptions:t[]",
    "pg_foreign_server": (
        "oid:o srvname:n srvowner:o srvfdw:o srvtype:t srvversion:t srvacl:t[] srvoptions:t[]"
    ),
    "pg_foreign_data_wrapper": (
        "oid:o fdwname:n fdwowner:o fdwhandler:o fdwvalidator:o fdwacl:t[] fdwoptions:t[]"
    ),
    "pg_language": (
        "oid:o lanname:n lanowner:o lanispl:b lanpltrusted:b lanplcallfoid:o laninline:o"
        " lanvalidator:o lanacl:t[]"
    ),
    "pg_event_trigger": (
        "oid:o evtname:n evtevent:n evtowner:o evtfoid:o evtenabled:c evttags:t[]"
    ),
    "pg_cast": "oid:o castsource:o casttarget:o castfunc:o castcontext:c castmethod:c",
    "pg_operator": (
        "oid:o oprname:n oprnamespace:o oprowner:o oprkind:c oprcanmerge:b oprcanhash:b"
        " oprleft:o oprright:o oprresult:o oprcom:o oprnegate:o oprcode:t oprrest:t oprjoin:t"
    ),
    "pg_opclass": (
        "oid:o opcmethod:o opcname:n opcnamespace:o opcowner:o opcfamily:o opcintype:o"
        " opcdefault:b opckeytype:o"
    ),
    "pg_auth_members": "roleid:o member:o grantor:o admin_option:b",
    "pg_stat_user_tables": (
        "relid:o schemaname:n relname:n seq_scan:i8 seq_tup_read:i8 idx_scan:i8"
        " idx_tup_fetch:i8 n_tup_ins:i8 n_tup_upd:i8 n_tup_del:i8 n_live_tup:i8 n_dead_tup:i8"
        " last_analyze:ts last_autoanalyze:ts"
    ),
    "pg_tables": (
        "schemaname:n tablename:n tableowner:n tablespace:n hasindexes:b hasrules:b"
        " hastriggers:b rowsecurity:b"
    ),
    "pg_views": "schemaname:n viewname:n viewowner:n definition:t",
    "pg_matviews": (
        "schemaname:n matviewname:n matviewowner:n tablespace:n hasindexes:b ispopulated:b"
        " definition:t"
    ),
    "pg_indexes": "schemaname:n tablename:n indexname:n tablespace:n indexdef:t",
    "pg_sequences": (
        "schemaname:n sequencename:n sequenceowner:n data_type:t start_value:i8 min_value:i8"
        " max_value:i8 increment_by:i8 cycle:b cache_size:i8 last_value:i8"
    ),
}

#: pg_catalog views whose rows are the connected session's own (user, settings).
PG_SESSION_VIEWS: dict[str, str] = {
    "pg_roles": (
        "rolname:n rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b"
        " rolreplication:b rolconnlimit:i4 rolpassword:t rolvaliduntil:ts rolbypassrls:b"
        " rolconfig:t[] oid:o"
    ),
    "pg_authid": (
        "oid:o rolname:n rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b"
        " rolreplication:b rolbypassrls:b rolconnlimit:i4 rolpassword:t rolvaliduntil:ts"
    ),
    "pg_user": (
        "usename:n usesysid:o usecreatedb:b usesuper:b userepl:b usebypassrls:b passwd:t"
        " valuntil:ts useconfig:t[]"
    ),
    "pg_settings": (
        "name:t setting:t unit:t category:t short_desc:t extra_desc:t context:t vartype:t"
        " source:t min_val:t max_val:t enumvals:t[] boot_val:t reset_val:t sourcefile:t"
        " sourceline:i4 pending_restart:b"
    ),
    "pg_stat_activity": (
        "datid:o datname:n pid:i4 leader_pid:i4 usesysid:o usename:n application_name:t"
        " client_addr:t client_hostname:t client_port:i4 backend_start:ts xact_start:ts"
        " query_start:ts state_change:ts wait_event_type:t wait_event:t state:t"
        " backend_xid:i8 backend_xmin:i8 query_id:i8 query:t backend_type:t"
    ),
}

#: information_schema views, filled from the engine's catalog.
INFORMATION_SCHEMA: dict[str, str] = {
    "schemata": (
        "catalog_name:n schema_name:n schema_owner:n default_character_set_catalog:n"
        " default_character_set_schema:n default_character_set_name:n sql_path:t"
    ),
    "tables": (
        "table_catalog:n table_schema:n table_name:n table_type:t"
        " self_referencing_column_name:n reference_generation:t user_defined_type_catalog:n"
        " user_defined_type_schema:n user_defined_type_name:n is_insertable_into:t"
        " is_typed:t commit_action:t"
    ),
    "columns": (
        "table_catalog:n table_schema:n table_name:n column_name:n ordinal_position:i4"
        " column_default:t is_nullable:t data_type:t character_maximum_length:i4"
        " character_octet_length:i4 numeric_precision:i4 numeric_precision_radix:i4"
        " numeric_scale:i4 datetime_precision:i4 interval_type:t interval_precision:i4"
        " character_set_catalog:n character_set_schema:n character_set_name:n"
        " collation_catalog:n collation_schema:n collation_name:n domain_catalog:n"
        " domain_schema:n domain_name:n udt_catalog:n udt_schema:n udt_name:n scope_catalog:n"
        " scope_schema:n scope_name:n maximum_cardinality:i4 dtd_identifier:n"
        " is_self_referencing:t is_identity:t identity_generation:t identity_start:t"
        " identity_increment:t identity_maximum:t identity_minimum:t identity_cycle:t"
        " is_generated:t generation_expression:t is_updatable:t"
    ),
    "views": (
        "table_catalog:n table_schema:n table_name:n view_definition:t check_option:t"
        " is_updatable:t is_insertable_into:t is_trigger_updatable:t"
        " is_trigger_deletable:t is_trigger_insertable_into:t"
    ),
    "table_constraints": (
        "constraint_catalog:n constraint_schema:n constraint_name:n table_catalog:n"
        " table_schema:n table_name:n constraint_type:t is_deferrable:t initially_deferred:t"
        " enforced:t nulls_distinct:t"
    ),
    "key_column_usage": (
        "constraint_catalog:n constraint_schema:n constraint_name:n table_catalog:n"
        " table_schema:n table_name:n column_name:n ordinal_position:i4"
        " position_in_unique_constraint:i4"
    ),
    "referential_constraints": (
        "constraint_catalog:n constraint_schema:n constraint_name:n"
        " unique_constraint_catalog:n unique_constraint_schema:n unique_constraint_name:n"
        " match_option:t update_rule:t delete_rule:t"
    ),
    "constraint_column_usage": (
        "table_catalog:n table_schema:n table_name:n column_name:n constraint_catalog:n"
        " constraint_schema:n constraint_name:n"
    ),
    "routines": (
        "specific_catalog:n specific_schema:n specific_name:n routine_catalog:n"
        " routine_schema:n routine_name:n routine_type:t data_type:t"
    ),
    "sequences": (
        "sequence_catalog:n sequence_schema:n sequence_name:n data_type:t"
        " numeric_precision:i4 numeric_precision_radix:i4 numeric_scale:i4 start_value:t"
        " minimum_value:t maximum_value:t increment:t cycle_option:t"
    ),
}

PG_CATALOG_NAMESPACE = 11
INFORMATION_SCHEMA_NAMESPACE = 13_000
PUBLIC_NAMESPACE = 2200
BOOTSTRAP_ROLE = 10
FIRST_USER_OID = 16_384
HEAP_AM = 2
DEFAULT_COLLATION = 100
DEFAULT_TABLESPACE = 1663


class BuiltinType(NamedTuple):
    """One row of pg_type for a built-in scalar type (its array type is derived)."""

    oid: int
    name: str
    length: int
    category: str
    align: str
    array_oid: int
    display: str  # what format_type() prints
    byval: bool = False
    storage: str = "p"
    kind: str = "b"
    element: int = 0  # fixed-length types PostgreSQL lets you subscript (name, point)
    collation: int = 0


def _t(
    oid: int, name: str, length: int, category: str, align: str, array_oid: int,
    display: str | None = None, byval: bool = False, storage: str = "p", kind: str = "b",
    element: int = 0, collation: int = 0,
) -> BuiltinType:  # fmt: skip
    return BuiltinType(
        oid, name, length, category, align, array_oid, display or name, byval, storage, kind,
        element, collation,
    )  # fmt: skip


BUILTIN_TYPES: tuple[BuiltinType, ...] = (
    _t(16, "bool", 1, "B", "c", 1000, "boolean", byval=True),
    _t(17, "bytea", -1, "U", "i", 1001, storage="x"),
    _t(18, "char", 1, "Z", "c", 1002, '"char"', byval=True),
    _t(19, "name", 64, "S", "c", 1003, element=18, collation=950),
    _t(20, "int8", 8, "N", "d", 1016, "bigint", byval=True),
    _t(21, "int2", 2, "N", "s", 1005, "smallint", byval=True),
    _t(22, "int2vector", -1, "A", "i", 1006, element=21),
    _t(23, "int4", 4, "N", "i", 1007, "integer", byval=True),
    _t(24, "regproc", 4, "N", "i", 1008, byval=True),
    _t(25, "text", -1, "S", "i", 1009, storage="x", collation=100),
    _t(26, "oid", 4, "N", "i", 1028, byval=True),
    _t(27, "tid", 6, "U", "s", 1010),
    _t(28, "xid", 4, "U", "i", 1011, byval=True),
    _t(29, "cid", 4, "U", "i", 1012, byval=True),
    _t(30, "oidvector", -1, "A", "i", 1013, element=26),
    _t(114, "json", -1, "U", "i", 199, storage="x"),
    _t(142, "xml", -1, "U", "i", 143, storage="x"),
    _t(600, "point", 16, "G", "d", 1017, element=701),
    _t(650, "cidr", -1, "I", "i", 651, storage="m"),
    _t(700, "float4", 4, "N", "i", 1021, "real", byval=True),
    _t(701, "float8", 8, "N", "d", 1022, "double precision", byval=True),
    _t(705, "unknown", -2, "X", "c", 0, kind="p"),
    _t(790, "money", 8, "N", "d", 791, byval=True),
    _t(829, "macaddr", 6, "U", "i", 1040),
    _t(869, "inet", -1, "I", "i", 1041, storage="m"),
    _t(1042, "bpchar", -1, "S", "i", 1014, "character", storage="x", collation=100),
    _t(1043, "varchar", -1, "S", "i", 1015, "character varying", storage="x", collation=100),
    _t(1082, "date", 4, "D", "i", 1182, byval=True),
    _t(1083, "time", 8, "D", "d", 1183, "time without time zone", byval=True),
    _t(1114, "timestamp", 8, "D", "d", 1115, "timestamp without time zone", byval=True),
    _t(1184, "timestamptz", 8, "D", "d", 1185, "timestamp with time zone", byval=True),
    _t(1186, "interval", 16, "T", "d", 1187),
    _t(1266, "timetz", 12, "D", "d", 1270, "time with time zone"),
    _t(1560, "bit", -1, "V", "i", 1561, storage="x"),
    _t(1562, "varbit", -1, "V", "i", 1563, "bit varying", storage="x"),
    _t(1700, "numeric", -1, "N", "i", 1231, storage="m"),
    _t(1790, "refcursor", -1, "U", "i", 2201, storage="x"),
    _t(2205, "regclass", 4, "N", "i", 2210, byval=True),
    _t(2206, "regtype", 4, "N", "i", 2211, byval=True),
    _t(2249, "record", -1, "P", "d", 2287, storage="x", kind="p"),
    _t(2275, "cstring", -2, "P", "c", 1263, kind="p"),
    _t(2276, "any", 4, "P", "i", 0, '"any"', byval=True, kind="p"),
    _t(2277, "anyarray", -1, "P", "d", 0, storage="x", kind="p"),
    _t(2278, "void", 4, "P", "i", 0, byval=True, kind="p"),
    _t(2950, "uuid", 16, "U", "c", 2951),
    _t(3802, "jsonb", -1, "U", "i", 3807, storage="x"),
    _t(4089, "regnamespace", 4, "N", "i", 4090, byval=True),
    _t(4096, "regrole", 4, "N", "i", 4097, byval=True),
)

#: Names `::type` and to_regtype() accept besides typname and format_type's display.
TYPE_ALIASES: dict[str, str] = {
    "int": "int4",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "float": "float8",
    "double precision": "float8",
    "boolean": "bool",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "decimal": "numeric",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "time with time zone": "timetz",
    "bit varying": "varbit",
    '"char"': "char",
}

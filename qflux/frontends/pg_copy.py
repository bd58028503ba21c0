"""`COPY ... TO STDOUT`: the statement's query and options.

psql's `\\copy ... to`, psycopg's `cursor.copy()` and many ETL tools export with
COPY. The proxy runs the query on the engine like any other and writes the rows in
COPY's text, CSV or binary format (`PgEncoder.encode_copy_rows`); `COPY table TO
STDOUT` reads the whole table. `COPY ... FROM STDIN` is refused with a clear error:
loading goes to the engine directly.
"""

from __future__ import annotations

import re

import attrs
from sqlglot.tokens import Tokenizer, TokenType

from qflux.core import ErrorCode, QueryError

_COPY = re.compile(
    r"^\s*COPY\s+(?:\((?P<query>.*)\)|(?P<table>[\w.\"]+)\s*(?:\((?P<columns>[^)]*)\))?)"
    r"\s+(?P<direction>TO|FROM)\s+(?P<target>STDOUT|STDIN|\S+)(?P<options>.*?);?\s*$",
    re.I | re.S,
)


@attrs.frozen
class CopyOut:
    query: str
    format: str = "text"  # text, csv or binary
    delimiter: bytes = b"\t"
    null: bytes = b"\\N"
    quote: bytes = b'"'
    header: bool = False


def is_copy(sql: str) -> bool:
    return sql.lstrip()[:4].upper() == "COPY"


def parse_copy(sql: str) -> CopyOut | None:
    """The COPY TO STDOUT to run, or None if `sql` is not a COPY the proxy answers.

    Raises QueryError for a COPY the proxy cannot do (FROM STDIN, to a server file,
    unknown options).
    """
    m = _COPY.match(sql)
    if m is None:
        return None
    if m["direction"].upper() == "FROM":
        raise QueryError(
            ErrorCode.NOT_SUPPORTED,
            "COPY FROM is not supported through qflux; load data into the engine directly",
        )
    if m["target"].upper() != "STDOUT":
        raise QueryError(
            ErrorCode.NOT_SUPPORTED, "COPY TO a server file is not supported; use TO STDOUT"
        )
    if m["query"] is not None:
        query = m["query"]
    else:
        columns = m["columns"].strip() if m["columns"] else "*"
        query = f"SELECT {columns or '*'} FROM {m['table']}"
    return _options(query, m["options"])


def _options(query: str, text: str) -> CopyOut:
    words = [
        (token.token_type, token.text)
        for token in Tokenizer().tokenize(text)
        if token.token_type not in (TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA)
    ]
    values: dict[str, object] = {}
    i = 0
    while i < len(words):
        _kind, word = words[i]
        key = word.upper()
        i += 1
        if key in ("WITH", "AS"):
            continue
        if key in ("CSV", "BINARY", "TEXT"):
            values["format"] = key.lower()
        elif key == "FORMAT" and i < len(words):
            values["format"] = words[i][1].lower()
            i += 1
        elif key == "HEADER":
            header = True
            if i < len(words) and words[i][1].upper() in ("TRUE", "FALSE", "ON", "OFF", "1", "0"):
                header = words[i][1].upper() in ("TRUE", "ON", "1")
                i += 1
            values["header"] = header
        elif key in ("DELIMITER", "NULL", "QUOTE") and i < len(words):
            if words[i][1].upper() == "AS":
                i += 1
            if i >= len(words) or words[i][0] != TokenType.STRING:
                raise QueryError(ErrorCode.SYNTAX_ERROR, f"COPY {key} needs a quoted string")
            values[key.lower()] = words[i][1].encode()
            i += 1
        else:
            raise QueryError(ErrorCode.NOT_SUPPORTED, f'COPY option "{word}" is not supported')
    return _copy_out(query, values)


def _copy_out(query: str, values: dict[str, object]) -> CopyOut:
    fmt = str(values.get("format", "text"))
    if fmt not in ("text", "csv", "binary"):
        raise QueryError(ErrorCode.INVALID_ARGUMENT, f'COPY format "{fmt}" not recognized')
    csv = fmt == "csv"
    delimiter = values.get("delimiter", b"," if csv else b"\t")
    null = values.get("null", b"" if csv else b"\\N")
    assert isinstance(delimiter, bytes) and isinstance(null, bytes)
    if len(delimiter) != 1:
        raise QueryError(
            ErrorCode.INVALID_ARGUMENT, "COPY delimiter must be a single one-byte character"
        )
    if values.get("header") and fmt != "csv":
        raise QueryError(ErrorCode.NOT_SUPPORTED, "COPY HEADER is available only in CSV mode")
    quote = values.get("quote", b'"')
    assert isinstance(quote, bytes)
    return CopyOut(query, fmt, delimiter, null, quote, bool(values.get("header")))

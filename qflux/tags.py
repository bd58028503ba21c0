"""Query tags: key/value metadata a client attaches to its session, used for routing.

A tag is `key` (key-only, value None) or `key:value`. Clients send them as Trino
client tags (`X-Trino-Client-Tags: etl,team:eng`) or as the session property
`query_tags` / `query_tag`, either comma-separated (`team:eng,batch`) or a JSON object
(`{"team": "eng", "batch": null}`). Parsing is lenient, as in QueryFlux: entries that
are empty, too long or past the limit are dropped, never an error for the query.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

Tags = dict[str, str | None]

MAX_TAGS = 20
MAX_LENGTH = 128
TAG_PROPERTIES = ("query_tags", "query_tag")


def parse_tag(text: str) -> tuple[str, str | None] | None:
    """`team:eng` -> ("team", "eng"); `batch` -> ("batch", None); junk -> None."""
    key, sep, value = text.strip().partition(":")
    key, value = key.strip(), value.strip()
    if not key or len(key) > MAX_LENGTH or len(value) > MAX_LENGTH:
        return None
    return key, (value if sep else None)


def parse_tags(text: str) -> Tags:
    """A comma-separated tag list or a JSON object of tags."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        pairs = [
            (str(k), None if v is None else str(v))
            for k, v in data.items()
            if 0 < len(str(k)) <= MAX_LENGTH and (v is None or len(str(v)) <= MAX_LENGTH)
        ]
        return dict(pairs[:MAX_TAGS])
    return collect(text.split(","))


def collect(items: Iterable[str]) -> Tags:
    tags: Tags = {}
    for item in items:
        parsed = parse_tag(item)
        if parsed is not None and len(tags) < MAX_TAGS:
            tags[parsed[0]] = parsed[1]
    return tags


def session_tags(client_tags: Iterable[str], properties: Mapping[str, str]) -> Tags:
    """Client tags merged with the `query_tags` session property (the property wins)."""
    tags = collect(client_tags)
    for name in TAG_PROPERTIES:
        if name in properties:
            tags.update(parse_tags(properties[name]))
    return dict(list(tags.items())[:MAX_TAGS])


def format_tags(tags: Mapping[str, str | None]) -> str:
    """Tags as Trino client tags: `key` or `key:value`, comma-separated."""
    return ",".join(key if value is None else f"{key}:{value}" for key, value in tags.items())


def matches(required: Mapping[str, str | None], tags: Mapping[str, str | None]) -> bool:
    """Every required tag is present; a required value of None accepts any value."""
    return all(
        key in tags and (value is None or tags[key] == value) for key, value in required.items()
    )

"""Query tag parsing and matching."""

from __future__ import annotations

from qflux.tags import MAX_TAGS, matches, parse_tags, session_tags


def test_comma_list_and_json_forms():
    assert parse_tags("team:eng, cost_center:701,batch") == {
        "team": "eng",
        "cost_center": "701",
        "batch": None,
    }
    assert parse_tags('{"team": "eng", "batch": null, "n": 7}') == {
        "team": "eng",
        "batch": None,
        "n": "7",
    }


def test_junk_is_dropped_not_fatal():
    assert parse_tags(",, :x, ok") == {"ok": None}
    assert parse_tags("{not json") == {}
    assert parse_tags("k:" + "v" * 200) == {}
    assert len(parse_tags(",".join(f"t{i}" for i in range(50)))) == MAX_TAGS


def test_session_tags_merge_client_tags_and_the_property():
    tags = session_tags(["etl", "team:ops"], {"query_tags": "team:eng,env:prod"})
    assert tags == {"etl": None, "team": "eng", "env": "prod"}
    assert session_tags([], {"query_tag": "batch"}) == {"batch": None}


def test_matching_needs_every_tag_and_none_accepts_any_value():
    tags = {"team": "eng", "batch": None}
    assert matches({"team": "eng"}, tags)
    assert matches({"team": None, "batch": None}, tags)
    assert not matches({"team": "ops"}, tags)
    assert not matches({"env": None}, tags)
    assert matches({}, tags)

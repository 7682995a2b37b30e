import pytest

from rokuon.calls.metadata import MetadataError, parse_metadata


def test_valid_metadata_keeps_unknown_keys() -> None:
    m = parse_metadata('{"external_id": "x1", "agent": "佐藤", "direction": "inbound", '
                       '"started_at": "2026-11-28T10:00:00+09:00", "purposes": ["quality"], '
                       '"crm_ticket": 42}')
    assert m.agent == "佐藤" and m.direction == "inbound"
    assert m.started_at is not None and m.started_at.utcoffset().total_seconds() == 9 * 3600
    assert m.extra() == {"crm_ticket": 42}


def test_naive_time_gets_configured_zone() -> None:
    m = parse_metadata('{"started_at": "2026-11-28T10:00:00"}')
    aware = m.started_at_aware("Asia/Tokyo")
    assert aware is not None and aware.utcoffset().total_seconds() == 9 * 3600


@pytest.mark.parametrize("doc, key", [
    ('{"agent": 123}', "agent"),
    ('{"direction": "sideways"}', "direction"),
    ('{"started_at": "yesterday"}', "started_at"),
    ('{"purposes": "quality"}', "purposes"),
    ('{"external_id": ""}', "external_id"),
    ('{"channels": ["agent", "agent"]}', "channels"),
])
def test_wrong_type_names_the_key(doc: str, key: str) -> None:
    with pytest.raises(MetadataError, match=f"'{key}"):
        parse_metadata(doc, source="m.json")


@pytest.mark.parametrize("doc", ["{not json", "[1, 2]", "", "\xff"])
def test_malformed_json(doc: str) -> None:
    with pytest.raises(MetadataError, match="m.json"):
        parse_metadata(doc, source="m.json")

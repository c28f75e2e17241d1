"""The run store and the records' JSON round trip."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vhframe.records import (
    VALUES,
    Decoding,
    GenerationRequest,
    Item,
    Subject,
    ValueProfile,
    content_hash,
)
from vhframe.store import Store


def test_insert_never_overwrites_and_reports_new_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    assert store.put_many("generation", [("a", {"text": "one"}), ("b", {"text": "two"})]) == 2
    assert store.put_many("generation", [("a", {"text": "changed"}), ("c", {"x": 1})]) == 1
    assert store.get("generation", "a") == {"text": "one"}
    assert store.existing("generation", ["a", "c", "zz"]) == {"a", "c"}
    assert store.count("generation") == 3
    assert [r.get("text") for r in store.all("generation")] == ["one", "two", None]
    store.close()


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    with pytest.raises(RuntimeError):
        with store.transaction() as db:
            db.execute("INSERT INTO records VALUES ('k','x','{}',0)")
            raise RuntimeError("boom")
    assert store.count("k") == 0
    store.close()


def test_reopen_and_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.put("profile", "p", {"name": "Ach"})
    mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    store.close()
    assert mode == "wal"
    again = Store(tmp_path / "s.sqlite")
    assert again.get("profile", "p") == {"name": "Ach"}
    again.close()


def test_schema_version_guard(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.set_meta("schema_version", "999")
    store.close()
    with pytest.raises(RuntimeError, match="store schema 999 is not supported"):
        Store(tmp_path / "s.sqlite")


def test_parquet_export(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    profiles = [ValueProfile(name=f"p{i}", scores=tuple([1.0 + i] * 10)) for i in range(3)]
    store.put_many("profile", [(p.key, p.to_dict()) for p in profiles])
    [path] = store.export_parquet(tmp_path / "tables", ["profile", "missing"])
    table = pq.read_table(path)
    assert table.num_rows == 3
    rows = dict(
        zip(table.column("name").to_pylist(), table.column("scores").to_pylist(), strict=True)
    )
    assert rows["p0"] == [1.0] * 10 and rows["p2"] == [3.0] * 10
    store.close()


def test_records_round_trip_and_keys() -> None:
    subject = Subject(
        name="aligned-Ach",
        role="aligned",
        base_model="m",
        adapter="/a",
        adapter_hash="h",
        profile="Ach",
        scores=tuple([6.0] + [1.0] * 9),
    )
    item = Item(benchmark="hexphi", id="000001", category="malware", prompt="p", meta={"l": 2})
    req = GenerationRequest(
        subject=subject,
        item=item,
        prompt="QUESTION: p ANSWER:",
        decoding=Decoding(),
        sample=0,
        seed=3,
    )
    back = GenerationRequest.from_dict(req.to_dict())
    assert back == req and back.key == req.key
    assert isinstance(back.subject, Subject) and isinstance(back.decoding, Decoding)
    assert Subject.from_dict(subject.to_dict()) == subject
    assert Item.from_dict(item.to_dict()) == item
    other = GenerationRequest(
        subject=subject, item=item, prompt=req.prompt, decoding=Decoding(), sample=1, seed=3
    )
    assert req.key != other.key
    assert content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1})
    assert len(VALUES) == 10


def test_stored_json_read_by_arrow_equals_the_records(tmp_path: Path) -> None:
    import json

    import pyarrow as pa

    from vhframe.records import Generation, Judgment
    from vhframe.store import flat_schema, json_table

    texts = ["plain", "two\nlines", 'quote " and \\ slash', "emoji 😀 and ü", "", "2020-01-01"]
    gens = [
        Generation(
            key=f"{i:064x}",
            subject=f"s{i}",
            benchmark="b",
            item_id=str(i),
            category="c",
            mitigation="none",
            sample=i,
            seed=2**31 - 1 - i,
            prompt="p\t" + t,
            text=t,
        )
        for i, t in enumerate(texts)
    ]
    judgments = [
        Judgment(
            key=f"{i:064x}",
            generation=g.key,
            judge="j",
            subject=g.subject,
            benchmark="b",
            category="c",
            mitigation="none",
            harmful=i % 2 == 0,
            score=float(i) / 3,
            label="x" * i,
        )
        for i, g in enumerate(gens)
    ]
    store = Store(tmp_path / "s.sqlite")
    for kind, records in (("generation", gens), ("judgment", judgments)):
        store.put_many(kind, [(r.key, r.to_dict()) for r in records])
        keys = [r.key for r in reversed(records)]
        raw = store.get_json_ordered(kind, keys)
        table = json_table(raw, flat_schema(type(records[0])))
        # the table the export wrote before: stored payloads decoded in Python
        expected = pa.Table.from_pylist([json.loads(p) for p in raw])
        assert table.schema == expected.schema
        assert table.to_pylist() == expected.to_pylist()
        assert [dict(sorted(r.to_dict().items())) for r in reversed(records)] == table.to_pylist()
    store.close()


def test_group_counts_in_sqlite_equal_counting_in_python(tmp_path: Path) -> None:
    import random

    from vhframe.store import _group_in_python

    rng = random.Random(5)
    store = Store(tmp_path / "s.sqlite")
    rows = [
        (
            f"{i:064x}",
            {"a": rng.choice("xyz"), "b": rng.choice(["p", "q"]), "flag": rng.random() < 0.3},
        )
        for i in range(2000)
    ]
    store.put_many("r", rows)
    keys = [k for k, _ in rows[:1500]] + ["missing"]
    found, groups = store.group_counts("r", keys, ("a", "b"), "flag")
    expected = _group_in_python([p for _, p in rows[:1500]], ("a", "b"), "flag")
    assert found == 1500
    assert sorted((*g, n, h) for g, n, h in groups) == sorted(expected)
    assert sum(h for *_, h in expected) > 0
    store.close()

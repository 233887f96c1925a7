"""The feature catalogue: complete, associate-friendly, and in sync with docs/features.md."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from features.bgnbd import BetaGeoModel
from features.catalogue import (
    BOUTIQUE_REASONS,
    CLIENT_ATTRIBUTES,
    FeatureDoc,
    feature_catalogue,
    main,
    render_markdown,
)
from features.client_features import CATEGORICAL_CLIENT_FEATURES, CLIENT_FEATURES, client_features
from features.contract import TABLES
from features.history import PurchaseHistory
from training.next_purchase.reasons import catalogue_templates, top_reasons

DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "features.md"


def table(name: str, rows: list[dict]) -> pl.LazyFrame:
    schema = TABLES[name].schema()
    return (pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)).lazy()


@pytest.fixture(scope="module")
def history() -> PurchaseHistory:
    """Two clients, three receipts in Paris."""
    rows = [
        {"transaction_id": str(i), "receipt_id": str(i), "client_id": client, "boutique_id": "PAR",
         "product_id": "bag", "purchased_at": datetime(2024, month, 5, 12, tzinfo=UTC),
         "quantity": 1, "amount": 1000.0, "currency": "EUR"}
        for i, (client, month) in enumerate([("a", 1), ("a", 3), ("b", 2)])
    ]  # fmt: skip
    boutique = {"boutique_id": "PAR", "city": "Paris", "country": "FR", "currency": "EUR",
                "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1)}  # fmt: skip
    clients = [
        {"client_id": c, "home_boutique_id": "PAR", "first_purchase_date": date(2024, 1, 1)}
        for c in "ab"
    ]
    return PurchaseHistory(
        clients=table("clients", clients),
        boutiques=table("boutiques", [boutique]),
        products=table("products", [{"product_id": "bag", "division": "leather goods"}]),
        transactions=table("transactions", rows),
        footfall=table("footfall", []),
        fx_rates=table("fx_rates", []),
        events=table("events", []),
    )


def test_docs_page_is_in_sync_with_the_catalogue() -> None:
    assert DOCS_PAGE.read_text(encoding="utf-8") == render_markdown(), (
        "docs/features.md is stale: run `python -m features.catalogue --out docs/features.md`"
    )


def test_every_client_feature_column_has_an_entry(history: PurchaseHistory) -> None:
    model = BetaGeoModel.from_params(r=0.5, alpha=30.0, a=0.8, b=2.0)
    frame = client_features(history, date(2024, 6, 1), bgnbd=model).collect()
    assert frame.height == 2
    produced = [name for name in frame.columns if name not in ("client_id", "cutoff")]
    documented = [doc.name for doc in feature_catalogue() if doc.entity == "client"]
    assert produced == documented == list(CLIENT_FEATURES)
    categorical = {doc.name for doc in feature_catalogue() if doc.categorical}
    assert set(CATEGORICAL_CLIENT_FEATURES) <= categorical


def test_entries_are_unique_and_readable() -> None:
    catalogue = feature_catalogue()
    keys = [(doc.entity, doc.name) for doc in catalogue]
    assert len(keys) == len(set(keys))
    for doc in catalogue:
        assert doc.entity in ("client", "boutique")
        assert doc.description.strip(), doc.name
        if doc.reason is None:
            assert doc.entity == "client" and doc.name in CLIENT_ATTRIBUTES, doc.name
            continue
        assert doc.reason.strip(), doc.name
        assert len(doc.reason) <= 60 and not doc.reason.endswith("."), doc.name
    reasons = {doc.name: doc.reason for doc in catalogue if doc.entity == "client"}
    assert reasons["division_share_leather_goods"] == "buys mostly leather goods"
    assert reasons["days_to_habitual_month"] == "usually buys around this time of year"


def test_boutique_features_are_catalogued_when_available() -> None:
    boutique_features = pytest.importorskip("features.boutique_features")
    documented = {doc.name for doc in feature_catalogue() if doc.entity == "boutique"}
    assert documented == set(boutique_features.BOUTIQUE_FEATURES)
    # Every current boutique feature has its own phrase rather than a derived one.
    assert documented <= set(BOUTIQUE_REASONS) | {
        name for name in documented if name.startswith("visitors_")
    }


def test_explain_fills_the_value_in() -> None:
    doc = FeatureDoc(
        "last_division", "client", "Main division of the last occasion.", "last bought {value}"
    )
    assert doc.needs_value and doc.explain("watches") == "last bought watches"
    with pytest.raises(ValueError, match="last_division"):
        doc.explain()
    plain = FeatureDoc("recency_days", "client", "Days since.", "bought recently")
    assert plain.explain() == plain.explain(3) == "bought recently"


def test_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "docs" / "features.md"
    main(["--out", str(out)])
    assert out.read_text(encoding="utf-8") == render_markdown()
    assert "wrote" in capsys.readouterr().out
    assert [path.name for path in out.parent.iterdir()] == ["features.md"]  # no temporary left


def test_client_attributes_never_give_a_reason() -> None:
    docs = {doc.name: doc for doc in feature_catalogue() if doc.entity == "client"}
    assert {"age", "gender", "language", "tier", "home_country"} <= CLIENT_ATTRIBUTES
    assert set(docs) >= CLIENT_ATTRIBUTES
    for name in CLIENT_ATTRIBUTES:
        assert docs[name].reason is None, name
        with pytest.raises(ValueError, match="attribute"):
            docs[name].explain("Gold")
    assert not CLIENT_ATTRIBUTES & set(catalogue_templates())
    assert "| `tier` | Clienteling tier. | — |" in render_markdown()


def test_reasons_skip_attributes_even_when_they_push_hardest() -> None:
    names = ["tier", "home_country", "age", "recency_days"]
    values = pl.DataFrame(
        {"tier": ["Gold"], "home_country": ["JP"], "age": [41], "recency_days": [12]}
    )
    contributions = [[3.0, 2.0, 1.0, 0.5, 0.0]]  # the attributes first, then the bias
    reasons = top_reasons(["c1"], contributions, values, names, catalogue_templates(), top_k=3)
    assert reasons["feature"].to_list() == ["recency_days"]
    assert reasons["reason"].to_list() == ["bought recently"]

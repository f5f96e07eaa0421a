"""Title quality (issue 11): identification, duplicates and generic titles with known answers,
in ``evaluate`` without ground truth, and the labeler's verify-and-repair loop with fake LLMs."""

from __future__ import annotations

import numpy as np
import pytest

from hercules import Hercules
from hercules.labeling.llm.quality import (
    confusable,
    count_duplicates,
    duplicate_mask,
    generic_mask,
    identification_margins,
    normalise_title,
)
from tests.conftest import make_corpus


def test_normalise_and_duplicates_ignore_case_punctuation_plurals():
    assert normalise_title("Top-Up Issues!") == normalise_title("top up issue") == "top up issue"
    assert normalise_title("Card Queries") == "card query"
    titles = ["Card Payments", "card payment", "Refunds", "Top-ups", "Top up"]
    assert duplicate_mask(titles).tolist() == [True, True, False, True, True]
    assert count_duplicates(titles) == 2
    assert count_duplicates(["a", "b"]) == 0


def test_generic_titles_known_answers():
    # umbrella words only, in any form
    assert generic_mask(["Various Issues", "General Questions", "Misc", "Card Payments"]).tolist() == [True, True, True, False]
    # words every sibling shares say nothing about one of them
    sib = ["Top-Up Issues", "Top-Up Limits", "Top-Up by Card", "Top-Up Verification"]
    assert generic_mask(sib).tolist() == [True, False, False, False]
    # the rule is per sibling group: two groups, the shared word counts only within each
    titles = ["Card Issues", "Card Delivery", "Card PIN", "Transfer Fees", "Transfer Issues", "Transfer Limits"]
    groups = np.array([0, 0, 0, 1, 1, 1])
    assert generic_mask(titles, groups).tolist() == [True, False, False, False, True, False]
    # groups below 3 siblings only use the stop-list
    assert generic_mask(["Card Payments", "Card"], np.array([0, 0])).tolist() == [False, False]


def test_identification_margins_and_confusable():
    C = np.eye(3, dtype=np.float32)
    T = np.array([[1, 0.1, 0], [0.9, 0.2, 0], [0, 0, 1]], dtype=np.float32)  # title 1 points at cluster 0
    m = identification_margins(T, C)
    assert (m > 0).tolist() == [True, False, True]
    assert confusable(T, C, 1, n=1) == [0]
    # candidate titles scored against chosen owners
    assert (identification_margins(T[:2], C, owners=np.array([0, 0])) > 0).tolist() == [True, True]


def test_evaluate_reports_title_quality_without_ground_truth():
    m = Hercules([6, 2], embedder="hashing:256", progress=False).fit(make_corpus())
    df = m.evaluate()
    assert {"title_identification", "duplicate_titles", "generic_titles"} <= set(df.columns)
    assert df["title_identification"].between(0, 1).all()
    assert df.loc[1, "title_identification"] >= 0.8  # keyword titles of clean topics pick their own cluster
    assert (df["duplicate_titles"] >= 0).all()
    one = m.evaluate(1)
    assert one["title_identification"] == pytest.approx(df.loc[1, "title_identification"])


def test_identification_skipped_with_a_reason_for_numeric_data():
    from sklearn.datasets import load_wine

    X = load_wine(as_frame=True).frame.drop(columns="target")
    m = Hercules([4], progress=False).fit(X)
    row = m.evaluate(1)
    assert np.isnan(row["title_identification"])
    assert "numeric" in row["title_identification_skipped"]
    assert row["duplicate_titles"] >= 0


def test_identification_skipped_for_precomputed_embeddings(corpus):
    E = np.random.default_rng(0).normal(size=(len(corpus), 16)).astype(np.float32)
    m = Hercules([4], embedder="hashing:64", progress=False).fit(corpus, embeddings=E)
    assert "precomputed" in m.evaluate(1)["title_identification_skipped"]

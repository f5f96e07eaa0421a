"""Labels without an LLM: class-based TF-IDF keywords for text, distinctive variables for numbers.

c-TF-IDF (as in BERTopic): all member texts of a cluster form one document;
term weight = (term frequency within the cluster, L1-normalised) x
log(1 + mean words per cluster / term frequency over all clusters). Terms that
are frequent in one cluster and rare elsewhere rise, so sibling titles differ.
"""

from __future__ import annotations

import os
import re

import numpy as np
import scipy.sparse as sp

from hercules.common.groups import onehot
from hercules.data.dataset import Dataset
from hercules.data.lazy import prefetch
from hercules.labeling.base import ClusterLabel, LevelContext, representative_items

_SNIPPET = 90

# Conversational filler that sklearn's English stop list keeps but that never makes a good title.
_EXTRA_STOP = frozenset(
    [
        "px",
        "mostly",
        "mixed",
        "colours",
        "able",
        "also",
        "ago",
        "any",
        "anyone",
        "anything",
        "are",
        "aren't",
        "back",
        "can",
        "can't",
        "could",
        "couldn't",
        "did",
        "didn't",
        "does",
        "doesn't",
        "doing",
        "don't",
        "done",
        "get",
        "gets",
        "getting",
        "got",
        "gotten",
        "happened",
        "hasn't",
        "have",
        "haven't",
        "hello",
        "help",
        "hey",
        "hi",
        "how",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "isn't",
        "it's",
        "just",
        "know",
        "let",
        "like",
        "look",
        "looking",
        "make",
        "need",
        "needs",
        "please",
        "really",
        "said",
        "say",
        "says",
        "see",
        "still",
        "sure",
        "tell",
        "thank",
        "thanks",
        "there's",
        "think",
        "tried",
        "try",
        "trying",
        "use",
        "used",
        "using",
        "want",
        "wanted",
        "wants",
        "way",
        "what's",
        "where's",
        "why",
        "won't",
        "would",
        "wouldn't",
        "yes",
        "yet",
        "you're",
    ]
)


def snippet(text: str, n: int = _SNIPPET) -> str:
    """First ``n`` characters on a word boundary, whitespace collapsed."""
    t = " ".join(text.split())
    if len(t) <= n:
        return t
    cut = t[:n].rsplit(" ", 1)[0]
    return (cut or t[:n]) + "…"


def _stem(word: str) -> str:
    """A light stem: common English suffixes off, then the first 6 letters ("working", "works" -> "work")."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:6]


def _pick_distinct(terms: list[str], limit: int) -> list[str]:
    """Drop terms whose words are all already covered (by a light stem) by chosen terms."""
    chosen: list[str] = []
    stems: set[str] = set()
    for t in terms:
        words = [_stem(w) for w in t.split()]
        if all(w in stems for w in words):
            continue
        # A bigram supersedes its unigram already chosen ("card" -> "card arrival").
        chosen = [c for c in chosen if not (len(c.split()) == 1 and _stem(c) in words and len(words) > 1)]
        chosen.append(t)
        stems.update(words)
        if len(chosen) == limit:
            break
    return chosen


#: Words the c-TF-IDF vocabulary keeps at most (by corpus frequency).
MAX_TERMS = 60_000


def term_counter(n_texts: int, vocabulary: np.ndarray | None = None, limits: bool = True):
    """The CountVectorizer of the keyword titles (unigrams and bigrams, English and conversational stop words, words
    seen in at least 2 texts from 200 texts on, the ``MAX_TERMS`` most frequent); ``vocabulary``: count only those
    terms; ``limits=False``: count every term (the per-block first pass of a distributed vocabulary)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    return CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | _EXTRA_STOP),
        ngram_range=(1, 2),
        min_df=(2 if n_texts >= 200 else 1) if limits else 1,
        max_features=MAX_TERMS if limits else None,
        token_pattern=r"(?u)\b[^\W\d_][\w'-]*[^\W_]\b",
        dtype=np.float32,
        vocabulary=None if vocabulary is None else list(vocabulary),
    )


class KeywordLabeler:
    """Keyword titles for text (c-TF-IDF) and distinctive-variable titles for numeric data."""

    def __init__(self, n_keywords: int = 8, n_title_words: int = 3) -> None:
        self.n_keywords = n_keywords
        self.n_title_words = n_title_words
        self._dtm: tuple[Dataset, sp.csr_matrix, np.ndarray] | None = None  # for the dataset it was built on

    # -- text -------------------------------------------------------------
    def _doc_term(self, dataset: Dataset) -> tuple[sp.csr_matrix, np.ndarray]:
        if self._dtm is None or self._dtm[0] is not dataset:  # identity, not id(): ids are reused after GC
            texts = dataset.texts if dataset.modality == "text" else (dataset.descriptions or [])
            cv = term_counter(len(texts))
            try:
                M = cv.fit_transform(texts).tocsr()
                vocab = cv.get_feature_names_out()
            except ValueError:  # only stop words or numbers
                M, vocab = sp.csr_matrix((len(texts), 0), dtype=np.float32), np.array([], dtype=object)
            self._dtm = (dataset, M, vocab)
        return self._dtm[1], self._dtm[2]

    def keywords(
        self, dataset: Dataset, labels: np.ndarray, k: int, counts: tuple[sp.csr_matrix, np.ndarray] | None = None
    ) -> list[list[str]]:
        """The top distinctive terms of each of the ``k`` clusters; ``counts``: the (k, terms) cluster x term counts and
        the terms, computed elsewhere (an engine, over blocks of the texts) with :func:`term_counter`'s vocabulary."""
        if counts is None:
            M, vocab = self._doc_term(dataset)
            C = (onehot(labels, k) @ M).tocsr() if M.shape[1] else None  # cluster x term counts
        else:
            C, vocab = (counts[0].tocsr(), counts[1]) if len(counts[1]) else (None, counts[1])
        if C is None:
            return [[] for _ in range(k)]
        words_per_cluster = np.asarray(C.sum(axis=1)).ravel()
        term_freq = np.asarray(C.sum(axis=0)).ravel()
        avg = max(float(words_per_cluster.mean()), 1.0)
        idf = np.log1p(avg / np.maximum(term_freq, 1.0)).astype(np.float32)
        tf = sp.diags(1.0 / np.maximum(words_per_cluster, 1.0)).astype(np.float32) @ C
        W = (tf @ sp.diags(idf)).tocsr()
        W.sort_indices()  # ties between equal weights: by term order, however the counts were summed
        out = []
        for j in range(k):
            row = W.getrow(j)
            if row.nnz == 0:
                out.append([])
                continue
            top = row.indices[np.argsort(-row.data, kind="stable")[: 4 * self.n_keywords]]
            out.append(_pick_distinct([str(vocab[t]) for t in top], self.n_keywords))
        return out

    def _text_labels(self, ctx: LevelContext) -> list[ClusterLabel]:
        counts = None if ctx.term_counts is None or ctx.dataset.modality != "text" else ctx.term_counts()
        kws = self.keywords(ctx.dataset, ctx.item_labels, ctx.n_clusters, counts)
        reps = representative_items(ctx, 2)
        sizes = np.bincount(ctx.item_labels, minlength=ctx.n_clusters)
        texts = ctx.dataset.item_texts()
        prefetch(texts, reps)
        labels = []
        for j in range(ctx.n_clusters):
            kw = kws[j]
            examples = [snippet(texts[i]) for i in reps[j]]
            title = ", ".join(w.capitalize() for w in kw[: self.n_title_words]) if kw else snippet(examples[0], 40)
            desc = f"{sizes[j]} items"
            if kw:
                desc += f" about {', '.join(kw[:6])}"
            desc += self._children_clause(ctx, j)
            if examples:
                desc += ". For example: " + " | ".join(f'"{e}"' for e in examples)
            labels.append(ClusterLabel(title=title, description=desc, keywords=kw))
        return labels

    @staticmethod
    def _children_clause(ctx: LevelContext, j: int) -> str:
        if ctx.child_labels is None or ctx.child_parent is None:
            return ""
        kids = np.flatnonzero(ctx.child_parent == j)
        names = [ctx.child_labels[c].title for c in kids[:4]]
        more = f" and {len(kids) - 4} more" if len(kids) > 4 else ""
        return f"; {len(kids)} subclusters: {'; '.join(names)}{more}"

    # -- numeric ----------------------------------------------------------
    def _numeric_labels(self, ctx: LevelContext) -> list[ClusterLabel]:
        X = ctx.dataset.numeric
        variables = ctx.dataset.variables
        assert X is not None and variables is not None
        k = ctx.n_clusters
        counts = np.bincount(ctx.item_labels, minlength=k).astype(np.float64)
        means = np.asarray(onehot(ctx.item_labels, k) @ X) / np.maximum(counts, 1)[:, None]
        mu, sd = X.mean(axis=0), X.std(axis=0)
        z = (means - mu) / np.where(sd > 0, sd, 1.0)
        labels = []
        for j in range(k):
            top = np.argsort(-np.abs(z[j]), kind="stable")[:3]
            parts = [f"{'High' if z[j, v] > 0 else 'Low'} {variables[v].name}" for v in top if abs(z[j, v]) >= 0.25]
            title = ", ".join(parts[:2]) if parts else "Typical values"
            stats = "; ".join(
                f"{variables[v].name} mean {means[j, v]:.4g}{(' ' + variables[v].unit) if variables[v].unit else ''}"
                f" (overall {mu[v]:.4g}, z={z[j, v]:+.2f})"
                for v in top
            )
            desc = f"{int(counts[j])} items; most distinctive: {stats}" + self._children_clause(ctx, j)
            labels.append(ClusterLabel(title=title, description=desc, keywords=[variables[v].name for v in top]))
        return labels

    @staticmethod
    def numeric_stats(ctx: LevelContext, n_vars: int = 5) -> list[list[str]]:
        """Per cluster, statistics on the original scale of its ``n_vars`` most distinctive variables
        (largest |z| of the cluster mean against the overall mean), as prompt lines."""
        X = ctx.dataset.numeric
        variables = ctx.dataset.variables
        assert X is not None and variables is not None
        k = ctx.n_clusters
        order = np.argsort(ctx.item_labels, kind="stable")
        starts = np.searchsorted(ctx.item_labels[order], np.arange(k))
        Xs = X[order]
        counts = np.bincount(ctx.item_labels, minlength=k)
        means = np.add.reduceat(Xs, starts, axis=0) / counts[:, None]
        sq = np.add.reduceat(Xs**2, starts, axis=0) / counts[:, None]
        std = np.sqrt(np.maximum(sq - means**2, 0.0))
        lo, hi = np.minimum.reduceat(Xs, starts, axis=0), np.maximum.reduceat(Xs, starts, axis=0)
        mu, sd = X.mean(axis=0), X.std(axis=0)
        z = (means - mu) / np.where(sd > 0, sd, 1.0)
        out = []
        for j in range(k):
            lines = []
            for v in np.argsort(-np.abs(z[j]), kind="stable")[:n_vars]:
                var = variables[v]
                unit = f" ({var.unit})" if var.unit else ""
                note = f"  # {var.description}" if var.description else ""
                lines.append(
                    f"{var.name}{unit}: mean={means[j, v]:.4g} (overall {mu[v]:.4g}, z={z[j, v]:+.2f}), "
                    f"range {lo[j, v]:.4g} to {hi[j, v]:.4g}, std={std[j, v]:.3g}{note}"
                )
            out.append(lines)
        return out

    def _generic_labels(self, ctx: LevelContext) -> list[ClusterLabel]:
        sizes = np.bincount(ctx.item_labels, minlength=ctx.n_clusters)
        texts = ctx.dataset.item_texts() if ctx.dataset.modality != "vectors" else None
        reps = representative_items(ctx, 3)
        prefetch(texts, reps)
        labels = []
        for j in range(ctx.n_clusters):
            ex = [texts[i] for i in reps[j]] if texts else [str(ctx.dataset.ids[i]) for i in reps[j]]
            title = f"Cluster L{ctx.level}-{j}" if not texts else f"{snippet(ex[0], 40)} and similar"
            desc = f"{sizes[j]} items{self._children_clause(ctx, j)}. Closest to the centre: {', '.join(ex)}"
            labels.append(ClusterLabel(title=title, description=desc))
        return labels

    def label_level(self, ctx: LevelContext) -> list[ClusterLabel]:
        if ctx.dataset.modality == "text" or (ctx.dataset.modality == "image" and ctx.dataset.descriptions is not None):
            return self._text_labels(ctx)
        if ctx.dataset.modality == "numeric":
            return self._numeric_labels(ctx)
        return self._generic_labels(ctx)


_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)")


def level0_labels(dataset: Dataset) -> list[ClusterLabel]:
    """Section 3.1's level-0 title and description of every item (no LLM)."""
    texts = dataset.item_texts()
    if dataset.modality == "text":
        out = []
        for raw in texts:
            t = " ".join(raw.split())
            m = _SENTENCE.match(t)
            title = m.group(1) if m and len(m.group(1)) <= 80 else " ".join(t.split()[:8])
            out.append(ClusterLabel(title=snippet(title, 80), description=snippet(t, 300), source="item"))
        return out
    if dataset.modality == "image":
        assert dataset.image_paths is not None
        names = [os.path.basename(p) for p in dataset.image_paths]
        descs = dataset.descriptions or [f"Image file {p}" for p in dataset.image_paths]
        return [ClusterLabel(title=n, description=d, source="item") for n, d in zip(names, descs)]
    if dataset.modality == "numeric":
        return [ClusterLabel(title=f"Item {i}", description=d, source="item") for i, d in zip(dataset.ids, texts)]
    return [ClusterLabel(title=f"Item {i}", description="", source="item") for i in dataset.ids]

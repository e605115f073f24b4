"""From text to the numbers a linear model reads: three blocks, each L2-normalised on its own.

- words: unigrams and bigrams of folded tokens (what was said);
- chars: 3-5 character n-grams inside each word (typos, inflections and German compounds: "anmeldeproblem" shares
  most of its n-grams with "anmelden");
- meaning: the mean of static word-piece embeddings distilled from a sentence encoder (all-MiniLM-L6-v2), so words
  the examples never used still land near the ones they did ("thermostat" near "router").

Features are hashed (crc32, stable across processes) and kept only if seen in training, so a model file holds the
columns it knows and nothing else. Per-word work is cached: support traffic repeats its words. Each cache holds a fixed
number of entries and no word longer than text.MAX_WORD reaches it, so hostile input cannot grow them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy import sparse

from tierdesk.triage.text import MAX_WORD, tokens

HASH_MASK = (1 << 31) - 1
WORD_BLOCK, CHAR_BLOCK = 0, 1
WORD_CACHE_SIZE = 1 << 14  # distinct words remembered per cache (a vector or a few dozen columns each)
BIGRAM_CACHE_SIZE = 1 << 17  # the benchmark's 4,053 messages hold 75,000 distinct bigrams: they fit


_K = TypeVar("_K")
_V = TypeVar("_V")


class BoundedCache(dict[_K, _V]):
    """A memo of at most `limit` entries, emptied when full: a hit stays one dict lookup (no LRU bookkeeping on the
    hot path), and support traffic refills its common words at once."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: _K, value: _V) -> _V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


def _hash(feature: str) -> int:
    return zlib.crc32(feature.encode()) & HASH_MASK


def word_feature_ids(word: str, char_min: int = 3, char_max: int = 5) -> tuple[list[int], list[int]]:
    """Hashed ids of a word's unigram feature and its character n-grams; none for a word longer than MAX_WORD
    (text.tokens never makes one: this keeps any other caller's work bounded too)."""
    if len(word) > MAX_WORD:
        return [], []
    padded = f"<{word}>"
    grams = [padded[i : i + n] for n in range(char_min, char_max + 1) for i in range(len(padded) - n + 1)]
    return [_hash("w:" + word)], [_hash("c:" + g) for g in grams]


def bigram_id(first: str, second: str) -> int:
    return _hash(f"b:{first} {second}")


@dataclass
class Features:
    """A batch: the sparse word/char block and, when the model has embeddings, the dense meaning block."""

    sparse: sparse.csr_matrix
    dense: np.ndarray | None

    def stacked(self) -> sparse.csr_matrix:
        if self.dense is None:
            return self.sparse
        return sparse.hstack([self.sparse, sparse.csr_matrix(self.dense)], format="csr")


class WordPieceEmbedder:
    """Static embeddings over a BERT word-piece vocabulary (greedy longest match, as BERT tokenises)."""

    def __init__(self, vocab: Sequence[str], table: np.ndarray, name: str = ""):
        self.name = name
        self.index = {piece: i for i, piece in enumerate(vocab)}
        # No piece is longer than this, so no longer candidate is ever looked up: the match is linear in a word's
        # length (at most `longest_piece` lookups per character), not quadratic.
        self.longest_piece = max((len(p) - 2 if p.startswith("##") else len(p) for p in vocab), default=0)
        self.table = table.astype(np.float32)
        self.dim = table.shape[1]
        self._vectors: BoundedCache[str, tuple[np.ndarray, int]] = BoundedCache(WORD_CACHE_SIZE)

    def pieces(self, word: str) -> list[int]:
        ids, start = [], 0
        while start < len(word):
            end = min(len(word), start + self.longest_piece)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.index:
                    ids.append(self.index[piece])
                    break
                end -= 1
            if end == start:
                return []  # [UNK]: carries no meaning, so it adds nothing
            start = end
        return ids

    def word_vector(self, word: str) -> tuple[np.ndarray, int]:
        """The sum of a word's piece vectors and the number of pieces. A word longer than MAX_WORD is not language
        and carries no meaning."""
        hit = self._vectors.get(word)
        if hit is None:
            ids = self.pieces(word) if len(word) <= MAX_WORD else []
            vector = self.table[ids].sum(axis=0) if ids else np.zeros(self.dim, np.float32)
            hit = self._vectors.remember(word, (vector, len(ids)))
        return hit

    def embed(self, token_lists: Sequence[list[str]]) -> np.ndarray:
        """Mean piece vector of each text (its folded tokens), L2-normalised. Each distinct word of the batch is
        looked up once and the rows are summed in one sparse product (a NumPy call per word would cost more than
        the arithmetic)."""
        slot: dict[str, int] = {}  # word -> row of `vectors`, -1 for a word with no pieces
        vectors: list[np.ndarray] = []
        rows: list[int] = []
        cols: list[int] = []
        for row, words in enumerate(token_lists):
            for word in words:
                s = slot.get(word)
                if s is None:
                    vec, n = self.word_vector(word)
                    s = slot[word] = len(vectors) if n else -1
                    if n:
                        vectors.append(vec)
                if s >= 0:
                    rows.append(row)
                    cols.append(s)
        if not vectors:
            return np.zeros((len(token_lists), self.dim), np.float32)
        counts = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (np.array(rows), np.array(cols))), shape=(len(token_lists), len(vectors))
        )
        out = np.asarray(counts @ np.stack(vectors), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class Vectorizer:
    """Hashed n-gram tf-idf (per-block L2) plus an optional embedding block; fitted once, then read-only."""

    def __init__(
        self,
        vocab_ids: np.ndarray,
        idf: np.ndarray,
        blocks: np.ndarray,
        embedder: WordPieceEmbedder | None = None,
        dense_weight: float = 1.0,
    ):
        self.vocab_ids = vocab_ids.astype(np.int64)
        self.idf = idf.astype(np.float32)
        self.blocks = blocks.astype(np.int8)
        self.column = {int(h): i for i, h in enumerate(self.vocab_ids)}
        self.embedder = embedder
        self.dense_weight = dense_weight
        self._word_cache: BoundedCache[str, list[int]] = BoundedCache(WORD_CACHE_SIZE)
        self._word_array_cache: BoundedCache[str, np.ndarray] = BoundedCache(WORD_CACHE_SIZE)
        # -1: a bigram the model does not keep
        self._bigram_cache: BoundedCache[tuple[str, str], int] = BoundedCache(BIGRAM_CACHE_SIZE)

    @property
    def n_sparse(self) -> int:
        return len(self.vocab_ids)

    @property
    def n_features(self) -> int:
        return self.n_sparse + (self.embedder.dim if self.embedder else 0)

    # -- fitting ------------------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        embedder: WordPieceEmbedder | None = None,
        min_df: int = 2,
        dense_weight: float = 1.0,
    ) -> Vectorizer:
        df: dict[int, int] = {}
        block_of: dict[int, int] = {}
        for text in texts:
            seen: set[int] = set()
            for ids, block in _raw_ids(tokens(text)):
                for h in ids:
                    if h not in seen:
                        seen.add(h)
                        block_of[h] = block
            for h in seen:
                df[h] = df.get(h, 0) + 1
        kept = sorted(h for h, n in df.items() if n >= min_df)
        n_docs = len(texts)
        vocab = np.array(kept, dtype=np.int64)
        dfs = np.array([df[h] for h in kept], dtype=np.float64)
        idf = (np.log((1 + n_docs) / (1 + dfs)) + 1).astype(np.float32)
        blocks = np.array([block_of[h] for h in kept], dtype=np.int8)
        return cls(vocab, idf, blocks, embedder, dense_weight)

    # -- transforming -------------------------------------------------------------------------------------------
    def _word_columns(self, word: str) -> list[int]:
        """The model's columns of a word's unigram and character n-grams."""
        cols = self._word_cache.get(word)
        if cols is None:
            unigram, grams = word_feature_ids(word)
            cols = [c for c in (self.column.get(h) for h in unigram + grams) if c is not None]
            self._word_cache.remember(word, cols)
        return cols

    def _bigram_column(self, pair: tuple[str, str]) -> int:
        c = self._bigram_cache.get(pair)
        if c is None:
            c = self._bigram_cache.remember(pair, self.column.get(bigram_id(*pair), -1))
        return c

    def columns(self, words: list[str]) -> list[int]:
        cols: list[int] = []
        word_cache, bigram_cache = self._word_cache, self._bigram_cache  # hits inline: this is the hot loop
        for word in words:
            hit = word_cache.get(word)
            cols.extend(hit if hit is not None else self._word_columns(word))
        for pair in zip(words, words[1:], strict=False):
            c = bigram_cache.get(pair)
            if c is None:
                c = self._bigram_column(pair)
            if c >= 0:
                cols.append(c)
        return cols

    def transform(self, texts: Sequence[str]) -> Features:
        return self.transform_tokens([tokens(text) for text in texts])

    def transform_tokens(self, token_lists: Sequence[list[str]]) -> Features:
        texts = token_lists
        indptr = [0]
        indices: list[int] = []
        for words in token_lists:
            indices.extend(self.columns(words))
            indptr.append(len(indices))
        counts = sparse.csr_matrix(
            (np.ones(len(indices), np.float32), np.array(indices, np.int64), np.array(indptr, np.int64)),
            shape=(len(texts), self.n_sparse),
        )
        counts.sum_duplicates()
        x = counts
        x.data = (1.0 + np.log(x.data)) * self.idf[x.indices]
        # per-row, per-block L2 norm
        rows = np.repeat(np.arange(len(texts)), np.diff(x.indptr))
        key = rows * 2 + self.blocks[x.indices]
        norms = np.sqrt(np.bincount(key, weights=x.data.astype(np.float64) ** 2, minlength=2 * len(texts)))
        norms[norms == 0] = 1.0
        x.data = (x.data / norms[key]).astype(np.float32)
        dense = None
        if self.embedder is not None:
            dense = self.embedder.embed(token_lists) * self.dense_weight
        return Features(x, dense)

    # -- explaining ---------------------------------------------------------------------------------------------
    def _word_column_array(self, word: str) -> np.ndarray:
        cols = self._word_array_cache.get(word)
        if cols is None:
            cols = np.array(sorted(set(self._word_columns(word))), dtype=np.int64)
            self._word_array_cache.remember(word, cols)
        return cols

    def word_contributions(
        self, words: list[str], indices: np.ndarray, data: np.ndarray, weights: np.ndarray,
        keep: Callable[[str], bool] = lambda word: True,
    ) -> list[tuple[str, float]]:
        """How much each word (and bigram) of one text that `keep` accepts pushed a linear score, strongest first.
        `indices` and `data` are the text's sparse features; a character n-gram shared by two words counts for
        both."""
        pushed = np.zeros(self.n_sparse, np.float32)  # small (one float per kept feature) and private to this call
        pushed[indices] = data * weights[indices]
        kept = [word for word in dict.fromkeys(words) if keep(word)]
        contributions: dict[str, float] = {}
        if kept:
            # one gather and one bincount for all the words, not a NumPy call per word
            arrays = [self._word_column_array(word) for word in kept]
            owner = np.repeat(np.arange(len(kept)), [len(a) for a in arrays])
            sums = np.bincount(owner, weights=pushed[np.concatenate(arrays)], minlength=len(kept))
            contributions = dict(zip(kept, sums.tolist(), strict=True))
        for pair in dict.fromkeys(zip(words, words[1:], strict=False)):
            c = self._bigram_column(pair)
            if c >= 0 and pushed[c] and keep(f"{pair[0]} {pair[1]}"):
                contributions[f"{pair[0]} {pair[1]}"] = float(pushed[c])
        return sorted(contributions.items(), key=lambda kv: -abs(kv[1]))


def _raw_ids(words: list[str]) -> Iterable[tuple[list[int], int]]:
    for word in words:
        unigram, grams = word_feature_ids(word)
        yield unigram, WORD_BLOCK
        yield grams, CHAR_BLOCK
    yield [bigram_id(a, b) for a, b in zip(words, words[1:], strict=False)], WORD_BLOCK

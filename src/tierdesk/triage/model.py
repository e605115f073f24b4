"""A triage model: a fitted Vectorizer and linear heads (department, intent, priority, or a deployment's own labels).

Stored as one NumPy .npz file read with allow_pickle=False: arrays and a JSON header, nothing executable, so a model
file from anywhere can be loaded safely. The embedding table is not copied into each model: the header names the
shipped table (embeddings.py) it was trained with. Heads are plain weight matrices; scoring is one sparse product and a
softmax.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tierdesk.triage.embeddings import builtin_embedder
from tierdesk.triage.features import Features, Vectorizer

FORMAT = "tierdesk-triage/1"


class ModelFileError(ValueError):
    """The file is not a readable tierdesk triage model."""


@dataclass
class Head:
    """One linear classifier over the shared features."""

    classes: list[str]
    weights: np.ndarray  # (n_features, n_classes)
    bias: np.ndarray  # (n_classes,)

    def scores(self, features: Features, n_sparse: int) -> np.ndarray:
        z = features.sparse @ self.weights[:n_sparse]
        if features.dense is not None:
            z = z + features.dense @ self.weights[n_sparse:]
        return np.asarray(z) + self.bias

    def probabilities(self, features: Features, n_sparse: int) -> np.ndarray:
        z = self.scores(features, n_sparse)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def direction(self, label: str) -> np.ndarray:
        """Weights that push toward `label` against the others (for explanations)."""
        i = self.classes.index(label)
        if len(self.classes) == 2:
            return self.weights[:, i] - self.weights[:, 1 - i]
        return self.weights[:, i] - self.weights.mean(axis=1)


@dataclass
class TriageModel:
    vectorizer: Vectorizer
    heads: dict[str, Head]
    info: dict[str, Any] = field(default_factory=dict)  # how it was trained: sources, counts, held-out scores

    def features(self, texts: list[str]) -> Features:
        return self.vectorizer.transform(texts)

    def features_of_tokens(self, token_lists: list[list[str]]) -> Features:
        return self.vectorizer.transform_tokens(token_lists)

    def predict(self, head: str, features: Features) -> tuple[list[str], np.ndarray]:
        """Best class per row and its probability."""
        h = self.heads[head]
        p = h.probabilities(features, self.vectorizer.n_sparse)
        best = p.argmax(axis=1)
        return [h.classes[i] for i in best], p[np.arange(len(best)), best]

    def probabilities(self, head: str, features: Features) -> np.ndarray:
        return self.heads[head].probabilities(features, self.vectorizer.n_sparse)

    # -- files --------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        v = self.vectorizer
        meta = {
            "format": FORMAT,
            "heads": {name: head.classes for name, head in self.heads.items()},
            "dense_weight": v.dense_weight,
            "embeddings": v.embedder.name if v.embedder is not None else None,
            "info": self.info,
        }
        arrays: dict[str, Any] = {
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            "vocab_ids": v.vocab_ids.astype(np.int64),
            "idf": v.idf.astype(np.float32),
            "blocks": v.blocks.astype(np.int8),
        }
        for name, head in self.heads.items():
            arrays[f"head_{name}_weights"] = head.weights.astype(np.float16)
            arrays[f"head_{name}_bias"] = head.bias.astype(np.float32)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write then rename: a process loading the model never sees half a file
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez_compressed(out, **arrays)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is meant to be read
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> TriageModel:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            meta = json.loads(arrays["meta"].tobytes().decode())
        except FileNotFoundError:
            raise ModelFileError(f"model file not found: {path}") from None
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{path} is not a tierdesk triage model ({exc.__class__.__name__})") from None
        if meta.get("format") != FORMAT:
            raise ModelFileError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
        embedder = None
        if meta.get("embeddings"):
            try:
                embedder = builtin_embedder(meta["embeddings"])
            except ValueError as exc:
                raise ModelFileError(f"{path}: {exc}") from None
        vectorizer = Vectorizer(
            arrays["vocab_ids"], arrays["idf"], arrays["blocks"], embedder, float(meta.get("dense_weight", 1.0))
        )
        heads = {
            name: Head(classes, arrays[f"head_{name}_weights"].astype(np.float32), arrays[f"head_{name}_bias"])
            for name, classes in meta["heads"].items()
        }
        return cls(vectorizer, heads, meta.get("info", {}))

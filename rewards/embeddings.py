"""MiniLM embeddings for the `offline` checker's alignment of claims without figures.

Step 2 of `rewards.offline`: the best lexical windows of a claim without figures are re-ranked by
the cosine of its all-MiniLM-L6-v2 embedding (the packaged model, no network) with theirs, and the
decision is made on a blend of the two. The claims of one answer are embedded in one batch, and
embeddings are cached by text, since the same source windows recur across answers and rounds.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from cai.core.assets import minilm_path
from rewards.claims import Claim
from rewards.premises import PreparedPage, Window

EMBEDDING_CACHE_SIZE = 50_000
EMBED_MAX_CHARS = 300
MIN_CONTENT_HITS = 2  # of the claim's content words, at least this many must be in one evidence window
MIN_COSINE = 0.3  # MiniLM cosine a claim without figures needs with that window


@lru_cache(maxsize=1)
def minilm():
    """The packaged all-MiniLM-L6-v2 (no network), with a window sized for claims and premises:
    attention cost grows with the padded length, and a claim or a 3-sentence premise cut at
    EMBED_MAX_CHARS fits in 96 wordpieces."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_path()), device="cpu")
    model.max_seq_length = 96
    return model


def embed_text(page: PreparedPage, window: Window) -> str:
    return page.source.text[window.start : window.end][:EMBED_MAX_CHARS]


def embed(texts: list[str], cache: dict[str, np.ndarray]) -> np.ndarray:
    """Embeddings, cached by text in `cache`: the same source windows recur across answers and rounds."""
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        if len(cache) > EMBEDDING_CACHE_SIZE:
            cache.clear()
        vectors = minilm().encode(missing, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)
        cache.update(zip(missing, vectors, strict=True))
    return np.stack([cache[t] for t in texts])


def prose_cosines(prose: list[tuple[int, Claim, list]], cache: dict[str, np.ndarray]) -> list[np.ndarray]:
    """MiniLM cosine of each prose claim with each of its top windows, in one batched call."""
    texts: list[str] = []
    for _, claim, top in prose:
        texts += [claim.plain[:EMBED_MAX_CHARS]] + [embed_text(p, w) for _, p, w in top]
    vectors = dict(zip(texts, embed(texts, cache), strict=True))
    out = []
    for _, claim, top in prose:
        windows = [vectors[embed_text(p, w)] for _, p, w in top]
        out.append(np.array([float(v @ vectors[claim.plain[:EMBED_MAX_CHARS]]) for v in windows]))
    return out


def blend(top: list, cosines: np.ndarray, hits: list[int], weight: float, threshold: float,
          min_cosine: float) -> tuple[bool, float, list, str]:
    """(supported, score, windows best first, reason) of a claim without figures on its `top`
    (lexical recall, page, window) windows: the blend (1 - weight) * recall + weight * cosine of the
    windows holding MIN_CONTENT_HITS of its words and reaching `min_cosine` must reach `threshold`."""
    blended = sorted(
        (((1 - weight) * lex + weight * float(cos), page, window, n, float(cos))
         for (lex, page, window), cos, n in zip(top, cosines, hits, strict=True)),
        key=lambda item: -item[0],
    )
    eligible = [b for b in blended if b[3] >= MIN_CONTENT_HITS and b[4] >= min_cosine]
    ranked = [(b[0], b[1], b[2]) for b in eligible + [b for b in blended if b not in eligible]]
    if eligible and eligible[0][0] >= threshold:
        similarity = eligible[0][0]
        return (True, 0.5 + 0.5 * (similarity - threshold) / (1.0 - threshold), ranked,
                f"aligned (similarity {similarity:.2f}, {eligible[0][3]} content words)")
    similarity = blended[0][0]
    if max(hits) < MIN_CONTENT_HITS:
        reason = f"no source passage has {MIN_CONTENT_HITS} of the claim's content words (best: {max(hits)})"
    elif not any(b[4] >= min_cosine for b in blended if b[3] >= MIN_CONTENT_HITS):
        reason = f"no passage with the claim's words is similar in meaning (cosine < {MIN_COSINE})"
    else:
        reason = f"no source passage aligns (similarity {similarity:.2f})"
    return False, min(0.49, 0.5 * similarity / threshold), ranked, reason

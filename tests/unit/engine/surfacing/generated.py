"""Shared test doubles: a deterministic bag-of-words embedder (a real ``Embedder``, cheap
enough to index hundreds of products per test) and a generated catalog with planted defects."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from engine.surfacing.product import Product


class HashingEmbedder:
    """Words hashed into 256 dimensions, L2-normalised: texts sharing words are close."""

    dimension = 256
    name = "hashing-test"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.casefold()):
                bucket = int(hashlib.blake2b(word.encode(), digest_size=4).hexdigest(), 16)
                matrix[row, bucket % self.dimension] += 1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)

    def encode_queries(self, queries: Sequence[str]) -> NDArray[np.float32]:
        return self.encode(queries)


TYPES = ("table lamp", "dining table", "coffee mug", "office chair", "wool rug", "desk")
COLORS = ("black", "white", "green", "grey", "blue", "red", "yellow", "pink")
MATERIALS = ("oak", "walnut", "steel", "brass", "ceramic", "wool", "glass", "bamboo")
BRANDS = ("Lumen", "Nordhem", "Kiln", "Ergo", "Loom", "Atelier")


def generated_catalog(per_type: int = 40, seed: int = 0) -> list[Product]:
    """Products of six types, each with a color and a material that its title and
    description state; the ids say the type and index."""
    rng = np.random.default_rng(seed)
    products = []
    for t, kind in enumerate(TYPES):
        for i in range(per_type):
            color = COLORS[int(rng.integers(len(COLORS)))]
            material = MATERIALS[int(rng.integers(len(MATERIALS)))]
            brand = BRANDS[t]
            products.append(
                Product(
                    id=f"{kind.replace(' ', '-')}-{i}",
                    title=f"{brand} {color} {material} {kind}",
                    description=f"A {color} {kind} made of {material}, model {i}.",
                    brand=brand,
                    price=float(20 + 5 * i),
                    attributes={"color": color, "material": material},
                    product_type=f"Home > {kind.title()}s",
                )
            )
    return products

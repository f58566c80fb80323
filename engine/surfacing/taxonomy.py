"""Google's product taxonomy (``data/taxonomy-with-ids.en-US.txt``, see its notice), loaded once.

A node is addressed either by its numeric id ("2271") or by its full path ("Apparel &
Accessories > Clothing > Dresses"), the two spellings Merchant Center accepts for
``google_product_category``. Paths are matched case-insensitively with whitespace normalised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from types import MappingProxyType

TAXONOMY_FILE = "taxonomy-with-ids.en-US.txt"
SEPARATOR = " > "


@dataclass(frozen=True)
class TaxonomyNode:
    id: int
    path: tuple[str, ...]  # ("Apparel & Accessories", "Clothing", "Dresses")

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def full_path(self) -> str:
        return SEPARATOR.join(self.path)

    @property
    def top_level(self) -> str:
        return self.path[0]


def _key(path: str) -> str:
    return SEPARATOR.join(part.strip().casefold() for part in path.split(">"))


@dataclass(frozen=True)
class Taxonomy:
    version: str
    nodes: tuple[TaxonomyNode, ...]
    _by_id: Mapping[int, TaxonomyNode] = field(init=False, repr=False, compare=False)
    _by_path: Mapping[str, TaxonomyNode] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({n.id: n for n in self.nodes}))
        by_path = {_key(n.full_path): n for n in self.nodes}
        object.__setattr__(self, "_by_path", MappingProxyType(by_path))

    def resolve(self, value: str) -> TaxonomyNode | None:
        """The node ``value`` names (an id or a full path), or None when it names none."""
        text = value.strip()
        if text.isdigit():
            return self._by_id.get(int(text))
        return self._by_path.get(_key(text))

    def by_id(self, node_id: int) -> TaxonomyNode:
        return self._by_id[node_id]

    def leaves(self) -> tuple[TaxonomyNode, ...]:
        """Nodes with no children: the most specific categories."""
        parents = {n.path[:-1] for n in self.nodes}
        return tuple(n for n in self.nodes if n.path not in parents)


def parse_taxonomy(text: str) -> Taxonomy:
    """Google's ``taxonomy-with-ids`` format: a ``# Google_Product_Taxonomy_Version: ...``
    line, then ``<id> - <path>`` per line."""
    version = ""
    nodes: list[TaxonomyNode] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            _, _, version = line.partition(":")
            version = version.strip()
            continue
        node_id, sep, path = line.partition(" - ")
        if not sep or not node_id.strip().isdigit():
            raise ValueError(f"taxonomy line {number}: expected '<id> - <path>', got {raw!r}")
        parts = tuple(part.strip() for part in path.split(">"))
        nodes.append(TaxonomyNode(id=int(node_id), path=parts))
    if not nodes:
        raise ValueError("the taxonomy file holds no categories")
    return Taxonomy(version=version, nodes=tuple(nodes))


@cache
def google_taxonomy() -> Taxonomy:
    """The shipped taxonomy (parsed on first use, then shared)."""
    resource = files("engine.surfacing").joinpath("data", TAXONOMY_FILE)
    return parse_taxonomy(resource.read_text(encoding="utf-8"))

"""Product entities found in a listing and its reviews: brands, product types, attribute values.

- **Brands**: the product's own (``brand``, matched in any case) and the other known brands
  (the catalog's, passed in) when the text names them capitalised: "Coach" the brand, not
  "coach" the bus; "Global" the knife maker, not "global".
- **Product types**: names of taxonomy leaves found in the text, on stemmed words ("chef's
  knife" names Kitchen Knives, "frying pans" Skillets & Frying Pans). A leaf named "A & B"
  is found as A and as B; a part that is a modifier ("Kitchen" of "Kitchen & Dining Room
  Tables") is found only with the head noun ("kitchen tables"). A phrase that names more than
  :data:`MAX_TYPE_NODES` leaves ("accessories") says nothing and is not kept.
- **Attribute values**: colours, materials and sizes from the small vocabularies below, and
  measurements (a number and a unit: "55-inch", "750 ml").

Matching is on words (Unicode-aware, possessives dropped: "men's" is "men"), longest phrase
first, each word claimed once per kind. The memory module's ``canonical_name`` keys the brands.
For many products, build one :class:`EntityExtractor` and call it per product.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from threading import local
from types import MappingProxyType
from typing import Generic, Literal, TypeVar

import Stemmer

from engine.surfacing.product import Product
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode, google_taxonomy
from memory.entities import canonical_name

Field = Literal["title", "description", "highlights", "attributes", "product_type", "reviews"]
AttributeKind = Literal["color", "material", "size", "measurement"]
FIELDS: tuple[Field, ...] = (
    "title",
    "product_type",
    "highlights",
    "attributes",
    "description",
    "reviews",
)
MAX_TYPE_NODES = 3

# canonical value -> spellings (the canonical value is always one).
COLOURS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "black": ("jet black",),
        "white": ("off white", "off-white"),
        "grey": ("gray", "charcoal", "space grey", "space gray"),
        "silver": (),
        "gold": ("rose gold",),
        "red": ("ruby red", "crimson"),
        "burgundy": ("maroon", "wine red"),
        "pink": ("blush", "fuchsia"),
        "orange": ("coral",),
        "yellow": ("mustard",),
        "green": ("olive", "sage", "mint", "emerald", "forest green"),
        "blue": ("light blue", "sky blue", "royal blue", "cobalt"),
        "navy": ("navy blue",),
        "teal": ("turquoise",),
        "purple": ("lilac", "violet", "plum"),
        "brown": ("chocolate brown", "tan", "camel", "taupe"),
        "beige": ("cream", "ivory", "sand", "nude", "khaki"),
        "tortoiseshell": (),
        "sunburst": (),
        "multicolour": ("multicolor", "multi-colour", "multi-color"),
        "clear": ("transparent",),
    }
)
MATERIALS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "cotton": ("organic cotton", "egyptian cotton"),
        "linen": (),
        "wool": ("merino", "merino wool", "lambswool"),
        "cashmere": (),
        "silk": (),
        "polyester": (),
        "nylon": (),
        "elastane": ("spandex", "lycra"),
        "denim": (),
        "leather": ("genuine leather", "full-grain leather"),
        "faux leather": ("vegan leather", "pu leather"),
        "suede": (),
        "velvet": (),
        "fleece": (),
        "bamboo": (),
        "oak": (),
        "walnut": (),
        "pine": (),
        "teak": (),
        "wood": ("wooden", "solid wood"),
        "stainless steel": (),
        "steel": (),
        "cast iron": (),
        "aluminium": ("aluminum",),
        "brass": (),
        "copper": (),
        "sterling silver": (),
        "ceramic": (),
        "porcelain": (),
        "stoneware": (),
        "glass": (),
        "plastic": (),
        "rubber": (),
        "silicone": (),
        "marble": (),
        "rattan": (),
        "jute": (),
        "memory foam": (),
        "spruce": ("solid spruce",),
    }
)
# Letter sizes stand alone only from XS/XL up; S, M and L need a "size" cue ("size M").
_LETTER_SIZES = ("XXS", "XS", "XL", "XXL", "XXXL", "2XL", "3XL", "4XL", "5XL")
_SIZE_CUE = re.compile(
    r"\bsize\s*:?\s*(?P<size>XXS|XS|S|M|L|XL|XXL|XXXL|[2-5]XL|\d{1,2}(?:\.5)?)(?![\w.])"
    r"|\b(?P<region>UK|EU|US)\s?(?P<number>\d{1,2}(?:\.5)?)(?![\w.])"
    r"|\b(?P<letters>" + "|".join(_LETTER_SIZES) + r")\b"
    r"|\b(?P<named>one size|super king(?: size)?|king size|queen size|single bed|double bed)\b",
    re.IGNORECASE,
)
_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "inch": "in", "inches": "in", "in": "in", '"': "in", "\u201d": "in", "cm": "cm",
        "mm": "mm", "m": "m", "ft": "ft", "feet": "ft", "ml": "ml", "l": "l", "litre": "l",
        "liter": "l", "oz": "oz", "g": "g", "kg": "kg", "lb": "lb", "lbs": "lb", "w": "W",
        "v": "V", "mah": "mAh", "ah": "Ah", "gb": "GB", "tb": "TB", "mp": "MP", "hz": "Hz",
    }
)  # fmt: skip
_MEASURE = re.compile(
    r"(?<![\w.])(?P<number>\d+(?:[.,]\d+)?)\s?-?\s?(?P<unit>inch(?:es)?|in\b|[\"\u201d]|cm|mm|"
    r"ml|litre|liter|l|oz|kg|g|lbs?|ft|feet|m|w|v|mah|ah|gb|tb|mp|hz)(?![\w])",
    re.IGNORECASE,
)

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|&")
_POSSESSIVE = re.compile(r"['\u2019]s$")
_IRREGULAR = MappingProxyType(
    {
        "knives": "knife", "shelves": "shelf", "leaves": "leaf", "loaves": "loaf",
        "halves": "half", "scarves": "scarf", "wolves": "wolf", "calves": "calf",
        "hooves": "hoof", "wives": "wife", "men": "man", "women": "woman", "feet": "foot",
        "teeth": "tooth", "mice": "mouse", "geese": "goose", "children": "child",
    }
)  # fmt: skip
# bm25s's English stopwords, and the joiners of taxonomy names.
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
        "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
        "these", "they", "this", "to", "was", "will", "with", "&", "from",
    }
)  # fmt: skip
_stemmers = local()  # PyStemmer stemmers are not thread-safe: one per thread


def _stemmer() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _stemmers.english = stemmer
    return stemmer


def words(text: str) -> list[tuple[str, int]]:
    """(lower-case word without a possessive, its start offset) for each word of ``text``."""
    folded = unicodedata.normalize("NFKC", text)
    return [(_POSSESSIVE.sub("", m.group().casefold()), m.start()) for m in _WORD.finditer(folded)]


def stem(word: str) -> str:
    return str(_stemmer().stemWord(_IRREGULAR.get(word, word)))


def _indexed(word: str) -> bool:
    return len(word) > 1 and word not in STOPWORDS and not word.isdigit()


def index_terms(text: str) -> list[str]:
    """Stemmed words without stopwords, single characters or bare numbers: what product
    types are matched on and what the categoriser's BM25 indexes."""
    return [stem(w) for w, _ in words(text) if _indexed(w)]


K = TypeVar("K")


class _Phrases(Generic[K]):
    """Longest-first phrase lookup over word tuples."""

    def __init__(self, phrases: Mapping[tuple[str, ...], K]) -> None:
        self.phrases = dict(phrases)
        self.longest = max((len(p) for p in self.phrases), default=0)

    def find(self, tokens: Sequence[str]) -> Iterator[tuple[int, int, K]]:
        i = 0
        while i < len(tokens):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                value = self.phrases.get(tuple(tokens[i : i + n]))
                if value is not None:
                    yield i, i + n, value
                    i += n
                    break
            else:
                i += 1


@dataclass(frozen=True)
class BrandMention:
    name: str  # as the catalog spells it
    own: bool  # the product's own brand
    fields: tuple[Field, ...]  # where the text names it; () for an own brand never named


@dataclass(frozen=True)
class TypeMention:
    phrase: str  # as found ("frying pans")
    nodes: tuple[TaxonomyNode, ...]  # the leaves it names (usually one)
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class AttributeMention:
    kind: AttributeKind
    value: str  # canonical ("grey" for "gray", "55 in" for "55-inch")
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class ProductEntities:
    brands: tuple[BrandMention, ...]  # the own brand first
    product_types: tuple[TypeMention, ...]
    attributes: tuple[AttributeMention, ...]

    def values(self, kind: AttributeKind) -> tuple[str, ...]:
        return tuple(a.value for a in self.attributes if a.kind == kind)

    @property
    def colors(self) -> tuple[str, ...]:
        return self.values("color")

    @property
    def materials(self) -> tuple[str, ...]:
        return self.values("material")

    @property
    def sizes(self) -> tuple[str, ...]:
        return self.values("size")


def _vocabulary(table: Mapping[str, tuple[str, ...]]) -> _Phrases[str]:
    phrases: dict[tuple[str, ...], str] = {}
    for canonical, spellings in table.items():
        for spelling in (canonical, *spellings):
            phrases[tuple(w for w, _ in words(spelling))] = canonical
    return _Phrases(phrases)


_COLOUR_PHRASES = _vocabulary(COLOURS)
_MATERIAL_PHRASES = _vocabulary(MATERIALS)


def _name_phrases(name: str) -> list[str]:
    """The phrases a leaf name is found by: the whole name and its "&"/"," parts. A one-word
    last part after a longer one shares its modifiers ("Hair Forks & Sticks" are hair sticks)
    and is not found alone; a one-word material or colour ("Leather" of "Leather & Vinyl")
    says what a thing is made of, not what it is."""
    parts = [p.strip() for p in re.split(r"\s*(?:&|,)\s*", name) if p.strip()]
    if len(parts) < 2:
        return [name]
    head = parts[-1].split()[-1]
    longer = any(len(p.split()) > 1 for p in parts[:-1])
    found = [name]
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        single = len(part.split()) == 1
        if single and ((last and longer) or _describes(part)):
            continue
        found.append(part)
        if not last and not part.casefold().endswith("s"):
            found.append(f"{part} {head}")  # "Kitchen" of "Kitchen & Dining Room Tables"
    return found


def _describes(word: str) -> bool:
    key = tuple(w for w, _ in words(word))
    return key in _COLOUR_PHRASES.phrases or key in _MATERIAL_PHRASES.phrases


@cache
def _type_phrases(taxonomy: Taxonomy) -> _Phrases[tuple[TaxonomyNode, ...]]:
    leaves = taxonomy.leaves()
    # Words that open other leaves' names ("Kitchen Scales", "Kitchen Towels") are modifiers:
    # alone they name no product type.
    openers: dict[str, int] = {}
    for leaf in leaves:
        first = leaf.name.split()
        if len(first) > 1:
            opener = stem(first[0].casefold())
            openers[opener] = openers.get(opener, 0) + 1
    table: dict[tuple[str, ...], list[TaxonomyNode]] = {}
    for leaf in leaves:
        for phrase in _name_phrases(leaf.name):
            terms = tuple(index_terms(phrase))
            modifier = len(terms) == 1 and openers.get(terms[0], 0) >= 2 and phrase != leaf.name
            if not terms or modifier:
                continue
            nodes = table.setdefault(terms, [])
            if leaf not in nodes:
                nodes.append(leaf)
    return _Phrases({k: tuple(v) for k, v in table.items() if len(v) <= MAX_TYPE_NODES})


def _texts(product: Product) -> Iterator[tuple[Field, str]]:
    yield "title", product.title
    if product.product_type:
        yield "product_type", product.product_type.replace(">", " , ")
    for highlight in product.highlights:
        yield "highlights", highlight
    for value in product.attributes.values():
        yield "attributes", value
    if product.description:
        yield "description", product.description
    for review in product.reviews.texts if product.reviews else ():
        yield "reviews", review


class _Found(Generic[K]):
    """First-seen order, the fields each entity was seen in."""

    def __init__(self) -> None:
        self.fields: dict[K, list[Field]] = {}

    def add(self, key: K, field: Field) -> None:
        seen = self.fields.setdefault(key, [])
        if field not in seen:
            seen.append(field)

    def items(self) -> Iterable[tuple[K, tuple[Field, ...]]]:
        return ((k, tuple(sorted(v, key=FIELDS.index))) for k, v in self.fields.items())


class EntityExtractor:
    """Built once per catalog (its brands) and taxonomy; :meth:`extract` per product."""

    def __init__(self, known_brands: Collection[str] = (), taxonomy: Taxonomy | None = None):
        self.taxonomy = taxonomy or google_taxonomy()
        self._types = _type_phrases(self.taxonomy)
        brands: dict[tuple[str, ...], str] = {}
        for brand in known_brands:
            key = tuple(w for w, _ in words(canonical_name(brand)))
            if key:
                brands.setdefault(key, brand.strip())
        self._brands = _Phrases(brands)

    def extract(self, product: Product) -> ProductEntities:
        own_key = tuple(w for w, _ in words(canonical_name(product.brand or "")))
        own = _Phrases({own_key: product.brand or ""} if own_key else {})
        own_fields: _Found[str] = _Found()
        others: _Found[str] = _Found()
        types: _Found[tuple[TaxonomyNode, ...]] = _Found()
        phrases: dict[tuple[TaxonomyNode, ...], str] = {}
        attributes: _Found[tuple[AttributeKind, str]] = _Found()
        for field, text in _texts(product):
            found = words(text)
            tokens = [w for w, _ in found]
            for _, _, brand in own.find(tokens):
                own_fields.add(brand, field)
            for start, _, brand in self._brands.find(tokens):
                first = text_at(text, found[start][1])
                if brand != product.brand and (first.isupper() or first.isdigit()):
                    others.add(brand, field)
            kept = [i for i, w in enumerate(tokens) if _indexed(w)]
            for start, end, nodes in self._types.find([stem(tokens[i]) for i in kept]):
                phrases.setdefault(nodes, " ".join(tokens[kept[start] : kept[end - 1] + 1]))
                types.add(nodes, field)
            for _, _, colour in _COLOUR_PHRASES.find(tokens):
                attributes.add(("color", colour), field)
            for _, _, material in _MATERIAL_PHRASES.find(tokens):
                attributes.add(("material", material), field)
            for size in _sizes(text):
                attributes.add(("size", size), field)
            for measure in _measurements(text):
                attributes.add(("measurement", measure), field)
        brands: list[BrandMention] = []
        if product.brand and product.brand.strip():
            fields = next((f for _, f in own_fields.items()), ())
            brands.append(BrandMention(product.brand.strip(), True, fields))
        own_name = canonical_name(product.brand or "")
        brands += [
            BrandMention(b, False, f) for b, f in others.items() if canonical_name(b) != own_name
        ]
        return ProductEntities(
            brands=tuple(brands),
            product_types=tuple(TypeMention(phrases[n], n, f) for n, f in types.items()),
            attributes=tuple(AttributeMention(k, v, f) for (k, v), f in attributes.items()),
        )


def text_at(text: str, offset: int) -> str:
    """The character of the NFKC-normalised ``text`` at ``offset`` (where a word starts)."""
    return unicodedata.normalize("NFKC", text)[offset : offset + 1]


def _sizes(text: str) -> Iterator[str]:
    for m in _SIZE_CUE.finditer(text):
        if m["size"]:
            yield m["size"].upper()
        elif m["region"]:
            yield f"{m['region'].upper()} {m['number']}"
        elif m["letters"]:
            if m["letters"].isupper():  # "xl" in running text is rarely a size
                yield m["letters"]
        elif m["named"]:
            yield m["named"].casefold()


def _measurements(text: str) -> Iterator[str]:
    for m in _MEASURE.finditer(text):
        unit = _UNITS[m["unit"].casefold()]
        yield f"{m['number'].replace(',', '.')} {unit}"


@lru_cache(maxsize=8)
def _extractor(brands: frozenset[str], taxonomy: Taxonomy | None) -> EntityExtractor:
    return EntityExtractor(brands, taxonomy)


def extract_entities(
    product: Product, *, known_brands: Collection[str] = (), taxonomy: Taxonomy | None = None
) -> ProductEntities:
    """The product's entities; ``known_brands`` are the catalog's brands (others' included)."""
    return _extractor(frozenset(known_brands), taxonomy).extract(product)

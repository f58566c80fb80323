"""The specifications the checks enforce: where each rule comes from, and its figures.

Limits are as the cited pages state them: Merchant Center titles up to 150 characters,
descriptions up to 5,000, up to 100 product highlights of up to 150 characters each (at least 2
recommended), identifiers per the GTIN page, and the attributes required for apparel.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from engine.surfacing.findings import RuleSource
from engine.surfacing.taxonomy import TaxonomyNode

_GMC = "https://support.google.com/merchants/answer/"

SPEC: Mapping[str, RuleSource] = MappingProxyType(
    {
        "identity": RuleSource(
            "Google Merchant Center product data specification", f"{_GMC}7052112"
        ),
        "title": RuleSource("Google Merchant Center: title [title]", f"{_GMC}6324415"),
        "description": RuleSource(
            "Google Merchant Center: description [description]", f"{_GMC}6324468"
        ),
        "gtin": RuleSource("Google Merchant Center: GTIN [gtin]", f"{_GMC}6324461"),
        "brand": RuleSource("Google Merchant Center: brand [brand]", f"{_GMC}6324351"),
        "mpn": RuleSource("Google Merchant Center: MPN [mpn]", f"{_GMC}6324482"),
        "category": RuleSource(
            "Google Merchant Center: Google product category [google_product_category]",
            f"{_GMC}6324436",
        ),
        "highlights": RuleSource(
            "Google Merchant Center: product highlight [product_highlight]", f"{_GMC}9216100"
        ),
        "item_group_id": RuleSource(
            "Google Merchant Center: item group ID [item_group_id]", f"{_GMC}6324507"
        ),
        "apparel": RuleSource(
            "Google Merchant Center: apparel products (color, size, gender, age_group)",
            f"{_GMC}6324466",
        ),
        "ratings": RuleSource("Google Merchant Center: product ratings", f"{_GMC}6059553"),
        "markup": RuleSource(
            "Google Search Central: merchant listing structured data",
            "https://developers.google.com/search/docs/appearance/structured-data/merchant-listing",
        ),
        "openai_feed": RuleSource(
            "OpenAI product feed specification", "https://developers.openai.com/commerce/specs/feed"
        ),
        "amazon_title": RuleSource(
            "Amazon product title requirements",
            "https://sellercentral.amazon.com/help/hub/reference/external/GYTR6SYGFA5E3EQC",
        ),
        "policy": RuleSource(
            "Google Merchant Center: misrepresentation and editorial policies",
            "https://support.google.com/merchants/answer/6150127",
        ),
        "attributes": RuleSource(
            "Google Merchant Center: title composition (include distinguishing attributes)",
            f"{_GMC}6324415",
        ),
    }
)

TITLE_MAX = 150
# Floors below which a title or description says too little (ours, not a specification's).
TITLE_MIN_RECOMMENDED = 30
DESCRIPTION_MAX = 5000
DESCRIPTION_MIN_RECOMMENDED = (
    150  # Merchant Center: "500-1,000 characters" works best; 150 is a floor
)
HIGHLIGHT_MAX = 150
HIGHLIGHTS_MIN = 2
HIGHLIGHTS_MAX = 100

# Merchant Center requires these for apparel sold in the countries it lists (answer 6324466).
_REQUIRED_BY_TOP_LEVEL: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"Apparel & Accessories": ("color", "size", "gender", "age_group")}
)
# Within apparel, Merchant Center asks size only of clothing and shoes.
_SIZED = ("Clothing", "Shoes")


def required_attributes(node: TaxonomyNode) -> tuple[str, ...]:
    required = _REQUIRED_BY_TOP_LEVEL.get(node.top_level, ())
    if required and len(node.path) > 1 and node.path[1] not in _SIZED:
        return tuple(a for a in required if a != "size")
    return required


# Promotional words Merchant Center's title and description rules forbid, per language.
PROMO_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "en": (
            "free shipping",
            "sale",
            "best price",
            "cheapest",
            "cheap",
            "discount",
            "% off",
            "buy now",
            "limited time",
            "best seller",
            "bestseller",
            "hot deal",
            "deal",
            "clearance",
            "lowest price",
            "free delivery",
            "order now",
        ),
        "es": (
            "envío gratis",
            "oferta",
            "rebajas",
            "descuento",
            "mejor precio",
            "barato",
            "compra ya",
        ),
        "fr": ("livraison gratuite", "promo", "soldes", "réduction", "meilleur prix", "pas cher"),
        "de": ("kostenloser versand", "angebot", "rabatt", "sale", "bester preis", "günstig"),
        "it": (
            "spedizione gratuita",
            "offerta",
            "saldi",
            "sconto",
            "miglior prezzo",
            "economico",
        ),
        "pt": ("frete grátis", "oferta", "promoção", "desconto", "melhor preço", "barato"),
        "nl": (
            "gratis verzending",
            "aanbieding",
            "korting",
            "uitverkoop",
            "beste prijs",
            "goedkoop",
        ),
        "ja": ("送料無料", "セール", "激安", "最安値", "割引", "特価"),
        "zh": ("包邮", "免运费", "特价", "促销", "打折", "最低价"),
        "ar": ("شحن مجاني", "تخفيض", "خصم", "عرض", "أفضل سعر"),
    }
)

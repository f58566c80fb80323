"""The rules the feed checklist and the manipulation lint enforce: where each is stated, its
figures, the category-required attributes, and the per-language word lists.

Figures are quoted from the pages named in :data:`SOURCES` as they read when this was written;
where a figure is ours (a floor of LiftOS', not a specification's) or unconfirmed, the comment
next to it says so. Word lists are deliberately short: each entry must be promotional in every
product context of its language, because a title with promotional text is a high-severity
finding (Italian "sale" is salt and French "sale" is dirty, so neither list holds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.surfacing.findings import RuleSource
from engine.surfacing.taxonomy import TaxonomyNode

_GMC = "https://support.google.com/merchants/answer/"
_SPAM = "https://developers.google.com/search/docs/essentials/spam-policies"

GMC_SPEC = RuleSource("Google Merchant Center: product data specification", f"{_GMC}7052112")
GMC_TITLE = RuleSource("Google Merchant Center: title [title]", f"{_GMC}6324415")
GMC_DESCRIPTION = RuleSource("Google Merchant Center: description [description]", f"{_GMC}6324468")
GMC_GTIN = RuleSource("Google Merchant Center: GTIN [gtin]", f"{_GMC}6324461")
GMC_GTIN_RESTRICTED = RuleSource(
    "Google Merchant Center: unsupported value due to restricted prefix [gtin]",
    f"{_GMC}6286293",
)
GMC_GTIN_COUPON = RuleSource(
    "Google Merchant Center: unsupported coupon value [gtin]", f"{_GMC}6286302"
)
GMC_BRAND = RuleSource("Google Merchant Center: brand [brand]", f"{_GMC}6324351")
GMC_CATEGORY = RuleSource(
    "Google Merchant Center: Google product category [google_product_category]",
    f"{_GMC}6324436",
)
GMC_HIGHLIGHT = RuleSource(
    "Google Merchant Center: product highlight [product_highlight]", f"{_GMC}9216100"
)
GMC_RATINGS = RuleSource("Google Merchant Center: product ratings", f"{_GMC}6059553")
GMC_ITEM_GROUP = RuleSource(
    "Google Merchant Center: item group ID [item_group_id]", f"{_GMC}6324507"
)
GMC_MISREPRESENTATION = RuleSource(
    "Google Merchant Center: misrepresentation policy", f"{_GMC}6150127"
)
MERCHANT_LISTING = RuleSource(
    "Google Search Central: merchant listing (Product) structured data",
    "https://developers.google.com/search/docs/appearance/structured-data/merchant-listing",
)
OPENAI_FEED = RuleSource(
    "OpenAI product feed specification", "https://developers.openai.com/commerce/specs/feed"
)
AMAZON_TITLE = RuleSource(
    "Amazon Seller Central: product title requirements",
    "https://sellercentral.amazon.com/help/hub/reference/external/GYTR6SYGFA5E3EQC",
)
SPAM_HIDDEN_TEXT = RuleSource(
    "Google Search spam policies: hidden text and links", f"{_SPAM}#hidden-text-and-links"
)
SPAM_KEYWORD_STUFFING = RuleSource(
    "Google Search spam policies: keyword stuffing", f"{_SPAM}#keyword-stuffing"
)
# No retail specification names text addressed to AI readers; OWASP's LLM Top 10 is where
# indirect prompt injection (instructions planted in content a model reads) is defined.
PROMPT_INJECTION = RuleSource(
    "OWASP Top 10 for LLM Applications: LLM01 prompt injection (indirect)",
    "https://genai.owasp.org/llmrisk/llm01-prompt-injection/",
)

SOURCES: Mapping[str, RuleSource] = MappingProxyType(
    {
        "gmc_spec": GMC_SPEC,
        "gmc_title": GMC_TITLE,
        "gmc_description": GMC_DESCRIPTION,
        "gmc_gtin": GMC_GTIN,
        "gmc_gtin_restricted": GMC_GTIN_RESTRICTED,
        "gmc_gtin_coupon": GMC_GTIN_COUPON,
        "gmc_brand": GMC_BRAND,
        "gmc_category": GMC_CATEGORY,
        "gmc_highlight": GMC_HIGHLIGHT,
        "gmc_item_group": GMC_ITEM_GROUP,
        "gmc_ratings": GMC_RATINGS,
        "gmc_misrepresentation": GMC_MISREPRESENTATION,
        "merchant_listing": MERCHANT_LISTING,
        "openai_feed": OPENAI_FEED,
        "amazon_title": AMAZON_TITLE,
        "spam_hidden_text": SPAM_HIDDEN_TEXT,
        "spam_keyword_stuffing": SPAM_KEYWORD_STUFFING,
        "prompt_injection": PROMPT_INJECTION,
    }
)


def _set(text: str) -> frozenset[str]:
    """The space-separated words of ``text`` (word lists stay readable as one string)."""
    return frozenset(text.split())


# --- Figures -------------------------------------------------------------------------------
TITLE_MAX = 150  # GMC title: "1-150 characters" (the OpenAI feed's title limit is also 150)
AMAZON_TITLE_MAX = 200  # Amazon: "must not exceed 200 characters, including spaces"
AMAZON_WORD_REPEATS_MAX = 2  # Amazon: a word at most twice, bar prepositions/articles/conjunctions
AMAZON_FORBIDDEN_CHARACTERS = "!$?_{}^¬¦"  # Amazon's list of characters titles must not use
DESCRIPTION_MAX = 5000  # GMC description: "1-5,000 characters"
DESCRIPTION_MIN = 100  # ours: below this a description cannot name features, materials and uses
DESCRIPTION_MIN_UNSPACED = 40  # ours, for Japanese and Chinese, whose characters say more each
HIGHLIGHT_MAX_CHARS = 150  # GMC product_highlight: "1-150 characters" per highlight
HIGHLIGHTS_MIN = 2  # GMC: "minimum of 2 and a maximum of 100" highlights; 4-6 recommended
HIGHLIGHTS_MAX = 100
HIGHLIGHTS_RECOMMENDED = (4, 6)
# GMC id: 50 characters is the limit the id page states as we read it (not re-confirmed
# here); OpenAI's feed allows 100 for its item id. We flag above the stricter of the two.
ID_MAX = 50
GTIN_LENGTHS = (8, 12, 13, 14)  # GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN), GTIN-14
# GMC answer 6286293: GTINs starting "2", "02" or "04" are restricted ("the first digit of a
# 14-digit GTIN is not considered a part of a prefix").
GTIN_RESTRICTED_PREFIXES = ("2", "02", "04")
# GMC answer 6286302: coupon GTINs start "981", "982", "983", "984", "99" or "05".
GTIN_COUPON_PREFIXES = ("981", "982", "983", "984", "99", "05")
# The tolerance between the page's price and the feed's before they "disagree": ours (issue
# 13). Google states no figure; its price rule is that the two match.
PRICE_TOLERANCE = 0.005

# GMC brand: "Required for all new products, except movies, books, and musical recording
# brands"; they sit under the taxonomy's Media branch.
BRAND_EXEMPT_TOP_LEVEL = "Media"

# --- Attributes ----------------------------------------------------------------------------
# GMC item_group_id: the attributes variants of one group may differ in.
VARIANT_ATTRIBUTES = ("color", "size", "pattern", "material", "age_group", "gender")
# Attributes whose values are words a shopper types, so the text should carry them.
DESCRIPTIVE_ATTRIBUTES = ("color", "material", "pattern", "size")


@dataclass(frozen=True)
class CategoryRequirement:
    """Attributes Merchant Center requires of every product under ``path`` (a taxonomy path
    prefix), with where that is stated and any condition on it."""

    path: tuple[str, ...]
    attributes: tuple[str, ...]
    source: RuleSource
    condition: str


# The GMC specification's color, size, gender and age_group rows: required for apparel in
# feeds targeting Brazil, France, Germany, Japan, the United Kingdom and the United States;
# size only for clothing and shoes.
_APPAREL_COUNTRIES = "for apparel in feeds targeting BR, FR, DE, JP, UK and US"
CATEGORY_REQUIREMENTS: tuple[CategoryRequirement, ...] = (
    CategoryRequirement(
        ("Apparel & Accessories",), ("color", "gender", "age_group"), GMC_SPEC, _APPAREL_COUNTRIES
    ),
    CategoryRequirement(
        ("Apparel & Accessories", "Clothing"), ("size",), GMC_SPEC, _APPAREL_COUNTRIES
    ),
    CategoryRequirement(
        ("Apparel & Accessories", "Shoes"), ("size",), GMC_SPEC, _APPAREL_COUNTRIES
    ),
)


def category_requirements(node: TaxonomyNode) -> tuple[CategoryRequirement, ...]:
    """The requirements that apply to a product in ``node`` (every prefix that matches)."""
    return tuple(r for r in CATEGORY_REQUIREMENTS if node.path[: len(r.path)] == r.path)


def required_attributes(node: TaxonomyNode) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for r in category_requirements(node) for a in r.attributes))


# Labels for highlights built from attributes, per supported language.
ATTRIBUTE_LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": {"color": "Color", "material": "Material", "pattern": "Pattern", "size": "Size"},
        "es": {"color": "Color", "material": "Material", "pattern": "Estampado", "size": "Talla"},
        "fr": {"color": "Couleur", "material": "Matière", "pattern": "Motif", "size": "Taille"},
        "de": {"color": "Farbe", "material": "Material", "pattern": "Muster", "size": "Größe"},
        "it": {
            "color": "Colore",
            "material": "Materiale",
            "pattern": "Fantasia",
            "size": "Taglia",
        },
        "pt": {"color": "Cor", "material": "Material", "pattern": "Padrão", "size": "Tamanho"},
        "nl": {"color": "Kleur", "material": "Materiaal", "pattern": "Patroon", "size": "Maat"},
        "ja": {"color": "カラー", "material": "素材", "pattern": "柄", "size": "サイズ"},
        "zh": {"color": "颜色", "material": "材质", "pattern": "图案", "size": "尺码"},
        "ar": {"color": "اللون", "material": "الخامة", "pattern": "النقشة", "size": "المقاس"},
    }
)

# --- Promotional text ----------------------------------------------------------------------


@dataclass(frozen=True)
class PromoTerms:
    """One language's promotional text. ``phrases`` are promotional wherever they appear
    (shipping, sale, discount, calls to buy); ``superlatives`` are subjective praise that is
    promotional in a title but ordinary in prose ("works best with"); ``patterns`` are
    regular expressions for discounts written with numbers."""

    phrases: tuple[str, ...]
    superlatives: tuple[str, ...]
    patterns: tuple[str, ...]


_MINUS_PERCENT = r"(?<![\w.])-\s?\d{1,2}\s?%(?!\w)"  # "-30%", used as "30 % off" across Europe

PROMO: Mapping[str, PromoTerms] = MappingProxyType(
    {
        "en": PromoTerms(
            phrases=(
                "free shipping",
                "free delivery",
                "ships free",
                "clearance",
                "discount",
                "discounted",
                "lowest price",
                "best price",
                "cheapest",
                "bargain",
                "limited time",
                "limited offer",
                "special offer",
                "hot deal",
                "deal of the day",
                "buy now",
                "order now",
                "shop now",
                "buy one get one",
                "coupon",
                "promo code",
                "100% quality guaranteed",
            ),
            superlatives=(
                "best",
                "best seller",
                "bestseller",
                "best-selling",
                "cheap",
                "deal",
                "hot item",
                "must-have",
                "must have",
                "amazing",
            ),
            patterns=(
                r"(?<!\bnot for )(?<!\bnot )\bsale\b",  # bar "not for sale in California"
                r"\bships?\s+(?:in|within|today|worldwide|next[- ]day)\b",
                r"\b(?:next|same)[- ]day\s+(?:delivery|shipping|dispatch)\b",
                r"\b\d{1,3}\s?%\s*off\b",
                r"\bsave\s+(?:up\s+to\s+)?(?:\d{1,3}\s?%|[$€£]\s?\d+)",
                _MINUS_PERCENT,
            ),
        ),
        "es": PromoTerms(
            phrases=(
                "envío gratis",
                "envío gratuito",
                "oferta",
                "ofertas",
                "rebajas",
                "rebajado",
                "rebajada",
                "descuento",
                "liquidación",
                "promoción",
                "mejor precio",
                "precio más bajo",
                "compra ya",
                "cupón",
                "tiempo limitado",
            ),
            superlatives=("el mejor", "la mejor", "los mejores", "las mejores", "más vendido"),
            patterns=(r"\d{1,3}\s?%\s*(?:de\s+)?(?:descuento|dto)\b", _MINUS_PERCENT),
        ),
        "fr": PromoTerms(
            phrases=(
                "livraison gratuite",
                "livraison offerte",
                "frais de port offerts",
                "promo",
                "promotion",
                "soldes",
                "en solde",
                "réduction",
                "prix cassé",
                "prix cassés",
                "meilleur prix",
                "pas cher",
                "bon plan",
                "déstockage",
                "offre spéciale",
                "code promo",
                "durée limitée",
            ),
            superlatives=(
                "le meilleur",
                "la meilleure",
                "les meilleurs",
                "les meilleures",
                "meilleure vente",
                "meilleures ventes",
            ),
            patterns=(r"\d{1,3}\s?%\s*de\s+réduction", _MINUS_PERCENT),
        ),
        "de": PromoTerms(
            phrases=(
                "kostenloser versand",
                "versandkostenfrei",
                "gratis versand",
                "sonderangebot",
                "angebot",
                "rabatt",
                "reduziert",
                "ausverkauf",
                "schnäppchen",
                "sale",
                "bestpreis",
                "bester preis",
                "tiefpreis",
                "jetzt kaufen",
                "gutschein",
                "nur für kurze zeit",
            ),
            superlatives=("der beste", "die beste", "das beste", "bestseller", "günstig"),
            patterns=(r"\d{1,3}\s?%\s*rabatt", _MINUS_PERCENT),
        ),
        "it": PromoTerms(
            phrases=(
                "spedizione gratuita",
                "spedizione gratis",
                "offerta",
                "offerte",
                "saldi",
                "sconto",
                "scontato",
                "scontata",
                "promozione",
                "miglior prezzo",
                "prezzo più basso",
                "compra ora",
                "codice sconto",
                "tempo limitato",
            ),
            superlatives=("il migliore", "la migliore", "i migliori", "le migliori", "più venduto"),
            patterns=(r"\d{1,3}\s?%\s*(?:di\s+)?sconto", r"sconto\s+(?:del\s+)?\d{1,3}\s?%"),
        ),
        "pt": PromoTerms(
            phrases=(
                "frete grátis",
                "envio grátis",
                "portes grátis",
                "entrega grátis",
                "oferta",
                "promoção",
                "desconto",
                "liquidação",
                "melhor preço",
                "menor preço",
                "compre já",
                "compre agora",
                "cupom",
                "tempo limitado",
            ),
            superlatives=("o melhor", "a melhor", "os melhores", "as melhores", "mais vendido"),
            patterns=(
                r"\d{1,3}\s?%\s*(?:de\s+)?desconto",
                r"\b\d{1,3}\s?%\s*off\b",
                _MINUS_PERCENT,
            ),
        ),
        "nl": PromoTerms(
            phrases=(
                "gratis verzending",
                "gratis bezorging",
                "aanbieding",
                "korting",
                "uitverkoop",
                "opruiming",
                "sale",
                "beste prijs",
                "laagste prijs",
                "koop nu",
                "nu kopen",
                "kortingscode",
            ),
            superlatives=("de beste", "het beste", "bestseller", "goedkoopste"),
            patterns=(r"\d{1,3}\s?%\s*korting", _MINUS_PERCENT),
        ),
        # Japanese and Chinese are matched as substrings (no spaces between words).
        "ja": PromoTerms(
            phrases=(
                "送料無料",
                "セール",
                "激安",
                "最安値",
                "割引",
                "特価",
                "お買い得",
                "半額",
                "クーポン",
                "タイムセール",
            ),
            superlatives=("ランキング1位", "人気No.1", "大人気", "売れ筋"),
            patterns=(r"\d{1,3}\s?%\s?(?:オフ|OFF|off)", r"ポイント\d+倍"),
        ),
        "zh": PromoTerms(
            phrases=(
                "包邮",
                "免运费",
                "特价",
                "促销",
                "打折",
                "折扣",
                "最低价",
                "秒杀",
                "清仓",
                "优惠券",
            ),
            superlatives=("热卖", "爆款", "销量第一"),
            # "5折" is 50 % off; 折叠 (folding) is not.
            patterns=(r"\d(?:\.\d)?\s?折(?![叠纸])", r"满\d+减\d+"),
        ),
        "ar": PromoTerms(
            phrases=(
                "شحن مجاني",
                "توصيل مجاني",
                "تخفيض",
                "تخفيضات",
                "خصم",
                "عرض خاص",
                "عروض",
                "أفضل سعر",
                "أقل سعر",
                "اشتر الآن",
                "لفترة محدودة",
                "كوبون",
            ),
            superlatives=("الأفضل", "الأكثر مبيعا", "الأكثر مبيعًا"),
            patterns=(r"\d{1,3}\s?%\s*خصم", r"خصم\s*\d{1,3}\s?%"),
        ),
    }
)

# Articles, prepositions and conjunctions, which Amazon lets a title repeat; with numbers and
# units they are left out of the repeated-word count.
FUNCTION_WORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "en": _set(
            "a an the and or but nor for with without of in on at to from by into over under per as"
        ),
        "es": _set("el la los las un una unos unas y o e u de del al con sin para por en a"),
        "fr": _set("le la les l un une des du de d et ou en au aux à avec sans pour par sur dans"),
        "de": _set(
            "der die das den dem des ein eine einer eines einem einen und oder mit ohne für von "
            "aus zu zum zur in im am an auf bei"
        ),
        "it": _set(
            "il lo la i gli le l un uno una e o di del della dello dei degli delle da dal con "
            "senza per in nel nella su a al alla"
        ),
        "pt": _set(
            "o a os as um uma uns umas e ou de do da dos das em no na nos nas com sem para por ao à"
        ),
        "nl": _set("de het een en of met zonder voor van in op aan bij uit tot te"),
        "ar": _set("في من مع على إلى عن و أو"),
    }
)
UNITS = _set("x mm cm m km in inch inches ft oz lb lbs g kg mg ml cl l w v mah gb tb hz")

# --- English word lists (English-only checks; see engine.surfacing.language) ---------------
# Colour words that name only a colour in product text: "gold", "silver", "rose", "orange",
# "cream", "olive", "wine" and "coffee" are left out because they also name materials,
# flavours and product types.
COLORS_EN = _set(
    "black white red blue green yellow purple pink brown grey gray beige navy turquoise "
    "maroon violet ivory burgundy teal khaki lavender magenta"
)
GENDER_WORDS_EN: Mapping[str, str] = MappingProxyType(
    {
        "men": "male",
        "men's": "male",
        "mens": "male",
        "man's": "male",
        "male": "male",
        "women": "female",
        "women's": "female",
        "womens": "female",
        "woman's": "female",
        "ladies": "female",
        "ladies'": "female",
        "female": "female",
    }
)
# Nouns a title uses for a taxonomy leaf that names none of them (checked only for English).
TYPE_SYNONYMS_EN: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "shoe": _set(
            "boot sneaker trainer sandal loafer heel pump slipper clog moccasin espadrille "
            "mule oxford brogue flat"
        ),
        "top": _set("t-shirt tee blouse polo tank tunic camisole henley jersey"),
        "pant": _set("trouser jean chino legging jogger slack"),
        "outerwear": _set("coat jacket parka anorak raincoat gilet vest poncho"),
        "headphone": _set("earphone earbud headset"),
        "table": _set("desk"),
        "drinkware": _set("cup glass tumbler bottle"),
        "book": _set("novel paperback hardcover hardback"),
    }
)

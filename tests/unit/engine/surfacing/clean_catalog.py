"""A realistic clean catalog: 24 products of varied categories and eight languages, written
the way honest merchants write (HTML descriptions, an INCI ingredient list, a phone case's
compatible models, emoji with joiners, a Welsh flag, Shopify's ``<!-- split -->``, Italian
"sale" meaning salt, a claim the reviews back, a door stop that "fits 9 out of 10" frames).

Imported by path (``from tests.unit.engine.surfacing.clean_catalog import CLEAN``) by the
checklist and lint tests, which require no high-severity finding and no hard fail of it.
"""

from __future__ import annotations

from stdnum import ean

from engine.surfacing.product import PageMarkup, Product, Reviews


def gtin(base: str) -> str:
    """A GTIN-13 with its GS1 check digit, from 12 digits (prefixes outside the restricted
    and coupon ranges)."""
    return base + ean.calc_check_digit(base)


def _product(number: int, **fields: object) -> Product:
    defaults: dict[str, object] = {
        "id": f"sku-{number:03d}",
        "price": 20.0 + number,
        "currency": "USD",
        "availability": "in_stock",
        "link": f"https://shop.example.com/products/{number}",
        "image_link": f"https://cdn.example.com/images/{number}.jpg",
        "gtin": gtin(f"40063813{number:04d}"),
    }
    defaults.update(fields)
    return Product(**defaults)  # type: ignore[arg-type]


CLEAN: tuple[Product, ...] = (
    _product(
        1,
        title="Lumen brass table lamp with linen shade",
        brand="Lumen",
        description=(
            "<p>A table lamp with a solid brass base in a brushed gold finish and a natural linen "
            "shade.</p>"
            "<ul><li>E27 bulb holder, up to 40 W</li><li>Fabric cable, 1.8 m, with an inline "
            "switch</li></ul><p>Height 48 cm; the shade is 30 cm across.</p>"
        ),
        google_product_category="4636",
        attributes={"material": "brass", "color": "gold"},
        highlights=("Solid brass base", "Natural linen shade", "Inline switch on the cable"),
        markup=PageMarkup(
            name="Lumen brass table lamp with linen shade",
            price=21.0,
            currency="USD",
            availability="in_stock",
            brand="Lumen",
        ),
    ),
    _product(
        2,
        title="Nordhem oak dining table for six, 180 cm",
        brand="Nordhem",
        description=(
            "Dining table in solid European oak with an oiled finish. The top measures 180 x 90 "
            "cm and seats six; the legs are bolted on, so it assembles in ten minutes."
        ),
        google_product_category="4355",
        attributes={"material": "oak"},
        highlights=("Solid oak, oiled finish", "Seats six", "Assembles in ten minutes"),
    ),
    _product(
        3,
        title="Kiln blue stoneware coffee mug, 350 ml",
        brand="Kiln",
        description=(
            "A stoneware mug glazed in deep blue, thrown on the wheel and fired at 1,240 °C. "
            "Holds 350 ml; dishwasher and microwave safe."
        ),
        google_product_category="2169",
        attributes={"color": "blue", "material": "stoneware"},
        highlights=("Holds 350 ml", "Dishwasher and microwave safe"),
        reviews=Reviews(rating=4.6, count=128),
    ),
    _product(
        4,
        title="Loom men's blue linen shirt, size M",
        brand="Loom",
        description=(
            "A relaxed shirt in washed linen with a button-down collar and a chest pocket. "
            "Breathable and soft from the first wear; machine wash at 30 °C."
        ),
        google_product_category="212",
        attributes={
            "color": "blue",
            "size": "M",
            "gender": "male",
            "age_group": "adult",
            "material": "linen",
        },
        highlights=("Washed linen", "Button-down collar", "Machine washable"),
        item_group_id="loom-shirt",
    ),
    _product(
        5,
        title="Loom men's blue linen shirt, size L",
        brand="Loom",
        description=(
            "A relaxed shirt in washed linen with a button-down collar and a chest pocket. "
            "Breathable and soft from the first wear; machine wash at 30 °C."
        ),
        google_product_category="212",
        attributes={
            "color": "blue",
            "size": "L",
            "gender": "male",
            "age_group": "adult",
            "material": "linen",
        },
        highlights=("Washed linen", "Button-down collar", "Machine washable"),
        item_group_id="loom-shirt",
    ),
    _product(
        6,
        title="Trailhead brown leather hiking boots, size 42",
        brand="Trailhead",
        description=(
            "Waterproof hiking boots in full-grain leather with a Vibram sole and a padded "
            "collar. Resoleable; broken in after a few walks."
        ),
        google_product_category="187",
        attributes={
            "color": "brown",
            "size": "42",
            "gender": "unisex",
            "age_group": "adult",
            "material": "leather",
        },
        highlights=("Full-grain leather", "Waterproof lining", "Vibram sole"),
    ),
    _product(
        7,
        title="Sora wireless noise-cancelling headphones, black",
        brand="Sora",
        description=(
            "Over-ear headphones with active noise cancelling and 30 hours of battery life. "
            "Works with Google Assistant and Siri; the assistant button answers calls too. "
            "Folds flat into the included case."
        ),
        google_product_category="543626",
        attributes={"color": "black"},
        highlights=("30 hours of battery", "Active noise cancelling", "Folds flat"),
        reviews=Reviews(rating=4.4, count=2310, texts=("Great sound on flights.",)),
    ),
    _product(
        8,
        title="Dew daily face moisturizer for dry skin, 50 ml",
        brand="Dew",
        description=(
            "A light daily moisturizer with hyaluronic acid and squalane for dry skin. "
            "Fragrance free. Ingredients: Aqua, Glycerin, Squalane, Caprylic/Capric "
            "Triglyceride, Cetearyl Alcohol, Sodium Hyaluronate, Tocopherol, Panthenol, "
            "Allantoin, Xanthan Gum, Citric Acid, Phenoxyethanol, Ethylhexylglycerin, "
            "Sodium Benzoate, Potassium Sorbate."
        ),
        google_product_category="2592",
        highlights=("Hyaluronic acid and squalane", "Fragrance free", "For dry skin"),
    ),
    _product(
        9,
        title="Shield clear phone case for iPhone 15",
        brand="Shield",
        description=(
            "A slim clear case with raised edges around the camera and the screen. Compatible "
            "with: iPhone 15, iPhone 15 Plus, iPhone 15 Pro, iPhone 15 Pro Max, iPhone 14, "
            "iPhone 14 Plus, iPhone 14 Pro, iPhone 14 Pro Max, iPhone 13, iPhone 13 mini, "
            "iPhone 13 Pro, iPhone 13 Pro Max. Wireless charging works through the case."
        ),
        google_product_category="2353",
        attributes={"color": "clear"},
        highlights=("Raised edges", "Wireless charging through the case"),
    ),
    _product(
        10,
        title="The Quiet Garden, paperback novel by Ana Reyes",
        brand="Harbor Press",
        gtin="9780306406157",
        description=(
            "A novel of two sisters who inherit their grandmother's walled garden and the "
            "letters buried under it. 320 pages, paperback."
        ),
        google_product_category="784",
        highlights=("320 pages", "Paperback"),
    ),
    _product(
        11,
        title="Forge cast iron skillet, 26 cm",
        brand="Forge",
        description=(
            "A pre-seasoned cast iron skillet for searing, baking and frying. Works on gas, "
            "induction and in the oven; two pouring lips and a helper handle."
        ),
        google_product_category="662",
        attributes={"material": "cast iron"},
        highlights=("Pre-seasoned", "Induction and oven safe", "Two pouring lips"),
        reviews=Reviews(rating=4.8, count=2140),
    ),
    _product(
        12,
        title="Puddle kids' yellow waterproof rain jacket, size 6Y",
        brand="Puddle",
        description=(
            "A rain jacket for children with taped seams, a fleece lining and a hood that "
            "stays up. Reflective strips front and back."
        ),
        google_product_category="5598",
        attributes={"color": "yellow", "size": "6Y", "gender": "unisex", "age_group": "kids"},
        highlights=("Taped seams", "Fleece lining", "Reflective strips"),
    ),
    _product(
        13,
        title="Hearth soy candle, cedar and amber",
        brand="Hearth",
        description=(
            "Rated 4.8 stars by 2,000 customers: a soy wax candle scented with cedar and "
            "amber, hand-poured in a reusable glass jar. Burns for about 45 hours."
        ),
        google_product_category="588",
        highlights=("Soy wax", "About 45 hours of burning", "Reusable glass jar"),
        reviews=Reviews(rating=4.8, count=2093),
    ),
    _product(
        14,
        title="Wedge rubber door stop",
        brand="Wedge",
        description=(
            "A heavy rubber door stop that grips tile, wood and carpet. Its tapered shape "
            "fits 9 out of 10 standard door gaps, from 5 to 30 mm."
        ),
        google_product_category="2665",
        attributes={"material": "rubber"},
        highlights=("Grips tile, wood and carpet", "Fits gaps from 5 to 30 mm"),
    ),
    _product(
        15,
        title="Meeple family board game for 2-6 players",
        brand="Meeple",
        description=(
            "A cooperative board game for family game night 👨‍👩‍👧‍👦: build the village "
            "together before winter comes. Ages 8 and up, 45 minutes a game."
            "<!-- split -->Contents: board, 120 cards, 60 wooden pieces and the rules."
        ),
        google_product_category="1246",
        highlights=("2-6 players", "Ages 8 and up", "45 minutes a game"),
    ),
    _product(
        16,
        title="Cwtch Welsh wool throw blanket, grey",
        brand="Cwtch",
        description=(
            "<!--StartFragment-->A throw woven from Welsh wool on a mill in Powys 🏴󠁧󠁢󠁷󠁬󠁳󠁿. "
            "Soft, warm and made to last; 130 x 180 cm.<!--EndFragment-->"
        ),
        google_product_category="4454",
        attributes={"color": "grey", "material": "wool"},
        highlights=("Welsh wool", "130 x 180 cm"),
    ),
    _product(
        17,
        title="Lumen lampe de table en laiton avec abat-jour en lin",
        brand="Lumen",
        currency="EUR",
        description=(
            "Une lampe de table au pied en laiton massif et à l'abat-jour en lin naturel. "
            "Douille E27, câble textile de 1,8 m avec interrupteur."
        ),
        google_product_category="4636",
        attributes={"material": "laiton"},
        highlights=("Pied en laiton massif", "Abat-jour en lin naturel"),
    ),
    _product(
        18,
        title="Bergwerk Wanderrucksack 30 l, grün",
        brand="Bergwerk",
        currency="EUR",
        description=(
            "Ein leichter Wanderrucksack mit 30 Litern Volumen, belüftetem Rückenteil und "
            "Regenhülle. Hüftgurt mit zwei Taschen, Trinksystem-kompatibel."
        ),
        google_product_category="100",
        attributes={"color": "grün"},
        highlights=("30 Liter Volumen", "Belüftetes Rückenteil", "Mit Regenhülle"),
    ),
    _product(
        19,
        title="ミズホ ステンレス 水筒 500ml",
        brand="ミズホ",
        currency="JPY",
        price=2980.0,
        description="真空断熱構造のステンレス製水筒です。保温・保冷に対応し、食洗機で洗えます。",
        google_product_category="3809",
        highlights=("真空断熱構造", "食洗機対応"),
    ),
    _product(
        20,
        title="Salina sale marino integrale di Sicilia, 1 kg",
        brand="Salina",
        currency="EUR",
        description=(
            "Sale marino integrale raccolto a mano nelle saline di Trapani ed essiccato al "
            "sole. Ideale per la cucina di tutti i giorni."
        ),
        google_product_category="4611",
        highlights=("Raccolto a mano", "Essiccato al sole"),
    ),
    _product(
        21,
        title="Sabor té verde sencha ecológico, 100 g",
        brand="Sabor",
        currency="EUR",
        description=(
            "Té verde sencha de cultivo ecológico, de hoja entera y sabor suave. Infusionar "
            "dos minutos a 75 °C."
        ),
        google_product_category="2073",
        highlights=("Hoja entera", "Cultivo ecológico"),
    ),
    _product(
        22,
        title="Tapijt wollen vloerkleed 160 x 230 cm, beige",
        brand="Tapijt",
        currency="EUR",
        description=(
            "Handgeweven vloerkleed van zuivere scheerwol in een rustige beige tint. "
            "Geschikt voor woonkamer en slaapkamer."
        ),
        google_product_category="598",
        attributes={"color": "beige", "material": "wol"},
        highlights=("Handgeweven", "Zuivere scheerwol"),
    ),
    _product(
        23,
        title="نسيم منشفة حمام قطن مصري، أبيض",
        brand="نسيم",
        currency="AED",
        description=(
            "منشفة حمام ناعمة من القطن المصري، سريعة الامتصاص وتجف بسرعة. المقاس 70 في 140 سم."
        ),
        google_product_category="576",
        highlights=("قطن مصري", "سريعة الامتصاص"),
    ),
    _product(
        24,
        title="Tidy acacia wood cutting board, 40 x 30 cm",
        brand="Tidy",
        description=(
            "An end-grain cutting board in acacia wood that is kind to knife edges. Rubber "
            "feet keep it from sliding; oil it once a month."
        ),
        google_product_category="666",
        attributes={"material": "acacia wood"},
        highlights=("End-grain acacia", "Rubber feet"),
        markup=PageMarkup(
            price=44.0, currency="USD", availability="in_stock", gtin=gtin("400638130024")
        ),
    ),
)

LANGUAGES: dict[str, str] = {
    **{p.id: "en" for p in CLEAN},
    "sku-017": "fr",
    "sku-018": "de",
    "sku-019": "ja",
    "sku-020": "it",
    "sku-021": "es",
    "sku-022": "nl",
    "sku-023": "ar",
}

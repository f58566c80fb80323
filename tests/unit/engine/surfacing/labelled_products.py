"""Products whose Google product category is known, for measuring the categoriser.

Forty leaves across the taxonomy, five products each by default. Titles are written the way
merchants write them (brand, model, the noun shoppers use, specs, colour), from per-leaf word
lists written from what such products are called in shops, not from the taxonomy's wording:
a television is a "4K UHD Smart TV", a handheld power drill a "cordless drill driver". Some
products carry a merchant ``product_type`` (their own path, in their own words); most have a
description of one or two sentences; four in five have their ``brand`` field set (feeds
mostly send it). ``label`` is the leaf's taxonomy id.

Nouns that name a sibling leaf of their own (a "gaming chair" is under Gaming Chairs, a "tea
cup" under Coffee & Tea Cups, a "flask" under Flasks) are not used: they would be label errors.

``misdeclared`` gives each product a declared category from another top-level branch, to
measure how often a far-off declaration is flagged; ``declared_truth`` declares the true leaf,
to measure how often a correct declaration is flagged wrongly.

Imported by path (``from tests.unit.engine.surfacing.labelled_products import ...``) by the
tests and by ``bench/surfacing_categorise.py``.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

from engine.surfacing.product import Product


@dataclass(frozen=True)
class LeafWords:
    leaf: int  # taxonomy id
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    specs: tuple[str, ...]
    uses: tuple[str, ...]  # description sentences (without the product's noun)
    product_type: str  # a merchant's own path for such products


LEAVES: tuple[LeafWords, ...] = (
    LeafWords(
        404,
        ("4K UHD Smart TV", "OLED TV", "QLED television", "LED TV", "Android TV"),
        ("Samsung", "LG", "Sony", "TCL", "Hisense"),
        ("55-inch", "65 inch", '43"', "HDR10+", "120Hz", "Dolby Vision"),
        ("Stream your favourite shows in vivid colour.", "Wall-mountable with a slim bezel."),
        "Electronics > TV & Home Theater",
    ),
    LeafWords(
        187,
        ("hiking boots", "running shoes", "sneakers", "leather loafers", "ankle boots"),
        ("Merrell", "Nike", "Clarks", "Timberland", "Adidas"),
        ("men's", "women's", "waterproof", "size 10", "wide fit", "suede"),
        ("Cushioned footbed for all-day wear.", "Grippy rubber outsole."),
        "Footwear",
    ),
    LeafWords(
        665,
        ("chef's knife", "santoku knife", "paring knife", "bread knife", "knife set"),
        ("Wüsthof", "Victorinox", "Global", "Zwilling", "Shun"),
        ("8 inch", "stainless steel", "Damascus", "forged", "6-piece"),
        ("Razor-sharp edge that stays sharp.", "Full tang with a comfortable handle."),
        "Kitchen > Cutlery",
    ),
    LeafWords(
        2169,
        ("coffee mug", "ceramic mug", "travel mug", "latte mug", "enamel camping mug"),
        ("Denby", "Le Creuset", "Emma Bridgewater", "Contigo"),
        ("350 ml", "12 oz", "stoneware", "set of 4", "dishwasher safe"),
        ("Perfect for your morning brew.", "Microwave and dishwasher safe."),
        "Kitchen > Drinkware",
    ),
    LeafWords(
        543626,
        ("wireless headphones", "over-ear headphones", "noise cancelling headphones", "earbuds"),
        ("Sony", "Bose", "Sennheiser", "JBL", "Beats"),
        ("Bluetooth 5.3", "30-hour battery", "ANC", "foldable", "with mic"),
        ("Immersive sound with deep bass.", "Soft ear cushions for long listening."),
        "Electronics > Audio",
    ),
    LeafWords(
        328,
        ("laptop", "notebook computer", "ultrabook", "gaming laptop", "Chromebook"),
        ("Dell", "Lenovo", "HP", "ASUS", "Acer"),
        ('15.6"', "16GB RAM", "512GB SSD", "Intel Core i7", "Windows 11"),
        ("Light enough to carry all day.", "A full-size keyboard and a bright display."),
        "Computers > Notebooks",
    ),
    LeafWords(
        2271,
        ("midi dress", "maxi dress", "wrap dress", "summer dress", "cocktail dress"),
        ("Reformation", "Zara", "Monsoon", "Boden"),
        ("floral", "linen", "size 12", "sleeveless", "V-neck", "navy"),
        ("Flattering silhouette for day or evening.", "Made from breathable fabric."),
        "Women > Clothing > Dresses",
    ),
    LeafWords(
        100,
        ("backpack", "rucksack", "daypack", "laptop backpack", "school bag"),
        ("Osprey", "Herschel", "The North Face", "Fjällräven"),
        ("25L", "water-resistant", "padded straps", "black", 'fits 15" laptop'),
        ("Plenty of pockets for everyday carry.", "Comfortable on the commute."),
        "Bags > Backpacks",
    ),
    LeafWords(
        460,
        ("3-seater sofa", "sofa bed", "corner sofa", "loveseat", "couch"),
        ("Made.com", "Habitat", "IKEA", "Swyft"),
        ("velvet", "grey", "L-shaped", "reversible chaise", "oak legs"),
        ("Deep seats for lazy weekends.", "Removable, washable covers."),
        "Living Room > Sofas",
    ),
    LeafWords(
        2045,
        ("office chair", "ergonomic desk chair", "executive chair", "task chair"),
        ("Herman Miller", "Steelcase", "Secretlab", "Hbada"),
        ("mesh back", "lumbar support", "adjustable armrests", "swivel", "black"),
        ("Supports your back through long workdays.", "Smooth-rolling casters."),
        "Office > Seating",
    ),
    LeafWords(
        4636,
        ("table lamp", "floor lamp", "desk lamp", "bedside lamp", "arc lamp"),
        ("Anglepoise", "Lumen", "Artemide", "John Lewis"),
        ("brass", "linen shade", "dimmable", "E27", "LED bulb included"),
        ("Warm light for reading corners.", "A statement piece for the living room."),
        "Home > Lighting",
    ),
    LeafWords(
        598,
        ("area rug", "runner rug", "shaggy rug", "Persian rug", "jute rug"),
        ("Ruggable", "Safavieh", "Nourison"),
        ("160 x 230 cm", "wool", "hand-woven", "non-slip", "blue"),
        ("Soft underfoot and easy to vacuum.", "Adds warmth to any room."),
        "Home Decor > Rugs",
    ),
    LeafWords(
        1388,
        ("drip coffee maker", "filter coffee machine", "coffee brewer", "12-cup coffee maker"),
        ("Cuisinart", "Mr. Coffee", "Melitta", "Braun"),
        ("programmable", "glass carafe", "keep-warm plate", "1.5 L", "black"),
        ("Wake up to freshly brewed coffee.", "Brew pause lets you pour mid-cycle."),
        "Kitchen > Small Appliances",
    ),
    LeafWords(
        662,
        ("frying pan", "non-stick skillet", "cast iron skillet", "saute pan", "omelette pan"),
        ("Tefal", "Lodge", "Le Creuset", "OXO"),
        ("28 cm", "12-inch", "induction", "PFOA-free", "oven safe"),
        ("Even heating for perfect searing.", "Eggs slide right off."),
        "Kitchen > Cookware",
    ),
    LeafWords(
        1026,
        ("road bike", "mountain bike", "hybrid bike", "kids' bike", "electric bike"),
        ("Trek", "Specialized", "Giant", "Cannondale"),
        ("21-speed", "aluminium frame", "disc brakes", '29" wheels', "medium frame"),
        ("Built for weekend rides and daily commutes.", "Lightweight and responsive."),
        "Sports > Cycling",
    ),
    LeafWords(
        3640,
        ("yoga mat", "exercise mat", "pilates mat", "travel yoga mat"),
        ("Manduka", "Gaiam", "Lululemon", "Liforme"),
        ("6 mm", "TPE", "extra thick", "with carry strap", "purple"),
        ("Cushions your joints during practice.", "Grippy on both sides."),
        "Fitness > Yoga",
    ),
    LeafWords(
        1022,
        ("camping tent", "backpacking tent", "pop-up tent", "family tent", "dome tent"),
        ("Coleman", "Vango", "MSR", "Big Agnes"),
        ("2-person", "4 man", "waterproof", "ultralight", "easy pitch"),
        ("Sets up in minutes at the campsite.", "Stays dry through summer storms."),
        "Outdoors > Camping",
    ),
    LeafWords(
        4434,
        ("dog bed", "orthopedic pet bed", "calming donut bed", "dog cushion"),
        ("Kong", "Furhaven", "Barbour", "Petface"),
        ("large", "memory foam", "washable cover", "grey", "for medium dogs"),
        ("Your pup will love curling up in it.", "Non-slip base and a removable cover."),
        "Pets > Dog",
    ),
    LeafWords(
        1246,
        ("board game", "strategy game", "family game", "cooperative game"),
        ("Hasbro", "Catan Studio", "Ravensburger", "Asmodee"),
        ("2-4 players", "ages 10+", "60-minute", "expansion pack", "classic edition"),
        ("Great for game night with friends.", "Easy to learn, hard to master."),
        "Toys & Games > Games",
    ),
    LeafWords(
        1259,
        ("teddy bear", "plush toy", "soft toy", "stuffed unicorn", "plush bunny"),
        ("Jellycat", "Steiff", "Squishmallows", "Ty"),
        ("30 cm", "super soft", "baby safe", "pink", "hypoallergenic"),
        ("A cuddly companion for bedtime.", "Surface washable."),
        "Kids > Toys",
    ),
    LeafWords(
        543615,
        ("shampoo", "clarifying shampoo", "anti-dandruff shampoo", "volumising shampoo"),
        ("Pantene", "Head & Shoulders", "Aveda", "OGX"),
        ("400 ml", "sulfate-free", "for dry hair", "argan oil", "vegan"),
        ("Gently cleanses without stripping.", "Leaves hair soft and shiny."),
        "Beauty > Hair Care",
    ),
    LeafWords(
        3021,
        ("lipstick", "matte lipstick", "liquid lipstick", "lip colour"),
        ("MAC", "Charlotte Tilbury", "Maybelline", "NYX"),
        ("ruby red", "long-lasting", "satin finish", "nude", "3.5 g"),
        ("Rich colour in one swipe.", "Comfortable, non-drying formula."),
        "Beauty > Makeup > Lips",
    ),
    LeafWords(
        479,
        ("eau de parfum", "eau de toilette", "perfume", "cologne", "fragrance"),
        ("Chanel", "Dior", "Jo Malone", "Calvin Klein"),
        ("50 ml", "100ml spray", "for women", "for men", "floral"),
        ("A warm, woody scent that lingers.", "Notes of bergamot and vanilla."),
        "Beauty > Fragrance",
    ),
    LeafWords(
        201,
        ("automatic watch", "chronograph watch", "dive watch", "analog wristwatch"),
        ("Seiko", "Casio", "Tissot", "Citizen"),
        ("40 mm", "sapphire crystal", "stainless steel bracelet", "200m water resistant"),
        ("A timepiece for every occasion.", "Luminous hands for low light."),
        "Accessories > Watches",
    ),
    LeafWords(
        196,
        ("pendant necklace", "chain necklace", "choker", "locket necklace"),
        ("Pandora", "Monica Vinader", "Swarovski", "Missoma"),
        ("sterling silver", "18k gold plated", "45 cm chain", "heart", "pearl"),
        ("A delicate piece to wear every day.", "Arrives in a gift box."),
        "Jewellery > Necklaces",
    ),
    LeafWords(
        178,
        ("sunglasses", "aviator sunglasses", "polarized shades", "wayfarer sunglasses"),
        ("Ray-Ban", "Oakley", "Persol", "Le Specs"),
        ("UV400", "polarised", "tortoiseshell", "metal frame", "unisex"),
        ("Full UV protection for sunny days.", "Comes with a hard case."),
        "Accessories > Eyewear",
    ),
    LeafWords(
        3032,
        ("tote bag", "crossbody bag", "leather handbag", "shoulder bag", "clutch"),
        ("Coach", "Michael Kors", "Radley", "Fossil"),
        ("genuine leather", "tan", "zip top", "adjustable strap", "black"),
        ("Roomy enough for the essentials.", "Gold-tone hardware."),
        "Women > Bags",
    ),
    LeafWords(
        2629,
        ("cordless drill driver", "combi drill", "hammer drill", "power drill"),
        ("DeWalt", "Makita", "Bosch", "Milwaukee", "Ryobi"),
        ("18V", "brushless", "2 x 2.0Ah batteries", "with case", "13 mm chuck"),
        ("Drives screws and drills holes with ease.", "LED work light."),
        "Tools > Power Tools",
    ),
    LeafWords(
        1294,
        ("game console", "gaming console", "handheld console", "console bundle"),
        ("Sony PlayStation", "Nintendo", "Xbox", "Valve"),
        ("1TB", "4K", "digital edition", "with controller", "OLED model"),
        ("Play the latest games in stunning detail.", "Includes one wireless controller."),
        "Gaming > Consoles",
    ),
    LeafWords(
        568,
        ("pushchair", "baby stroller", "travel system", "buggy", "pram"),
        ("Bugaboo", "UPPAbaby", "Joie", "Silver Cross"),
        ("lightweight", "one-hand fold", "from birth", "with rain cover", "compact"),
        ("Smooth ride on city streets.", "Folds small for the car boot."),
        "Baby > Travel",
    ),
    LeafWords(
        619,
        ("cordless vacuum cleaner", "robot vacuum", "upright vacuum", "stick vacuum"),
        ("Dyson", "Shark", "Roomba", "Vax", "Hoover"),
        ("bagless", "HEPA filter", "60 min runtime", "pet hair tool", "self-emptying"),
        ("Powerful suction on carpets and hard floors.", "Lightweight and easy to empty."),
        "Home > Cleaning",
    ),
    LeafWords(
        2314,
        ("fitted sheet", "sheet set", "flat sheet", "bed linen set"),
        ("Brooklinen", "Parachute", "Dunelm", "Cotton Traders"),
        ("king size", "400 thread count", "Egyptian cotton", "white", "percale"),
        ("Cool and crisp for a good night's sleep.", "Deep pockets fit thick mattresses."),
        "Bedroom > Bedding",
    ),
    LeafWords(
        2313,
        ("garden hose", "expandable hose", "hose pipe", "hose reel set"),
        ("Hozelock", "Gardena", "Flexzilla", "Karcher"),
        ("30 m", "50 ft", "kink-free", "with spray nozzle", "green"),
        ("Water the whole garden without a tap change.", "UV-resistant outer layer."),
        "Garden > Watering",
    ),
    LeafWords(
        1868,
        ("whole bean coffee", "ground coffee", "espresso beans", "coffee pods"),
        ("Lavazza", "Illy", "Starbucks", "Taylors"),
        ("1 kg", "medium roast", "single origin", "Arabica", "250 g"),
        ("Notes of chocolate and caramel.", "Roasted in small batches."),
        "Food & Drink > Coffee",
    ),
    LeafWords(
        80,
        ("acoustic guitar", "electric guitar", "classical guitar", "bass guitar"),
        ("Fender", "Yamaha", "Gibson", "Epiphone"),
        ("6-string", "solid spruce top", "sunburst", "with gig bag", "full size"),
        ("Rich tone for beginners and pros.", "Comfortable neck profile."),
        "Music > Instruments",
    ),
    LeafWords(
        152,
        ("mirrorless camera", "digital camera", "DSLR camera", "compact camera"),
        ("Canon", "Nikon", "Fujifilm", "Sony"),
        ("24.2MP", "4K video", "with 18-55mm lens", "body only", "Wi-Fi"),
        ("Capture sharp photos in low light.", "Fast autofocus for action shots."),
        "Electronics > Cameras",
    ),
    LeafWords(
        212,
        ("t-shirt", "polo shirt", "oxford shirt", "blouse", "tank top"),
        ("Uniqlo", "Ralph Lauren", "Gap", "Levi's"),
        ("100% cotton", "slim fit", "crew neck", "white", "size M"),
        ("A wardrobe staple you'll reach for daily.", "Soft, breathable cotton."),
        "Men > Tops",
    ),
    LeafWords(
        4745,
        ("tablet", "iPad", "Android tablet", "kids' tablet"),
        ("Apple", "Samsung Galaxy Tab", "Amazon Fire", "Lenovo Tab"),
        ("10.9-inch", "128GB", "Wi-Fi", "Retina display", "space grey"),
        ("Watch, read and sketch on the go.", "All-day battery life."),
        "Electronics > Tablets",
    ),
    LeafWords(
        3809,
        ("water bottle", "insulated bottle", "sports bottle", "reusable bottle"),
        ("Hydro Flask", "Chilly's", "Nalgene", "CamelBak"),
        ("750 ml", "32 oz", "stainless steel", "BPA-free", "leak-proof"),
        ("Keeps drinks cold for 24 hours.", "Fits most cup holders."),
        "Outdoor > Hydration",
    ),
    LeafWords(
        588,
        ("scented candle", "soy candle", "pillar candle", "candle jar", "tea lights"),
        ("Yankee Candle", "Diptyque", "Neom", "Jo Malone"),
        ("lavender", "50-hour burn", "large jar", "three wick", "vanilla"),
        ("Fills the room with a calming scent.", "Hand-poured natural wax."),
        "Home Fragrance",
    ),
)

_COLOURS = ("black", "white", "grey", "navy", "red", "green", "beige", "blue")


def _title(rng: random.Random, words: LeafWords, brand: str) -> str:
    noun = rng.choice(words.nouns)
    specs = rng.sample(words.specs, k=min(len(words.specs), rng.randint(1, 2)))
    model = f"{rng.choice('ABCDEFGHKLMNPRSTX')}{rng.randint(10, 990)}"
    pattern = rng.randrange(5)
    if pattern == 0:
        return f"{brand} {' '.join(specs)} {noun}"
    if pattern == 1:
        return f"{brand} {model} {noun} - {', '.join(specs)}"
    if pattern == 2:
        return f"{noun.capitalize()} by {brand}, {' '.join(specs)}"
    if pattern == 3:
        return f"{brand} {noun} {model}, {rng.choice(_COLOURS)}"
    return f"{' '.join(specs).capitalize()} {noun} | {brand}"


def _description(rng: random.Random, words: LeafWords) -> str:
    if rng.random() < 0.2:
        return ""
    return " ".join(rng.sample(words.uses, k=rng.randint(1, len(words.uses))))


def labelled_products(per_leaf: int = 5, seed: int = 0) -> list[tuple[Product, int]]:
    """``per_leaf`` products for each of :data:`LEAVES`, with their leaf's taxonomy id."""
    rng = random.Random(seed)
    out: list[tuple[Product, int]] = []
    for words in LEAVES:
        for i in range(per_leaf):
            brand = rng.choice(words.brands)
            product = Product(
                id=f"{words.leaf}-{i}",
                title=_title(rng, words, brand),
                brand=brand if rng.random() < 0.8 else None,
                description=_description(rng, words),
                product_type=words.product_type if rng.random() < 0.3 else None,
            )
            out.append((product, words.leaf))
    return out


def declared_truth(labelled: Sequence[tuple[Product, int]]) -> list[Product]:
    return [dataclasses.replace(p, google_product_category=str(leaf)) for p, leaf in labelled]


def misdeclared(
    labelled: Sequence[tuple[Product, int]], top_levels: dict[int, str], seed: int = 1
) -> list[Product]:
    """Each product declared under another labelled leaf of a different top-level branch
    (``top_levels`` maps each labelled leaf id to its top-level name)."""
    rng = random.Random(seed)
    leaves = sorted(top_levels)
    out = []
    for product, leaf in labelled:
        far = [other for other in leaves if top_levels[other] != top_levels[leaf]]
        out.append(dataclasses.replace(product, google_product_category=str(rng.choice(far))))
    return out

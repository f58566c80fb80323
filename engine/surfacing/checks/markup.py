"""Reviews exposed to engines, and the page's Product markup against the feed."""

from __future__ import annotations

from stdnum import ean

from engine.surfacing.checks._base import Context, advice
from engine.surfacing.checks._text import quote
from engine.surfacing.rules import MERCHANT_LISTING, PRICE_TOLERANCE


def check_reviews(ctx: Context) -> None:
    reviews = ctx.product.reviews
    count = reviews.count if reviews else None
    rating = reviews.rating if reviews else None
    texts = reviews.texts if reviews else ()
    if not count and rating is None and not texts:
        ctx.add(
            "reviews_missing",
            "info",
            "no reviews or rating reach the feed or the page; AI answers and rich results "
            "quote ratings when they have them",
            "reviews: none",
            MERCHANT_LISTING,
            field="reviews",
        )
        return
    if count and count > 0 and rating is None:
        ctx.add(
            "reviews_without_rating",
            "low",
            "reviews are counted but no average rating is given; an aggregate rating needs both",
            f"review count {count}, rating: (empty)",
            MERCHANT_LISTING,
            field="reviews.rating",
            fix=advice("publish the average rating with the review count"),
        )
    if rating is not None and not count:
        ctx.add(
            "reviews_without_count",
            "low",
            "a rating is given without the number of ratings; an aggregate rating needs a "
            "ratingCount or reviewCount",
            f"rating {rating}, review count: (empty)",
            MERCHANT_LISTING,
            field="reviews.count",
            fix=advice("publish the number of ratings with the average"),
        )
    if rating is not None and not 1.0 <= rating <= 5.0:
        ctx.add(
            "reviews_rating_out_of_range",
            "medium",
            "the rating is outside the 1-5 scale",
            f"rating {rating}",
            MERCHANT_LISTING,
            field="reviews.rating",
            fix=advice("give the average rating on the 1-5 scale"),
        )


def _gtin14(value: str) -> str:
    digits = ean.compact(value)
    return digits.zfill(14) if digits.isdigit() else digits


def check_markup(ctx: Context) -> None:
    product = ctx.product
    markup = product.markup
    if markup is None:
        return
    for problem in markup.problems:
        ctx.add(
            "markup_invalid",
            "medium",
            "the page's Product markup misses what Google's merchant listings require",
            problem,
            MERCHANT_LISTING,
            field="markup",
            fix=advice("complete the page's schema.org Product markup"),
        )
    fix_page = "make the page and the feed state the same value"
    if markup.price is not None and product.price is not None and product.price > 0:
        gap = abs(markup.price - product.price) / product.price
        if gap > PRICE_TOLERANCE:
            ctx.add(
                "markup_price_mismatch",
                "high",
                f"the page's price and the feed's differ by {gap:.1%} (over "
                f"{PRICE_TOLERANCE:.1%}); Google disapproves a feed price the page does not show",
                f"page {markup.price:g} {markup.currency or ''}".rstrip()
                + f"; feed {product.price:g} {product.currency or ''}".rstrip(),
                MERCHANT_LISTING,
                field="price",
                fix=advice(fix_page),
            )
    if (
        markup.currency
        and product.currency
        and markup.currency.strip().upper() != product.currency.strip().upper()
    ):
        ctx.add(
            "markup_currency_mismatch",
            "high",
            "the page's currency and the feed's differ",
            f"page {markup.currency}; feed {product.currency}",
            MERCHANT_LISTING,
            field="currency",
            fix=advice(fix_page),
        )
    if markup.availability and product.availability and markup.availability != product.availability:
        ctx.add(
            "markup_availability_mismatch",
            "high",
            "the page's availability and the feed's differ",
            f"page {markup.availability}; feed {product.availability}",
            MERCHANT_LISTING,
            field="availability",
            fix=advice(fix_page),
        )
    if markup.gtin and product.gtin and _gtin14(markup.gtin) != _gtin14(product.gtin):
        ctx.add(
            "markup_gtin_mismatch",
            "high",
            "the page's GTIN and the feed's differ: one of them names another product",
            f"page {markup.gtin}; feed {product.gtin}",
            MERCHANT_LISTING,
            field="gtin",
            fix=advice(fix_page),
        )
    if (
        markup.brand
        and product.brand
        and markup.brand.strip().casefold() != product.brand.strip().casefold()
    ):
        ctx.add(
            "markup_brand_mismatch",
            "low",
            "the page's brand and the feed's differ",
            f"page {quote(markup.brand)}; feed {quote(product.brand)}",
            MERCHANT_LISTING,
            field="brand",
            fix=advice("use one spelling of the brand on the page and in the feed"),
        )

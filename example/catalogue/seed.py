"""Demo data of the catalogue app: an outdoor gear shop."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils.text import slugify

from catalogue.models import Brand, Category, Product, ProductImage, Review
from shopsite.seed import BASE_TIME, insert, rng_for, scaled

# The product the detail-page scenario opens; always the first one seeded.
FEATURED_PRODUCT_SLUG = "trailhead-40l-backpack"

BRANDS = (
    "Alpenglow",
    "Borealis",
    "Cairn & Co",
    "Driftwood",
    "Fjell",
    "Granite Peak",
    "Hollow Pine",
    "Kestrel",
)
# (category, the noun its product titles use)
CATEGORIES = (
    ("Backpacks", "Backpack"),
    ("Tents", "Tent"),
    ("Sleeping bags", "Sleeping Bag"),
    ("Stoves", "Stove"),
    ("Headlamps", "Headlamp"),
    ("Jackets", "Jacket"),
    ("Boots", "Boot"),
    ("Trekking poles", "Pole"),
    ("Water filters", "Filter"),
    ("Climbing ropes", "Rope"),
    ("Kayaks", "Kayak"),
    ("Maps and guides", "Guide"),
)
ADJECTIVES = (
    "Alpine",
    "Basecamp",
    "Coastal",
    "Dawn",
    "Expedition",
    "Featherlight",
    "Glacier",
    "Highline",
    "Ridge",
    "Summit",
    "Traverse",
    "Wayfarer",
)
REVIEWERS = ("Ana", "Bruno", "Chloé", "Dmitri", "Esther", "Farid", "Greta", "Hugo", "Inès", "Jonas")
REVIEW_BODIES = (
    "Did exactly what I needed on a week in the Pyrenees.",
    "Solid build, a bit heavier than advertised.",
    "Third season with it and still going strong.",
    "Arrived quickly; the sizing runs small.",
    "Would buy again, although the colour faded in the sun.",
    "Not for me: returned it after one weekend.",
)
SEO_PARAGRAPH = (
    "Find the right {name} for your next trip: compare weights, materials and "
    "prices from the brands hikers and climbers trust, read reviews from people "
    "who used them in the rain, and get free returns within thirty days. "
)


def clear() -> None:
    Review.objects.all().delete()
    ProductImage.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.all().delete()
    Brand.objects.all().delete()


def seed(scale: float) -> dict[str, int]:
    rng = rng_for("catalogue")
    brands = insert(Brand, [Brand(name=name) for name in BRANDS])
    categories = insert(
        Category,
        [
            Category(
                name=name,
                slug=slugify(name),
                description=f"Everything in {name.lower()}, tested by our staff.",
                # About 4 KB: the kind of column seed 003 defers on list pages.
                seo_text=SEO_PARAGRAPH.format(name=name.lower()) * 16,
            )
            for name, _noun in CATEGORIES
        ],
    )

    products = [
        Product(
            brand=brands[0],
            category=categories[0],
            title="Trailhead 40L Backpack",
            slug=FEATURED_PRODUCT_SLUG,
            description="Our best seller: a 40 litre pack with a ventilated back.",
            price=Decimal("129.00"),
        )
    ]
    for number in range(1, scaled(200, scale, minimum=10)):
        category_index = rng.randrange(len(CATEGORIES))
        title = f"{rng.choice(ADJECTIVES)} {CATEGORIES[category_index][1]} {rng.randint(1, 99)}"
        products.append(
            Product(
                brand=rng.choice(brands),
                category=categories[category_index],
                title=title,
                slug=f"{slugify(title)}-{number}",
                description=f"The {title}, built for long days outside.",
                price=Decimal(rng.randint(900, 49900)) / 100,
            )
        )
    products = insert(Product, products)

    images: list[ProductImage] = []
    reviews: list[Review] = []
    for index, product in enumerate(products):
        featured = index == 0
        image_count = 3 if featured else rng.randint(1, 3)
        images.extend(
            ProductImage(
                product=product,
                url=f"/media/products/{product.slug}-{position + 1}.jpg",
                alt=f"{product.title}, view {position + 1}",
                position=position,
            )
            for position in range(image_count)
        )
        review_count = 5 if featured else rng.randint(0, 4)
        reviews.extend(
            Review(
                product=product,
                author=rng.choice(REVIEWERS),
                rating=rng.randint(1, 5),
                body=rng.choice(REVIEW_BODIES),
                created=BASE_TIME - datetime.timedelta(minutes=rng.randint(0, 365 * 24 * 60)),
            )
            for _ in range(review_count)
        )
    ProductImage.objects.bulk_create(images)
    Review.objects.bulk_create(reviews)
    return {
        "catalogue.Brand": len(brands),
        "catalogue.Category": len(categories),
        "catalogue.Product": len(products),
        "catalogue.ProductImage": len(images),
        "catalogue.Review": len(reviews),
    }

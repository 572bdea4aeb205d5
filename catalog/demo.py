"""The demo catalog loaded by ``manage.py seed_demo``."""

import io
import textwrap
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

DEMO_PRODUCTS = [
    # The schema's sample document (schema.md, products).
    (
        "Clean Code",
        "Robert C. Martin",
        "A handbook of agile software craftsmanship",
        "32.99",
        "ebook",
        "https://example.com/clean-code.jpg",
    ),
    (
        "The Pragmatic Programmer",
        "Andrew Hunt & David Thomas",
        "Your journey to mastery, 20th anniversary edition.",
        "39.95",
        "ebook",
        "",
    ),
    (
        "Refactoring",
        "Martin Fowler",
        "Improving the design of existing code.",
        "44.50",
        "ebook",
        "",
    ),
    (
        "Designing Data-Intensive Applications",
        "Martin Kleppmann",
        "The big ideas behind reliable, scalable and maintainable systems.",
        "49.00",
        "ebook",
        "",
    ),
    (
        "Django from Zero to Deploy",
        "Ana Ruiz",
        "A video course that builds and ships a real Django site.",
        "89.00",
        "course",
        "",
    ),
    (
        "MongoDB Schema Design",
        "Lee Chen",
        "Modelling documents, indexes and aggregation pipelines, hands on.",
        "59.00",
        "course",
        "",
    ),
    (
        "Practical Testing in Python",
        "Sam Okafor",
        "pytest, factories, property-based tests and fast suites.",
        "49.50",
        "course",
        "",
    ),
    (
        "Startup Pitch Deck",
        "Studio North",
        "A 24-slide pitch deck template for Keynote and PowerPoint.",
        "19.00",
        "template",
        "",
    ),
    (
        "Freelance Invoice Kit",
        "Studio North",
        "Invoice, quote and receipt templates with automatic totals.",
        "12.00",
        "template",
        "",
    ),
    (
        "Product Roadmap Board",
        "Plan Well",
        "A quarterly roadmap template for product teams.",
        "15.00",
        "template",
        "",
    ),
    (
        "Focus Timer Pro",
        "Quiet Apps",
        "A distraction-free Pomodoro timer for desktop.",
        "9.99",
        "software",
        "",
    ),
    (
        "Markdown Notes",
        "Quiet Apps",
        "Offline-first note taking with Markdown and sync.",
        "24.00",
        "software",
        "",
    ),
    (
        "Icon Pack: 500 Line Icons",
        "Pixel Forge",
        "SVG and PNG icons in four weights.",
        "7.50",
        "other",
        "",
    ),
    (
        "Stock Photo Bundle: Workspaces",
        "Frame & Light",
        "120 high-resolution workspace photos.",
        "29.00",
        "other",
        "",
    ),
]


# Staff's picks for the landing page in the demo.
DEMO_FEATURED = (
    "Clean Code",
    "The Pragmatic Programmer",
    "Refactoring",
    "Designing Data-Intensive Applications",
)


def demo_products() -> list[dict]:
    return [
        {
            "title": title,
            "author": author,
            "description": description,
            "price": Decimal(price),
            "category": category,
            "image_url": image_url,
            "featured": title in DEMO_FEATURED,
        }
        for title, author, description, price, category, image_url in DEMO_PRODUCTS
    ]


# --- Demo covers and files, made locally ---------------------------------------------

CATEGORY_COLOURS = {
    "ebook": ((32, 74, 135), (235, 242, 255)),
    "course": ((22, 110, 84), (232, 250, 243)),
    "template": ((140, 62, 26), (255, 241, 230)),
    "software": ((70, 48, 140), (240, 235, 255)),
    "other": ((60, 66, 76), (242, 244, 247)),
}
COVER_SIZE = (640, 400)


def demo_cover(product) -> SimpleUploadedFile:
    """A PNG cover: the title and author on the category's colour."""
    background, ink = CATEGORY_COLOURS.get(product.category, CATEGORY_COLOURS["other"])
    image = Image.new("RGB", COVER_SIZE, background)
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=44)
    small_font = ImageFont.load_default(size=24)
    lines = textwrap.wrap(product.title, width=22)[:4]
    y = 60
    for line in lines:
        draw.text((40, y), line, fill=ink, font=title_font)
        y += 56
    draw.text((40, COVER_SIZE[1] - 90), product.author, fill=ink, font=small_font)
    draw.text(
        (40, COVER_SIZE[1] - 52), product.get_category_display().upper(), fill=ink, font=small_font
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return SimpleUploadedFile(f"{_slug(product.title)}.png", buffer.getvalue(), "image/png")


def demo_file(product) -> SimpleUploadedFile:
    """A small text file standing in for the product itself."""
    text = (
        f"{product.title}\nby {product.author}\n\n{product.description}\n\n"
        "This is the demo shop's stand-in for the real product: thank you for buying it.\n"
    )
    return SimpleUploadedFile(f"{_slug(product.title)}.txt", text.encode(), "text/plain")


def _slug(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())[:60]

"""The demo catalog loaded by ``manage.py seed_demo``."""

from decimal import Decimal

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


def demo_products() -> list[dict]:
    return [
        {
            "title": title,
            "author": author,
            "description": description,
            "price": Decimal(price),
            "category": category,
            "image_url": image_url,
        }
        for title, author, description, price, category, image_url in DEMO_PRODUCTS
    ]

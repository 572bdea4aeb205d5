"""The products collection (schema.md section 4)."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from catalog.indexes import TextIndex
from referral_site.storage import GridFSStorage
from referral_site.validators import strip_fields


class Category(models.TextChoices):
    EBOOK = "ebook", "Ebook"
    COURSE = "course", "Course"
    TEMPLATE = "template", "Template"
    SOFTWARE = "software", "Software"
    OTHER = "other", "Other"


class Product(models.Model):
    title = models.CharField(max_length=200, db_column="title")
    description = models.TextField(db_column="description")
    author = models.CharField(max_length=200, db_column="author")
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"), message="Price cannot be negative.")],
        db_column="price",
    )
    category = models.CharField(max_length=20, choices=Category.choices, db_column="category")
    image_url = models.URLField(max_length=500, blank=True, db_column="imageUrl")
    # The stored cover (GridFS); when empty, imageUrl (an external image) is shown.
    cover = models.FileField(
        storage=GridFSStorage(), max_length=300, blank=True, db_column="coverImage"
    )
    cover_width = models.PositiveIntegerField(null=True, blank=True, db_column="coverWidth")
    cover_height = models.PositiveIntegerField(null=True, blank=True, db_column="coverHeight")
    # What the buyer downloads (GridFS), with what staff uploaded.
    file = models.FileField(storage=GridFSStorage(), max_length=300, blank=True, db_column="file")
    file_name = models.CharField(max_length=255, blank=True, db_column="fileName")
    file_size = models.BigIntegerField(null=True, blank=True, db_column="fileSize")
    file_content_type = models.CharField(max_length=100, blank=True, db_column="fileContentType")
    file_sha256 = models.CharField(max_length=64, blank=True, db_column="fileSha256")
    # Chosen by staff for the landing page (the newest fill the rest).
    featured = models.BooleanField(default=False, db_column="featured")
    created_at = models.DateTimeField(auto_now_add=True, db_column="createdAt")
    updated_at = models.DateTimeField(auto_now=True, db_column="updatedAt")

    class Meta:
        db_table = "products"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["category"], name="products_category"),
            models.Index(fields=["price"], name="products_price"),
            TextIndex(fields=["title"], name="products_title_text"),
            models.Index(fields=["-created_at"], name="products_created_desc"),
            models.Index(fields=["-featured", "-created_at"], name="products_featured"),
        ]

    def __str__(self):
        return self.title

    @property
    def has_cover(self) -> bool:
        return bool(self.cover or self.image_url)

    def clean_fields(self, exclude=None):
        # Trim first, so "   " fails as a required title (schema.md: trimmed).
        strip_fields(self, "title", "author")
        super().clean_fields(exclude=exclude)

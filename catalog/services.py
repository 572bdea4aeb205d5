"""Writes for the catalog."""

import hashlib
import mimetypes
from pathlib import PurePosixPath

from django.conf import settings
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from PIL import Image

from catalog.models import Category, Product
from referral_site.exceptions import ApplicationError


class UnknownCategoryError(ApplicationError):
    """A category outside the five of schema.md."""


def product_bulk_set_category(*, products: QuerySet[Product], category: str) -> int:
    """Move every product of ``products`` to ``category``; return how many matched.

    One update_many on the products collection, whatever the number of
    products. ``updated_at`` is set by hand because QuerySet.update() skips
    auto_now fields.
    """
    if category not in Category.values:
        raise UnknownCategoryError(f"“{category}” is not a category.", field="category")
    return products.update(category=category, updated_at=timezone.now())


# --- Product files and covers ---------------------------------------------------------


class UploadRefused(ApplicationError):
    """An upload that is not a file or cover the shop can offer."""


def _sha256(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def product_file_check(upload) -> str:
    """The upload's content type if it may be sold as a product file; else UploadRefused."""
    if upload.size > settings.PRODUCT_FILE_MAX_BYTES:
        raise UploadRefused(
            f"The file is {filesizeformat(upload.size)}; the limit is "
            f"{filesizeformat(settings.PRODUCT_FILE_MAX_BYTES)}.",
            field="upload_file",
        )
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    guessed = mimetypes.guess_type(upload.name)[0]
    if content_type not in settings.PRODUCT_FILE_TYPES and guessed in settings.PRODUCT_FILE_TYPES:
        content_type = guessed  # browsers often say application/octet-stream
    if content_type not in settings.PRODUCT_FILE_TYPES:
        raise UploadRefused(
            f"Files of type {content_type or 'unknown'} cannot be sold here; allowed: "
            f"{', '.join(sorted(settings.PRODUCT_FILE_TYPES))}.",
            field="upload_file",
        )
    return content_type


def product_cover_check(upload) -> tuple[int, int]:
    """The cover's width and height if it is a real JPEG, PNG or WebP image; else UploadRefused."""
    if upload.size > settings.PRODUCT_COVER_MAX_BYTES:
        raise UploadRefused(
            f"The image is {filesizeformat(upload.size)}; the limit is "
            f"{filesizeformat(settings.PRODUCT_COVER_MAX_BYTES)}.",
            field="upload_cover",
        )
    try:
        with Image.open(upload) as image:
            image.verify()  # the whole file, not just its header
            kind, size = image.format, image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UploadRefused(
            "This file is not an image we can read.", field="upload_cover"
        ) from None
    finally:
        upload.seek(0)
    if kind not in ("JPEG", "PNG", "WEBP"):
        raise UploadRefused("Upload a JPEG, PNG or WebP image.", field="upload_cover")
    return size


def product_file_attach(*, product: Product, upload) -> Product:
    """Store ``upload`` as the product's file (name, size, type and SHA-256 recorded).

    The new file is stored first, then the product points at it in one
    update; if that update fails the new file is deleted again, and the old
    file is deleted only once nothing points at it.
    """
    content_type = product_file_check(upload)
    digest = _sha256(upload)
    storage = Product._meta.get_field("file").storage
    name = storage.save(upload.name, upload)
    old = product.file.name
    fields = {
        "file": name,
        "file_name": PurePosixPath(upload.name).name[:255],
        "file_size": upload.size,
        "file_content_type": content_type,
        "file_sha256": digest,
    }
    try:
        Product.objects.filter(pk=product.pk).update(**fields, updated_at=timezone.now())
    except Exception:
        storage.delete(name)
        raise
    for attribute, value in fields.items():
        setattr(product, attribute, value)
    if old and old != name:
        storage.delete(old)
    return product


def product_cover_attach(*, product: Product, upload) -> Product:
    """Store ``upload`` as the product's cover image, with its width and height."""
    width, height = product_cover_check(upload)
    storage = Product._meta.get_field("cover").storage
    name = storage.save(upload.name, upload)
    old = product.cover.name
    try:
        Product.objects.filter(pk=product.pk).update(
            cover=name, cover_width=width, cover_height=height, updated_at=timezone.now()
        )
    except Exception:
        storage.delete(name)
        raise
    product.cover, product.cover_width, product.cover_height = name, width, height
    if old and old != name:
        storage.delete(old)
    return product

"""Downloads of what a customer bought: only their completed purchases, streamed, resumable.

The file comes out of GridFS in chunks (never whole in memory), with
Content-Length, Content-Type and Content-Disposition, and a single HTTP
Range (``bytes=start-end``, ``bytes=start-``, ``bytes=-suffix``) for
resumed downloads. Each download is recorded and counted against the
customer's hourly limit.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from accounts.ratelimit import RateLimitExceeded, rate_limit_hit
from catalog.models import Product
from purchases.models import Download, Purchase, PurchaseStatus
from referral_site.exceptions import ApplicationError
from referral_site.storage import CHUNK_BYTES, GridFSFile

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class DownloadUnavailable(ApplicationError):
    """Nothing to download here (not completed, refunded, or the product has no file)."""


class RangeNotSatisfiable(ApplicationError):
    def __init__(self, size: int):
        super().__init__("The requested range is outside the file.")
        self.size = size


class DownloadsLimited(ApplicationError):
    def __init__(self, exceeded: RateLimitExceeded):
        super().__init__("Too many downloads in the last hour; please try again later.")
        self.exceeded = exceeded


@dataclass
class Delivery:
    file: GridFSFile
    name: str
    content_type: str
    size: int
    start: int
    end: int  # inclusive
    partial: bool

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def chunks(self) -> Iterator[bytes]:
        """The bytes from start to end, one GridFS chunk at a time."""
        self.file.seek(self.start)
        left = self.length
        try:
            while left > 0:
                data = self.file.read(min(CHUNK_BYTES, left))
                if not data:
                    break
                left -= len(data)
                yield data
        finally:
            self.file.close()


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single satisfiable range; None for the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None  # not a single byte range: RFC 9110 lets us send it all
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(size)
    return start, end


def download_available(*, purchase_status: str, product: Product | None) -> bool:
    """The one rule for offering a download: a completed purchase of a product with a file."""
    return (
        purchase_status == PurchaseStatus.COMPLETED and product is not None and bool(product.file)
    )


def download_open(*, user, purchase: Purchase, range_header: str | None = None) -> Delivery:
    """The buyer's file for a completed purchase, from the range asked; the download recorded."""
    if purchase.user_id != user.pk or purchase.status != PurchaseStatus.COMPLETED:
        raise DownloadUnavailable(
            "This purchase was refunded, so its download is no longer available."
            if purchase.status == PurchaseStatus.REFUNDED
            else "This purchase is not completed, so there is nothing to download yet."
        )
    product = Product.objects.filter(pk=purchase.product_id).first()
    if not download_available(purchase_status=purchase.status, product=product):
        raise DownloadUnavailable("This product has no file to download.")
    count, window_end = rate_limit_hit(key=f"download:user:{user.pk}", window_seconds=3600)
    if count > settings.DOWNLOAD_RATE_LIMIT:
        now = timezone.now()
        raise DownloadsLimited(
            RateLimitExceeded(retry_after_seconds=max(1, int((window_end - now).total_seconds())))
        )
    try:
        stored = product.file.storage.open(product.file.name)
    except FileNotFoundError:
        raise DownloadUnavailable("This product's file is missing; staff have been told.") from None
    chosen = _byte_range(range_header, stored.size)
    start, end = chosen or (0, stored.size - 1)
    Download.objects.create(
        user_id=user.pk,
        purchase_id=purchase.pk,
        product_name=purchase.product_name,
        byte_range=f"{start}-{end}" if chosen else "",
    )
    return Delivery(
        file=stored,
        name=product.file_name or stored.name.split("/")[-1],
        content_type=product.file_content_type or stored.content_type or "application/octet-stream",
        size=stored.size,
        start=start,
        end=max(end, start - 1),
        partial=chosen is not None,
    )

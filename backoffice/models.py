"""Staff views over other apps' collections (no collections of their own)."""

from referrals.models import Referral


class ReferralReview(Referral):
    """A referral as the review queue shows it: a conversion with abuse signals."""

    class Meta:
        proxy = True
        verbose_name = "referral review"
        verbose_name_plural = "referral reviews"

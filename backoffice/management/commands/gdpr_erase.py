"""Pseudonymise one user's personal data and disable the account (GDPR erasure)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_get_by_email
from backoffice.gdpr import add_user_arguments, user_erase, user_get_for_gdpr
from referral_site.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Erase one user's personal data: name becomes 'Deleted user', the e-mail address "
        "and Clerk id are removed, the account is disabled, and a Clerk-linked account's Clerk "
        "user is deleted through Clerk's Backend API. Purchases, referrals and "
        "credit ledger entries stay (with their amounts). Safe to run again."
    )

    def add_arguments(self, parser):
        add_user_arguments(
            parser, id_help="the user's id (24 hex digits); finds an already erased account"
        )
        parser.add_argument(
            "--actor",
            metavar="STAFF_EMAIL",
            help="the staff member carrying out the request, for the admin "
            "log (default: the user themself)",
        )

    def handle(self, *args, email, user_id, actor, **options):
        actor_user = None
        if actor:
            actor_user = user_get_by_email(email=actor)
            if actor_user is None or not actor_user.is_staff:
                raise CommandError("--actor: no staff user with that e-mail address")
        try:
            user = user_get_for_gdpr(email=email, user_id=user_id)
            erasure = user_erase(user=user, actor=actor_user)
        except ApplicationError as exc:  # UserNotFound among them
            raise CommandError(exc.message) from None
        if options["verbosity"] >= 1:
            if erasure.already_erased:
                self.stdout.write(f"user {erasure.user_id} already erased; nothing to do")
            else:
                self.stdout.write(
                    f"erased personal data of user {erasure.user_id}; account disabled"
                )
                if erasure.clerk_user_deleted:
                    self.stdout.write(f"deleted Clerk user {erasure.clerk_user_id}")
        if erasure.clerk_error:
            # The local erasure is done; the Clerk user is not, and this
            # command cannot retry it (the account no longer names it).
            raise CommandError(
                f"erased locally, but Clerk user {erasure.clerk_user_id} was not deleted "
                f"({erasure.clerk_error}); delete it in the Clerk dashboard"
            )

"""Admin building blocks shared by the apps."""


class ReadOnlyAdminMixin:
    """Staff may look, not edit: records of money and payments change only
    through services (admin actions), never through a raw change form."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

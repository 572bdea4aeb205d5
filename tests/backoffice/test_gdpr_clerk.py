"""gdpr_erase of a Clerk-linked account also deletes the Clerk user (Backend API)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

SUB = "user_2eraseABCdef"


@pytest.fixture
def linked(user_factory, fake_clerk):
    fake_clerk.add_user(SUB, email="linked@example.com")
    return user_factory(name="Linked Person", email="linked@example.com", clerk_user_id=SUB)


def test_erasing_a_clerk_linked_account_deletes_the_clerk_user(linked, fake_clerk, mongo):
    # When
    out = StringIO()
    call_command("gdpr_erase", email="linked@example.com", stdout=out)

    # Then: erased here, deleted there, and the output says both
    stored = mongo.users.find_one({"_id": linked.pk})
    assert stored["name"] == "Deleted user"
    assert stored["clerkUserId"].startswith("erased_")
    assert fake_clerk.count(f"DELETE /v1/users/{SUB}") == 1
    assert SUB not in fake_clerk.users
    assert out.getvalue() == (
        f"erased personal data of user {linked.pk}; account disabled\ndeleted Clerk user {SUB}\n"
    )


def test_when_clerk_fails_the_local_erasure_stands_and_the_command_says_so(
    linked, fake_clerk, mongo
):
    # Given
    fake_clerk.down = True

    # When
    with pytest.raises(CommandError) as error:
        call_command("gdpr_erase", email="linked@example.com", stdout=StringIO())

    # Then
    assert str(error.value) == (
        f"erased locally, but Clerk user {SUB} was not deleted (user delete failed "
        "(HTTP 503)); delete it in the Clerk dashboard"
    )
    stored = mongo.users.find_one({"_id": linked.pk})
    assert stored["name"] == "Deleted user"
    assert stored["isActive"] is False
    assert SUB in fake_clerk.users


def test_a_password_account_is_erased_without_asking_clerk(user, fake_clerk):
    out = StringIO()
    call_command("gdpr_erase", email=user.email, stdout=out)
    assert out.getvalue() == f"erased personal data of user {user.pk}; account disabled\n"
    assert fake_clerk.calls == []


def test_a_clerk_user_whose_account_is_erased_comes_back_as_nobody_known(
    client, linked, fake_clerk, mongo, caplog
):
    # Given: erased (and deleted in Clerk); a token of that Clerk user still in a browser
    call_command("gdpr_erase", email="linked@example.com", stdout=StringIO())
    client.cookies["__session"] = fake_clerk.token(sub=SUB, sid="sess_2eraseABC")

    caplog.set_level("INFO", logger="accounts.clerk")

    # When
    response = client.get("/")

    # Then: no new account for the deleted Clerk user (Clerk no longer knows it)
    assert not response.wsgi_request.user.is_authenticated
    assert mongo.users.count_documents({"clerkUserId": SUB}) == 0
    assert "clerk token rejected: unknown Clerk user" in caplog.messages

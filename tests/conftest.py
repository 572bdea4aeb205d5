import pytest

from tests.factories import ProductFactory, UserFactory


@pytest.fixture
def user_factory(db):
    return UserFactory


@pytest.fixture
def product_factory(db):
    return ProductFactory


@pytest.fixture
def user(user_factory):
    return user_factory(name="Ada Lovelace", email="ada@example.com")


@pytest.fixture
def staff_user(db):
    return UserFactory(name="Staff Member", email="staff@example.com", is_staff=True,
                       is_superuser=True)

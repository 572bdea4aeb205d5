import pytest
from django.db import connection
from pymongo import TEXT

from catalog.models import Product
from referral_site.db import text_search

TEXT_INDEX_NAME = "products_title_text"


@pytest.fixture(autouse=True)
def _fresh_text_index_knowledge():
    # What a process learnt about the text index must not leak between tests.
    text_search.forget_text_index()
    yield
    text_search.forget_text_index()


@pytest.fixture
def without_text_index(db):
    """The products collection without its title text index, restored afterwards."""
    products = connection.get_collection(Product._meta.db_table)
    products.drop_index(TEXT_INDEX_NAME)
    text_search.forget_text_index()
    yield
    products.create_index([("title", TEXT)], name=TEXT_INDEX_NAME)
    text_search.forget_text_index()

from catalog.models import Product


def test_home_lists_featured_products(client, product_factory):
    product_factory(title="Clean Code")

    response = client.get("/")

    assert response.status_code == 200
    assert b"Clean Code" in response.content
    assert Product.objects.count() == 1

from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    # Any string, so that a malformed id is a 404 from the view, not a resolver miss.
    path("<str:product_id>/", views.product_detail, name="product_detail"),
]

from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("<str:product_id>/cover", views.product_cover, name="cover"),
]

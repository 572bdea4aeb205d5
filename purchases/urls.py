from django.urls import path

from purchases import views, webhooks

app_name = "purchases"

urlpatterns = [
    # Any string, so that a malformed id is a 404 from the view, not a resolver miss.
    path("products/<str:product_id>/", views.product_detail, name="product_detail"),
    path("checkout/<str:product_id>/", views.checkout, name="checkout"),
    path("purchases/", views.purchase_list, name="list"),
    path("purchases/<str:purchase_id>/", views.purchase_detail, name="detail"),
    path("purchases/<str:purchase_id>/download/", views.purchase_download, name="download"),
    path("library/", views.library, name="library"),
    path(
        "purchases/<str:purchase_id>/payment/",
        views.purchase_payment_check,
        name="payment_check",
    ),
    path("webhooks/stripe/", webhooks.stripe_webhook, name="stripe-webhook"),
]

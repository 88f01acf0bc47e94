from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from notifications.api_docs import ApiDocsView
from notifications.pages import home_page, inbox_demo_page

urlpatterns = [
    path("", home_page, name="home"),
    path("demo/inbox/", inbox_demo_page, name="inbox-demo"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("notifications.urls")),
    path("api/v1/", include("preferences.urls_api")),
    path("api/v1/", include("delivery.urls_api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("preferences/", include("preferences.urls")),
    path("unsubscribe/", include("preferences.urls_unsubscribe")),
    path("", include("monitoring.urls")),
]

handler400 = "notifications.api_errors.bad_request_view"
handler404 = "notifications.api_errors.not_found_view"
handler500 = "notifications.api_errors.server_error_view"

"""`/api/docs/`: Swagger UI over `/api/schema/`, served from Clarion's own static files.

The page loads nothing from another site: `swagger-ui.css` and `swagger-ui-bundle.js` are
vendored in notifications/static/swagger-ui/ from the npm package swagger-ui-dist 5.35.0,
with its LICENSE and NOTICE. To upgrade, `npm pack swagger-ui-dist@<version>` and copy those
files (and `swagger-ui-bundle.js.LICENSE.txt`) over.
"""

from __future__ import annotations

from django.templatetags.static import static
from drf_spectacular.views import SpectacularSwaggerView

SWAGGER_UI_STATIC_DIR = "swagger-ui"


class ApiDocsView(SpectacularSwaggerView):
    template_name = "api/docs.html"
    title = "Clarion API"

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        # Through staticfiles, so STATIC_URL, WhiteNoise and collectstatic apply as to any asset.
        return static(f"{SWAGGER_UI_STATIC_DIR}/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> None:
        return None  # the browser asks for /favicon.ico, never a CDN's

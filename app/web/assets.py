"""Third-party browser assets, installed from the npm registry into ``node_modules/`` and served
locally: no CDN, and nothing third-party committed. Only the packages' ``dist`` folders (and the
API reference's two files) are exposed.
"""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from app.config import PROJECT_ROOT

NODE_MODULES = PROJECT_ROOT / "node_modules"
SERVED = ("bootstrap/dist/", "htmx.org/dist/", "tom-select/dist/", "echarts/dist/")
# swagger-ui-dist keeps its files at the package's root: only the two the API reference loads
SERVED += ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css")

bp = Blueprint("assets", __name__)


@bp.get("/vendor/<path:filename>")
def vendor(filename: str):
    if not filename.startswith(SERVED) or ".." in filename:
        abort(404)
    return send_from_directory(NODE_MODULES, filename, max_age=86400)

"""Our tabs in Locust's web UI: routes (:mod:`.routes`), the Conversations table (:mod:`.tables`), the live
plots (:mod:`.live`, drawn by the renderer process :mod:`.render`) and the Report tab's script (``webui.js``).
"""

from __future__ import annotations

from loadtest.harness.webui.routes import COLUMNS, install_web_ui, table_rows

__all__ = ["COLUMNS", "install_web_ui", "table_rows"]

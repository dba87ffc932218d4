"""The ICU station page: static files (index.html, ES modules, CSS), no build step.

Served as `app.main` does: `/` answers index.html, and this folder is mounted at `/station/`
(index.html loads `/station/station.css` and `/station/station.js`; the modules import each
other by relative URL). The page talks to `/api/...` and `/ws/station`.
"""

from pathlib import Path

STATION_DIR = Path(__file__).resolve().parent
"""The folder holding index.html and its modules."""

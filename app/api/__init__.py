"""The REST API: one router per resource (assembled in `app.api.router`)."""

"""Alembic environment and versions of the iaewatch schema (`iaewatch db upgrade`)."""

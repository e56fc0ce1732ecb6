"""The app database (``rxdesk.sqlite``): SQLAlchemy models, Alembic migrations, transactions."""

"""The one way a service opens the SQL store it keeps shared state in: SQLite by default, PostgreSQL by URL.

Replicas of a service share state only through this store, so every guarantee that must hold across
replicas (a visitor's daily limit, one vote per pair, a review decision) is one SQL statement on it.
"""

from __future__ import annotations

import time

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from commentslab.services.common.errors import SettingError

BACKENDS = ("sqlite", "postgresql")


def open_database(url: str, setting: str = "--database-url") -> Engine:
    """An engine for ``url``, checked by connecting once; a SettingError naming ``setting`` when the URL is
    malformed, names another backend, or the server cannot be reached. The password is never shown."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingError(setting, "is not a database URL; use sqlite:///FILE or "
                                    "postgresql://USER@HOST:PORT/DATABASE") from None
    if parsed.get_backend_name() not in BACKENDS:
        raise SettingError(setting, f"the {parsed.get_backend_name()!r} backend is not supported; use sqlite:///FILE "
                                    "or postgresql://USER@HOST:PORT/DATABASE")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver installed
    shown = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
            # In-memory SQLite must be one shared connection, or each thread would see its own empty database.
            engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif parsed.get_backend_name() == "sqlite":
            # Writers queue on SQLite's file lock instead of failing at once.
            engine = create_engine(parsed, connect_args={"timeout": 30})
        else:
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise SettingError(setting, f"{shown} cannot be used ({exc})") from None
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else exc.__class__.__name__
        what = ("that its folder exists and is writable" if parsed.get_backend_name() == "sqlite"
                else "the host, database, user and password (PGPASSWORD)")
        raise SettingError(setting, f"cannot connect to {shown} ({reason}); check {what}") from None
    return engine


def create_tables(engine: Engine, metadata: MetaData, setting: str = "--database-url") -> None:
    """Create ``metadata``'s tables that do not exist yet; a SettingError naming ``setting`` when the database
    will not take them (read-only, no permission). Replicas starting together may race to create the same
    table; the loser finds it made and goes on."""
    for attempt in range(3):
        try:
            metadata.create_all(engine)
            return
        except SQLAlchemyError as exc:
            if attempt == 2:
                reason = str(getattr(exc, "orig", None) or exc.__class__.__name__).strip().splitlines()[0]
                shown = engine.url.render_as_string(hide_password=True)
                raise SettingError(setting, f"cannot create tables in {shown} ({reason}); the database must be "
                                            "writable by its user") from None
            time.sleep(0.2 * (attempt + 1))

"""The working store's SQLite schema and connection (the tables are described in :mod:`opsml_image.store`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

_SCHEMA_VERSION = "2"  # 2: image_total

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS image (
    id INTEGER PRIMARY KEY,
    split TEXT NOT NULL,
    split_order INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    caption TEXT,
    search TEXT,                           -- casefolded caption, for the text filter
    categories TEXT NOT NULL DEFAULT '[]', -- image-level category ids (JSON list)
    boxes TEXT NOT NULL DEFAULT '[]',      -- [[x, y, w, h, category], ...]
    extra TEXT NOT NULL DEFAULT '{}',      -- other record keys (JSON object)
    n_boxes INTEGER NOT NULL DEFAULT 0,
    annotated INTEGER NOT NULL DEFAULT 0,
    lines TEXT NOT NULL DEFAULT '[]',      -- source line numbers in the split's metadata file
    first_line INTEGER,
    last_line INTEGER,
    dropped INTEGER NOT NULL DEFAULT 0,    -- malformed boxes left out by merge()
    has_record INTEGER NOT NULL DEFAULT 1,
    on_disk INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    dirty INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_image_key ON image (split_order, file_name);
CREATE INDEX IF NOT EXISTS ix_image_annotated ON image (annotated, split_order, file_name);
CREATE INDEX IF NOT EXISTS ix_image_errors ON image (split_order, file_name) WHERE errors > 0;
CREATE INDEX IF NOT EXISTS ix_image_dirty ON image (split_order) WHERE dirty = 1;
CREATE INDEX IF NOT EXISTS ix_image_last_line ON image (split_order, last_line);
CREATE TABLE IF NOT EXISTS image_category (
    category INTEGER NOT NULL,
    split_order INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    n_boxes INTEGER NOT NULL,
    tagged INTEGER NOT NULL,
    PRIMARY KEY (category, split_order, file_name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_image_category_key ON image_category (split_order, file_name);
CREATE TABLE IF NOT EXISTS image_total (    -- images per split and annotated, kept by the triggers below
    split_order INTEGER NOT NULL,
    annotated INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (split_order, annotated)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS image_total_insert AFTER INSERT ON image BEGIN
    INSERT INTO image_total VALUES (new.split_order, new.annotated, 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS image_total_delete AFTER DELETE ON image BEGIN
    UPDATE image_total SET n = n - 1 WHERE split_order = old.split_order AND annotated = old.annotated;
END;
CREATE TRIGGER IF NOT EXISTS image_total_update AFTER UPDATE OF split_order, annotated ON image
WHEN old.split_order != new.split_order OR old.annotated != new.annotated BEGIN
    UPDATE image_total SET n = n - 1 WHERE split_order = old.split_order AND annotated = old.annotated;
    INSERT INTO image_total VALUES (new.split_order, new.annotated, 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TABLE IF NOT EXISTS category_total (
    category INTEGER PRIMARY KEY,
    n_boxes INTEGER NOT NULL,
    images INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstone (
    split_order INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    split TEXT NOT NULL,
    lines TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (split_order, file_name)
);
CREATE TABLE IF NOT EXISTS change (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    split TEXT NOT NULL,
    file_name TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS issue (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    line INTEGER,
    field TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    severity TEXT NOT NULL,
    file_name TEXT,
    split TEXT
);
CREATE INDEX IF NOT EXISTS ix_issue_code ON issue (code, id);
"""


def _connect(db_path: Path) -> sqlite3.Connection:
    """Open (creating its folder and tables) the database: WAL with ``synchronous=FULL``, one connection for
    all threads (the store guards it with a lock), explicit transactions (``isolation_level=None``),
    recursive triggers (so a row that ``INSERT OR REPLACE`` replaces leaves ``image_total`` too)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA temp_store=MEMORY")
    db.execute("PRAGMA cache_size=-65536")
    db.execute("PRAGMA recursive_triggers=ON")
    db.executescript(_SCHEMA)
    return db


def _count_images(db: sqlite3.Connection) -> None:
    """Recount ``image_total`` from the rows (for a store written before the table and its triggers)."""
    db.execute("DELETE FROM image_total")
    db.execute("INSERT INTO image_total SELECT split_order, annotated, count(*) FROM image GROUP BY 1, 2")


def _read_meta(db: sqlite3.Connection, key: str) -> str | None:
    """A ``meta`` value (None when unset)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _write_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

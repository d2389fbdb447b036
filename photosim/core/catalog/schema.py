"""Numbered migrations. Each runs once, in order, and is recorded in ``schema_migrations``.

Never edit a migration that has shipped; add a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        reference INTEGER NOT NULL DEFAULT 0,   -- protected: never proposed for deletion
        online INTEGER NOT NULL DEFAULT 1        -- 0 while the folder is missing (unplugged drive)
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT,
        width INTEGER, height INTEGER, format TEXT, date_taken TEXT,
        orientation INTEGER, camera TEXT, exif_fields INTEGER NOT NULL DEFAULT 0,
        fingerprint BLOB,
        error TEXT,                              -- why the file could not be read, in words
        online INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX photos_by_hash ON photos(content_hash);
    -- Vectors are keyed by content, so a moved or copied file never needs re-embedding,
    -- and by model, so vectors from different models never mix.
    CREATE TABLE vectors (
        content_hash TEXT NOT NULL,
        model_id TEXT NOT NULL,
        vector BLOB NOT NULL,                    -- float16, L2-normalised
        PRIMARY KEY (content_hash, model_id)
    ) WITHOUT ROWID;
    -- "Not a duplicate" decisions, by content so they survive renames.
    CREATE TABLE not_duplicates (
        hash_a TEXT NOT NULL, hash_b TEXT NOT NULL,
        PRIMARY KEY (hash_a, hash_b)
    ) WITHOUT ROWID;
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE action_items (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        original_path TEXT NOT NULL,
        trash_path TEXT,                          -- where the file went, when the platform says
        size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, content_hash TEXT
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: ImageNet class guesses (for cluster names and word search) and saved cluster state
    """
    CREATE TABLE classes (
        content_hash TEXT NOT NULL,
        model_id TEXT NOT NULL,
        class_ids BLOB NOT NULL,                 -- int16 top-k class indices, best first
        probs BLOB NOT NULL,                     -- float32 their probabilities
        PRIMARY KEY (content_hash, model_id)
    ) WITHOUT ROWID;
    CREATE TABLE cluster_state (
        model_id TEXT NOT NULL,
        granularity REAL NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (model_id, granularity)
    ) WITHOUT ROWID;
    """,
    # 3: each photo's nearest neighbours, so that a duplicate pass searches only for photos
    # added or changed since the last one (photosim/core/duplicates/neighbours.py)
    """
    CREATE TABLE neighbours (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        search_key TEXT NOT NULL,                -- the model and search settings they are for
        content_hash TEXT NOT NULL,              -- the content they were found for
        ids BLOB NOT NULL,                       -- int64 neighbour photo ids, best first
        sims BLOB NOT NULL,                      -- float32 their cosines
        gates BLOB NOT NULL,                     -- float32 their pixel-gate scores (NaN: none)
        checks BLOB NOT NULL                     -- uint32 CRC-32 of their content hashes then
    );
    -- How the pixels of two contents relate, as the duplicate judge found (judge.PairJudge),
    -- so that a new session does not compare the same grids again.
    CREATE TABLE pixel_verdicts (
        hash_a TEXT NOT NULL,                    -- hash_a < hash_b
        hash_b TEXT NOT NULL,
        valid_for TEXT NOT NULL,                 -- PixelVerdicts.key: judge and settings
        level INTEGER,                           -- NULL: the pixels relate them in no way
        score REAL NOT NULL,
        reframed INTEGER NOT NULL,
        mirrored INTEGER NOT NULL,
        PRIMARY KEY (hash_a, hash_b)
    ) WITHOUT ROWID;
    """,
    # 4: what the last scan could not look at (broken links, pipes, link loops, unreadable
    # folders), kept until a scan of its folder finds it fixed, so `status --errors` and the
    # GUI can list it after the run that met it
    """
    CREATE TABLE scan_problems (
        path TEXT NOT NULL PRIMARY KEY,           -- TEXT, or BLOB when not UTF-8 (pathcodec)
        reason TEXT NOT NULL,
        seen_at TEXT NOT NULL
    );
    """,
    # 5: videos. The video's own row in photos carries its poster frame (vector, fingerprint,
    # thumbnail); these hold its length and the vectors of all its sampled frames, keyed by
    # content like vectors, so a moved or copied video is not decoded again
    """
    CREATE TABLE videos (
        content_hash TEXT NOT NULL PRIMARY KEY,
        duration REAL NOT NULL,                  -- seconds
        poster_time REAL NOT NULL                -- the frame that stands for the video
    ) WITHOUT ROWID;
    CREATE TABLE video_frames (
        content_hash TEXT NOT NULL,
        model_id TEXT NOT NULL,
        time REAL NOT NULL,                      -- seconds from the start
        vector BLOB NOT NULL,                    -- as in vectors: float16 + CRC-32
        PRIMARY KEY (content_hash, model_id, time)
    ) WITHOUT ROWID;
    """,
)

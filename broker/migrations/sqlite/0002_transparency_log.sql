-- The transparency log, national administrators' proposals and the member states.

-- Every directory change, in log order. seq is the 0-based leaf index of the Merkle
-- tree; entry is the exact canonical entry (keys.log) and leaf_hash its RFC 9162 leaf
-- hash. Entries are never updated or deleted: the signed tree heads commit to them.
CREATE TABLE log_entries (
    seq         INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 0),
    cp_id       TEXT    NOT NULL,
    type        TEXT    NOT NULL CHECK (type IN ('record', 'encryption-key', 'revocation')),
    entry       BLOB    NOT NULL,
    leaf_hash   BLOB    NOT NULL CHECK (length(leaf_hash) = 32),
    appended_at INTEGER NOT NULL
);

CREATE INDEX log_entries_cp_id ON log_entries (cp_id, seq);

-- Signed proposals of national administrators (and of an old identity key that asks
-- for its replacement), waiting for the Secretariat's decision or decided. document
-- and signature are kept exactly as the proposer signed them.
CREATE TABLE proposals (
    proposal_id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    cp_id       TEXT    NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('register', 'update', 'replace-identity')),
    proposer    TEXT    NOT NULL,
    document    BLOB    NOT NULL,
    signature   BLOB    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    reason      TEXT,
    flags       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER
);

CREATE INDEX proposals_pending ON proposals (status, cp_id);

-- The OAS member states, seeded from the data file shipped with the code at every
-- start. languages is a JSON array of language codes.
CREATE TABLE member_states (
    iso2      TEXT NOT NULL PRIMARY KEY CHECK (length(iso2) = 2),
    iso3      TEXT NOT NULL,
    name_en   TEXT NOT NULL,
    name_es   TEXT NOT NULL,
    subregion TEXT NOT NULL,
    languages TEXT NOT NULL
);

-- Initial schema of the broker.
-- Times are unix seconds in INTEGER columns (BIGINT in PostgreSQL). The column types
-- and constraints are kept portable so that the PostgreSQL migrations can create the
-- same table shapes. The migration runner wraps this file in a transaction and
-- records the version in schema_version, so the file contains neither.

-- Directory of contact points. Each row keeps the exact record bytes and the
-- Secretariat's signature over them, which clients verify themselves. country, status
-- and identity_key repeat fields of the signed record so that the broker can query them.
CREATE TABLE directory_records (
    cp_id        TEXT    NOT NULL PRIMARY KEY,
    country      TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    identity_key BLOB    NOT NULL CHECK (length(identity_key) = 32),
    record       BLOB    NOT NULL,
    signature    BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Registration requests, one per contact point. A new request replaces a rejected one.
-- request and signature are the exact request bytes and the applicant's self-signature.
-- decision and decision_signature are the Secretariat's signed decision, and reason
-- is the rejection reason shown to the applicant. They stay NULL while pending.
CREATE TABLE registrations (
    cp_id              TEXT    NOT NULL PRIMARY KEY,
    country            TEXT    NOT NULL,
    identity_key       BLOB    NOT NULL CHECK (length(identity_key) = 32),
    request            BLOB    NOT NULL,
    signature          BLOB    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    reason             TEXT,
    decision           BLOB,
    decision_signature BLOB,
    created_at         INTEGER NOT NULL,
    decided_at         INTEGER
);

-- Envelopes exactly as submitted. The broker cannot read header, signature or body
-- beyond what the sender declared in the other columns. digest identifies the exact
-- envelope bytes and tells a resubmission from a different envelope with the same id.
-- recipients is a JSON array of cp_ids in submit order, so that an envelope reads back
-- without a join. The mailbox table holds the per-recipient delivery state.
-- TODO: expired envelopes are never deleted yet. The purge job should come with an
-- index on expires_at.
CREATE TABLE envelopes (
    msg_id      TEXT    NOT NULL PRIMARY KEY CHECK (length(msg_id) = 32),
    sender      TEXT    NOT NULL,
    recipients  TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    priority    INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    header      BLOB    NOT NULL,
    signature   BLOB    NOT NULL,
    body        BLOB    NOT NULL,
    digest      BLOB    NOT NULL CHECK (length(digest) = 32),
    received_at INTEGER NOT NULL
);

-- One delivery per recipient of each envelope. seq increases with every insert, so it
-- orders deliveries of equal priority by arrival (BIGSERIAL in PostgreSQL). priority
-- and expires_at are copied from the envelope, which never changes, so that the
-- mailbox index alone can filter and order a fetch. acked_at is NULL until the
-- recipient acknowledges the delivery.
CREATE TABLE mailbox (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    recipient  TEXT    NOT NULL,
    msg_id     TEXT    NOT NULL REFERENCES envelopes (msg_id) ON DELETE CASCADE,
    priority   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    acked_at   INTEGER,
    UNIQUE (msg_id, recipient)
);

-- Serves fetch: the pending deliveries of one recipient in fetch order. The unique
-- constraint above serves ack and the cascade from envelopes.
CREATE INDEX mailbox_pending ON mailbox (recipient, priority DESC, seq) WHERE acked_at IS NULL;

-- The collector's coordination state (docs/design/fleet.md, "PostgreSQL
-- schema"). The data itself (records, checkpoints, proofs, receipts) lives
-- in the bucket; these tables say which node is who, which keys it may
-- sign with, what has been accepted from it, and what went wrong.

-- A registered node: one sealer log. id is the per-node advisory lock key
-- (pg_advisory_xact_lock(class, id)) and never reused.
CREATE TABLE nodes (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    origin        text NOT NULL UNIQUE CHECK (origin ~ '^audit-sealer/[0-9a-f]{32}$'),
    registered_at timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    -- The latest accepted checkpoint (0 and the empty tree's root before any).
    size          bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    root_hash     bytea NOT NULL DEFAULT decode('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex')
                  CHECK (length(root_hash) = 32)
);

-- Client certificates a node may present (mTLS), by the SHA-256 of their
-- SubjectPublicKeyInfo.
CREATE TABLE node_certificates (
    spki_sha256 bytea PRIMARY KEY CHECK (length(spki_sha256) = 32),
    node_id     integer NOT NULL REFERENCES nodes (id),
    added_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- The node's log keys (FORMAT.md §5.1): registered out of band (the first)
-- or learnt from an accepted audit.key_introduced that a trusted key
-- endorsed. retired_at_size: the size of the first accepted checkpoint that
-- retired the key; revoked_at: an operator's decision, whatever the log says.
CREATE TABLE node_keys (
    node_id              integer NOT NULL REFERENCES nodes (id),
    key_id               text NOT NULL CHECK (key_id ~ '^[0-9a-f]{32}$'),
    algorithm            text NOT NULL CHECK (algorithm IN ('ed25519', 'ecdsa-p256')),
    public_key           bytea NOT NULL,
    introduced_at_seq    bigint CHECK (introduced_at_seq >= 0),
    trusted_from_size    bigint NOT NULL DEFAULT 0 CHECK (trusted_from_size >= 0),
    retired_at_size      bigint CHECK (retired_at_size > 0),
    revoked_at           timestamptz,
    PRIMARY KEY (node_id, key_id)
);

-- Every checkpoint accepted from a node, with the collector's receipt
-- (its cosignature line). The bucket holds the same note under
-- checkpoints/<size>; this row is what the replicas coordinate on.
CREATE TABLE checkpoints (
    node_id     integer NOT NULL REFERENCES nodes (id),
    size        bigint NOT NULL CHECK (size > 0),
    root_hash   bytea NOT NULL CHECK (length(root_hash) = 32),
    note        text NOT NULL,
    receipt     text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, size)
);

-- A node that presented a history inconsistent with what was accepted.
-- The evidence (both signed checkpoints and the proof that failed, or the
-- two differing records) is kept in the bucket under evidence_key.
CREATE TABLE fork_alarms (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_id        integer NOT NULL REFERENCES nodes (id),
    raised_at      timestamptz NOT NULL DEFAULT now(),
    held_size      bigint NOT NULL,
    held_root      bytea NOT NULL CHECK (length(held_root) = 32),
    presented_note text NOT NULL,
    evidence_key   text NOT NULL,
    resolved_at    timestamptz,
    resolution     text
);
CREATE INDEX fork_alarms_open ON fork_alarms (node_id) WHERE resolved_at IS NULL;

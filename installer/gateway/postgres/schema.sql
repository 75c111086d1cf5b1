-- The shared state of several hjemmekontor gateways in PostgreSQL (docs/cluster.md).
--
-- Run once, as the database's owner, with the gateway's login role named:
--   psql -v ON_ERROR_STOP=1 -v gateway_role=hjemmekontor_gateway -d hjemmekontor -f schema.sql
-- Safe to run again. The gateway's role may read the chain and append to it, nothing else:
-- it cannot change or remove a record, and neither can anyone else while the triggers stand.
-- The lockout counts are working state, not a record: the gateway reads, writes and forgets
-- them (they are written to the audit chain as refusals anyway).

CREATE TABLE IF NOT EXISTS audit_records (
    -- The record's place in the one chain, from 1; no gap, no fork (the primary key).
    seq   bigint      PRIMARY KEY CHECK (seq > 0),
    time  timestamptz NOT NULL,
    -- This record's hash and the one before it, as in the line.
    hash  text        NOT NULL UNIQUE CHECK (length(hash) = 64),
    prev  text        NOT NULL CHECK (length(prev) = 64),
    -- The record exactly as `audit verify` reads it: one JSON line.
    line  text        NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);

-- Append-only, for everyone: an edit or a removal is refused by the database itself.
CREATE OR REPLACE FUNCTION audit_records_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % is refused', TG_OP;
END
$$;

DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records;
CREATE TRIGGER audit_records_append_only
    BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_refuse_change();

DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records;
CREATE TRIGGER audit_records_no_truncate
    BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_refuse_change();

REVOKE ALL ON audit_records FROM PUBLIC;
REVOKE ALL ON audit_records FROM :"gateway_role";
GRANT SELECT, INSERT ON audit_records TO :"gateway_role";

-- The lockout counts the gateways share: one row per username, card or address with recent
-- failures or a lock, in the form the gateway writes (JSON: the failures' and the lock's
-- times, the doubling level, and when it was written). A row is removed when it has nothing
-- left to remember and at a success (username and card).
CREATE TABLE IF NOT EXISTS lockout_counters (
    scope   text        NOT NULL CHECK (scope IN ('user', 'card', 'address')),
    key     text        NOT NULL CHECK (length(key) <= 64),
    state   text        NOT NULL CHECK (length(state) <= 65536),
    updated timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX IF NOT EXISTS lockout_counters_updated ON lockout_counters (updated);

REVOKE ALL ON lockout_counters FROM PUBLIC;
REVOKE ALL ON lockout_counters FROM :"gateway_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON lockout_counters TO :"gateway_role";

-- The shared state of several hjemmekontor gateways in PostgreSQL (docs/cluster.md).
--
-- Run once, as the database's owner, with the gateway's login role named:
--   psql -v ON_ERROR_STOP=1 -v gateway_role=hjemmekontor_gateway -d hjemmekontor -f schema.sql
-- Safe to run again. The gateway's role may read the chain and append to it, nothing else:
-- it cannot change or remove a record, and neither can anyone else while the triggers stand.
-- The lockout counts are likewise only read and added to.

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

-- The lockout counts the gateways share, only ever added to: a username's, card's or
-- address's counts are its newest row, in the form the gateway writes (JSON: the failures' and
-- the lock's times, the doubling level, and when it was written; NULL: nothing remembered, as
-- after a success). A row is added when a key's counts change.
--
-- The gateways' role reads and inserts, nothing else. Rows older than 15 days no longer
-- matter (a window of at most a day, locks of at most a week that are forgotten a week after
-- they end); remove them as the owner, e.g. daily:
--   DELETE FROM lockout_counters WHERE written < now() - interval '15 days';
-- To lift a lock at once, remove the key's rows as the owner:
--   DELETE FROM lockout_counters WHERE scope = 'user' AND key = 'kari.nordmann';
CREATE TABLE IF NOT EXISTS lockout_counters (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope   text        NOT NULL CHECK (scope IN ('user', 'card', 'address')),
    key     text        NOT NULL CHECK (length(key) <= 64),
    state   text        CHECK (length(state) <= 65536),
    written timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS lockout_counters_key ON lockout_counters (scope, key, id);
CREATE INDEX IF NOT EXISTS lockout_counters_written ON lockout_counters (written);

REVOKE ALL ON lockout_counters FROM PUBLIC;
REVOKE ALL ON lockout_counters FROM :"gateway_role";
GRANT SELECT, INSERT ON lockout_counters TO :"gateway_role";

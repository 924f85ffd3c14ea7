-- 0013_audit_tiles: the log's Merkle tree in tiles, as the C2SP
-- tlog-tiles layout and Tessera store it (issue 18, item 3). The tile at
-- (level, idx) holds the hashes of the tree nodes at level 8*level with
-- indexes idx*256 to idx*256+255, 32 bytes each, in order: level 0 holds
-- the leaf hashes. A proof reads three to six tiles instead of two dozen
-- audit_node rows. The sequencer writes the tiles in the transaction that
-- sequences their events; the service builds the tiles of a log sequenced
-- before this migration when it starts (sqlstore/tiles.go).
-- A tile only grows: the trigger refuses any change that is not an
-- extension of the hashes already stored, and every delete.
-- SQLite twin: migrations/sqlite/0013_audit_tiles.sql.
CREATE TABLE audit_tile (
    level  BIGINT NOT NULL CHECK (level >= 0 AND level < 8),
    idx    BIGINT NOT NULL CHECK (idx >= 0),
    hashes BYTEA NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8192 AND length(hashes) % 32 = 0),
    PRIMARY KEY (level, idx)
);

CREATE FUNCTION countersign_tile_extend_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.level <> OLD.level OR NEW.idx <> OLD.idx
       OR length(NEW.hashes) <= length(OLD.hashes)
       OR substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) <> OLD.hashes THEN
        RAISE EXCEPTION '% on audit_tile is not allowed: a tile may only be extended', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_tile_extend_only BEFORE UPDATE OR DELETE ON audit_tile
    FOR EACH ROW EXECUTE FUNCTION countersign_tile_extend_only();
CREATE TRIGGER audit_tile_no_truncate BEFORE TRUNCATE ON audit_tile
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE audit_tile ENABLE ALWAYS TRIGGER audit_tile_extend_only;
ALTER TABLE audit_tile ENABLE ALWAYS TRIGGER audit_tile_no_truncate;

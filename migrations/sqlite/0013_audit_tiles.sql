-- 0013_audit_tiles: the log's Merkle tree in tiles, as the C2SP
-- tlog-tiles layout and Tessera store it (issue 18, item 3). The tile at
-- (level, idx) holds the hashes of the tree nodes at level 8*level with
-- indexes idx*256 to idx*256+255, 32 bytes each, in order: level 0 holds
-- the leaf hashes. The sequencer writes the tiles in the transaction that
-- sequences their events; the service builds the tiles of a log sequenced
-- before this migration when it starts (sqlstore/tiles.go).
-- A tile only grows: the triggers refuse any change that is not an
-- extension of the hashes already stored, and every delete.
-- PostgreSQL twin: migrations/postgres/0013_audit_tiles.sql.
CREATE TABLE audit_tile (
    level  BIGINT NOT NULL CHECK (level >= 0 AND level < 8),
    idx    BIGINT NOT NULL CHECK (idx >= 0),
    hashes BLOB NOT NULL CHECK (typeof(hashes) = 'blob' AND length(hashes) BETWEEN 32 AND 8192 AND length(hashes) % 32 = 0),
    PRIMARY KEY (level, idx)
);

CREATE TRIGGER audit_tile_extend_only BEFORE UPDATE ON audit_tile
WHEN NEW.level <> OLD.level OR NEW.idx <> OLD.idx
  OR length(NEW.hashes) <= length(OLD.hashes)
  OR substr(NEW.hashes, 1, length(OLD.hashes)) <> OLD.hashes
BEGIN SELECT RAISE(ABORT, 'UPDATE on audit_tile is not allowed: a tile may only be extended'); END;
CREATE TRIGGER audit_tile_no_delete BEFORE DELETE ON audit_tile
BEGIN SELECT RAISE(ABORT, 'DELETE on audit_tile is not allowed: a tile may only be extended'); END;

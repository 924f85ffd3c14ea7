-- 0011_record_sharing: the client's own file (issue 15, item 3). The signer
-- decides, when they sign, whether the person the case is about may read
-- the entry: 'shared', or 'withheld' with a reason code (third_party,
-- safeguarding, legal; review.WithheldReasons). The reviewer's decision
-- keeps the choice for the entry a countersignature signs later, and a
-- pending correction keeps the sharing of the entry it corrects. Entries
-- signed before this migration were never asked: '' (undecided), which the
-- client's file shows as withheld until a person decides.
-- SQLite twin of migrations/postgres/0011_record_sharing.sql.

ALTER TABLE decisions ADD COLUMN sharing TEXT NOT NULL DEFAULT ''
    CHECK (sharing IN ('', 'shared', 'withheld'));
ALTER TABLE decisions ADD COLUMN withheld_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE record_entries ADD COLUMN sharing TEXT NOT NULL DEFAULT ''
    CHECK (sharing IN ('', 'shared', 'withheld'));
ALTER TABLE record_entries ADD COLUMN withheld_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE record_corrections ADD COLUMN sharing TEXT NOT NULL DEFAULT ''
    CHECK (sharing IN ('', 'shared', 'withheld'));
ALTER TABLE record_corrections ADD COLUMN withheld_reason TEXT NOT NULL DEFAULT '';

-- 0018_sealed_case_texts: more case texts sealed at rest with the case's
-- key (issue 19, item 3; sqlstore/casekeys.go, sealedTables): consent
-- notes, countersignatures' reasons and comments, pending corrections,
-- vigilance statements, the reasons of answers to client responses and of
-- closed agenda entries, and the verdicts on a decision's items and
-- statements (JSON with the reviewer's comments). Consents refuse UPDATE (0016 lets erasure through);
-- one more UPDATE passes, as 0017 allows for notes: `countersign keys
-- encrypt-existing` sealing, in place, the plaintext note of a consent
-- written before, every other column unchanged (the salt included, which
-- the case data check holds the opened note to). Decisions let
-- encrypt-existing seal their items and statements too, as 0017 lets it
-- seal their final text, reason, comment and diff.
-- SQLite twin of migrations/postgres/0018_sealed_case_texts.sql.

DROP TRIGGER consents_no_update;
CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
WHEN ((SELECT erased_at FROM cases WHERE id = OLD.case_id) IS NULL
        AND NOT (substr(OLD.note, 1, 4) <> 'cs1:' AND substr(NEW.note, 1, 4) = 'cs1:'
            AND NEW.seq IS OLD.seq AND NEW.given IS OLD.given AND NEW.recorded_by IS OLD.recorded_by
            AND NEW.recorded_at IS OLD.recorded_at AND NEW.salt IS OLD.salt))
    OR NEW.id <> OLD.id OR NEW.case_id <> OLD.case_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on consents is not allowed: the table is append-only'); END;

DROP TRIGGER decisions_no_update;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
WHEN ((SELECT c.erased_at FROM drafts d JOIN cases c ON c.id = d.case_id WHERE d.id = OLD.draft_id) IS NULL
        AND NOT (
            NEW.outcome IS OLD.outcome AND NEW.decided_by IS OLD.decided_by AND NEW.edited IS OLD.edited AND
            NEW.edit_ratio IS OLD.edit_ratio AND NEW.review_ms IS OLD.review_ms AND NEW.fast IS OLD.fast AND
            NEW.decided_at IS OLD.decided_at AND NEW.reason_code IS OLD.reason_code AND
            NEW.countersign_required IS OLD.countersign_required AND
            NEW.sharing IS OLD.sharing AND NEW.withheld_reason IS OLD.withheld_reason AND NEW.salt IS OLD.salt AND
            (NEW.final_text IS OLD.final_text OR (substr(OLD.final_text, 1, 4) <> 'cs1:' AND substr(NEW.final_text, 1, 4) = 'cs1:')) AND
            (NEW.reason IS OLD.reason OR (substr(OLD.reason, 1, 4) <> 'cs1:' AND substr(NEW.reason, 1, 4) = 'cs1:')) AND
            (NEW.comment IS OLD.comment OR (substr(OLD.comment, 1, 4) <> 'cs1:' AND substr(NEW.comment, 1, 4) = 'cs1:')) AND
            (NEW.diff IS OLD.diff OR (substr(OLD.diff, 1, 4) <> 'cs1:' AND substr(NEW.diff, 1, 4) = 'cs1:')) AND
            (NEW.items IS OLD.items OR (substr(OLD.items, 1, 4) <> 'cs1:' AND substr(NEW.items, 1, 4) = 'cs1:')) AND
            (NEW.statements IS OLD.statements OR (substr(OLD.statements, 1, 4) <> 'cs1:' AND substr(NEW.statements, 1, 4) = 'cs1:'))))
    OR NEW.id <> OLD.id OR NEW.draft_id <> OLD.draft_id
BEGIN SELECT RAISE(ABORT, 'UPDATE on decisions is not allowed: the table is append-only'); END;

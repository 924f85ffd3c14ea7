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
-- PostgreSQL twin of migrations/sqlite/0018_sealed_case_texts.sql.
DROP TRIGGER consents_no_update ON consents;
CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
    FOR EACH ROW
    WHEN (NOT (OLD.note NOT LIKE 'cs1:%' AND NEW.note LIKE 'cs1:%'
        AND (NEW.id, NEW.case_id, NEW.seq, NEW.given, NEW.recorded_by, NEW.recorded_at, NEW.salt)
            IS NOT DISTINCT FROM (OLD.id, OLD.case_id, OLD.seq, OLD.given, OLD.recorded_by, OLD.recorded_at, OLD.salt)))
    EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE consents ENABLE ALWAYS TRIGGER consents_no_update;

DROP TRIGGER decisions_no_update ON decisions;
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
    FOR EACH ROW
    WHEN (NOT (
        (NEW.id, NEW.draft_id, NEW.outcome, NEW.decided_by, NEW.edited, NEW.edit_ratio, NEW.review_ms, NEW.fast, NEW.decided_at, NEW.reason_code, NEW.countersign_required, NEW.sharing, NEW.withheld_reason, NEW.salt)
            IS NOT DISTINCT FROM (OLD.id, OLD.draft_id, OLD.outcome, OLD.decided_by, OLD.edited, OLD.edit_ratio, OLD.review_ms, OLD.fast, OLD.decided_at, OLD.reason_code, OLD.countersign_required, OLD.sharing, OLD.withheld_reason, OLD.salt)
        AND (NEW.final_text = OLD.final_text OR (OLD.final_text NOT LIKE 'cs1:%' AND NEW.final_text LIKE 'cs1:%'))
        AND (NEW.reason = OLD.reason OR (OLD.reason NOT LIKE 'cs1:%' AND NEW.reason LIKE 'cs1:%'))
        AND (NEW.comment = OLD.comment OR (OLD.comment NOT LIKE 'cs1:%' AND NEW.comment LIKE 'cs1:%'))
        AND (NEW.diff = OLD.diff OR (OLD.diff NOT LIKE 'cs1:%' AND NEW.diff LIKE 'cs1:%'))
        AND (NEW.items = OLD.items OR (OLD.items NOT LIKE 'cs1:%' AND NEW.items LIKE 'cs1:%'))
        AND (NEW.statements = OLD.statements OR (OLD.statements NOT LIKE 'cs1:%' AND NEW.statements LIKE 'cs1:%'))))
    EXECUTE FUNCTION countersign_refuse_unless_erased();
ALTER TABLE decisions ENABLE ALWAYS TRIGGER decisions_no_update;

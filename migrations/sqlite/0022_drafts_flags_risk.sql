-- 0022_drafts_flags_risk: whether a generated draft's content flags a risk
-- (review.FlagsRisk), written with the content by its completion, so the
-- review queue can say which drafts need a countersignature without opening
-- their content. SQLite twin of migrations/postgres/0022_drafts_flags_risk.sql,
-- which says more. NULL when not generated or generated before it.
ALTER TABLE drafts ADD COLUMN flags_risk BOOLEAN;

-- What each audited product's queries run against: the whole catalog, or its category's
-- products (engine.surfacing.competitive). Existing audits ran against the whole catalog.
ALTER TABLE surfacing_audits
    ADD COLUMN competitive_set text NOT NULL DEFAULT 'catalog'
    CHECK (competitive_set IN ('catalog', 'category'));

-- Case-folded copies of what the invoice list searches (tenant names, invoice numbers), written by
-- the app with Unicode case folding: SQLite's LIKE folds only ASCII, and PostgreSQL's ILIKE folds
-- by the database's locale, so "иван" found "Иван" on neither. Rows from before this migration
-- are filled in by the server at start-up (`invoices::backfill_folds`).
ALTER TABLE tenants ADD COLUMN name_fold TEXT;
ALTER TABLE invoices ADD COLUMN number_fold TEXT;

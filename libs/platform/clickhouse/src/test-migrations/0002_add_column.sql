ALTER TABLE {db}.events ADD COLUMN account_id String DEFAULT '';

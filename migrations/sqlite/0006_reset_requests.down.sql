ALTER TABLE erasures DROP COLUMN email;
DROP TABLE reset_requests;

ALTER TABLE reset_requests DROP COLUMN claimed_until;

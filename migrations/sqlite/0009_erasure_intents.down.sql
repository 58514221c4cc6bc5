-- Progress goes back onto the ledger's rows, and their intents go.
UPDATE erasures SET step = COALESCE((SELECT max(i.step) FROM intents i
                                     WHERE i.kind = 'user.erase'
                                       AND i.subject = CAST(erasures.id AS TEXT)), step)
WHERE status = 'pending';
DELETE FROM intents WHERE kind = 'user.erase';

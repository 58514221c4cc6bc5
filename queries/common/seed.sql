-- name: seed_next_ids
-- Where a bulk seed starts: it loads only into a database without events.
SELECT (SELECT count(*) FROM events) AS events,
       (SELECT COALESCE(max(id), 0) + 1 FROM event_registrations) AS registration_id,
       (SELECT COALESCE(max(id), 0) + 1 FROM payments) AS payment_id

-- name: seed_link_payments
-- A loaded paid registration points to its payment (loaded after it: each
-- table references the other).
UPDATE event_registrations
SET payment_id = (SELECT p.id FROM payments p
                  WHERE p.registration_id = event_registrations.id AND p.status = 'succeeded')
WHERE payment_status = 'paid' AND payment_id IS NULL AND id >= $1

-- name: seed_check
-- What the domain keeps, checked after a bulk load: each must be 0.
SELECT (SELECT count(*) FROM events e
        WHERE e.taken <> (SELECT count(*) FROM event_registrations r
                          WHERE r.event_id = e.id AND r.status IN ('confirmed', 'pending')))
         AS wrong_taken,
       (SELECT count(*) FROM events
        WHERE max_participants IS NOT NULL AND taken > max_participants) AS over_capacity,
       (SELECT count(*) FROM (SELECT event_id, user_id FROM event_registrations
                              WHERE status <> 'cancelled'
                              GROUP BY event_id, user_id HAVING count(*) > 1) d) AS twice,
       (SELECT count(*) FROM event_registrations r
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = r.event_id)) AS orphans,
       (SELECT count(*) FROM event_registrations r
        WHERE r.payment_status = 'paid' AND r.payment_id IS NULL) AS unlinked

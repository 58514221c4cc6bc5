-- name: event_insert
INSERT INTO events (title, slug, description, start_date, end_date, registration_deadline,
                    venue_id, max_participants, organizer_id, status, type, is_featured,
                    is_public, cost_amount_minor, cost_currency, waitlist_enabled, min_age,
                    guardian_consent_under, hold_minutes, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $12, $13, $14, $15, $16, $17,
        $18, $19, $19)
RETURNING id

-- name: event_get
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled,
       e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at, e.updated_at
FROM events e WHERE e.id = $1

-- name: event_get_by_slug
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled,
       e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at, e.updated_at
FROM events e WHERE e.slug = $1

-- name: event_update
UPDATE events SET title = $2, slug = $3, description = $4, start_date = $5, end_date = $6,
  registration_deadline = $7, venue_id = $8, max_participants = $9, status = $10, type = $11,
  is_featured = $12, is_public = $13, cost_amount_minor = $14, cost_currency = $15,
  waitlist_enabled = $16, min_age = $17, guardian_consent_under = $18, hold_minutes = $19,
  updated_at = $20
WHERE id = $1 AND ($9 IS NULL OR taken <= $9)

-- name: event_list
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled,
       e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at, e.updated_at
FROM events e LEFT JOIN venues v ON v.id = e.venue_id
WHERE e.status = 'published' AND e.is_public = 1
  AND ($1 IS NULL OR e.type = $1)
  AND ($2 IS NULL OR v.city = $2 COLLATE NOCASE)
  AND ($3 IS NULL OR v.country = $3 COLLATE NOCASE)
  AND ($4 IS NULL OR e.end_date >= $4)
  AND ($5 IS NULL OR e.start_date <= $5)
  AND ($6 IS NULL OR (v.lat BETWEEN $6 - $9 AND $6 + $9
                      AND v.lng BETWEEN $7 - $10 AND $7 + $10
                      AND rg_distance_km($6, $7, v.lat, v.lng) <= $8))
  AND ($11 = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
  AND ($12 = 0 OR e.is_featured = 1)
  AND ($13 IS NULL OR e.id IN (SELECT value FROM json_each($13)))
  AND (e.start_date > $14 OR (e.start_date = $14 AND e.id > $15))
ORDER BY e.start_date, e.id
LIMIT $16

-- name: event_stats
SELECT e.max_participants, e.taken,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'confirmed') AS confirmed,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'pending') AS pending,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'waitlisted') AS waitlisted,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'cancelled') AS cancelled,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.checked_in = 1
     AND r.status <> 'cancelled') AS checked_in
FROM events e WHERE e.id = $1

-- name: event_index_all
SELECT id, title, description, type, status, is_public FROM events
WHERE status = 'published' AND is_public = 1 AND id > $1 ORDER BY id LIMIT 500

-- name: event_unlisted_ids
SELECT id FROM events WHERE NOT (status = 'published' AND is_public = 1) AND id > $1 ORDER BY id LIMIT 500

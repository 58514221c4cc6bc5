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
-- Discovery's pages: published public events by type ($1), dates ($2, $3),
-- places left ($4), featured ($5), venues ($6, a JSON array of ids or NULL)
-- and search hits ($7, a JSON array of ids), after the cursor ($8, $9), in
-- date order. Three statements, one per way in, chosen by discovery.c:
-- event_list walks the events in date order and tests each (few filters,
-- or filters that most events pass); event_list_at_venues starts from the
-- venues' own events (a place filter that leaves few); event_list_of_ids
-- from the search hits. The tests that are not the way in are unary-plus
-- or IS NULL guarded, so that no index is taken for them, and SQLite is
-- told its way in (INDEXED BY, NOT INDEXED: rowid lookups), since it
-- would otherwise walk the date index to spare the sort. With a start
-- date ($2), the walk starts at $2 less the longest event's span
-- (`since`, from idx_events_span, migration 0011): no event that starts
-- earlier ends on or after $2. The start is folded into the cursor's
-- row comparison, the scan's one lower bound: as a second bound beside
-- it, SQLite started the scan from the cursor.
WITH since(t) AS (
  SELECT coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', unixepoch($2) - (
           SELECT max(unixepoch(x.end_date) - unixepoch(x.start_date)) FROM events x), 'unixepoch'),
                  ''))
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled,
       e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at, e.updated_at
FROM events e
WHERE e.status = 'published' AND e.is_public = 1
  AND ($1 IS NULL OR e.type = $1)
  AND ($2 IS NULL OR e.end_date >= $2)
  AND ($3 IS NULL OR e.start_date <= $3)
  AND ($4 = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
  AND ($5 = 0 OR e.is_featured = 1)
  AND ($6 IS NULL OR +e.venue_id IN (SELECT value FROM json_each($6)))
  AND ($7 IS NULL OR +e.id IN (SELECT value FROM json_each($7)))
  AND (e.start_date, e.id) > (SELECT max($8, t), CASE WHEN $8 >= t THEN $9 ELSE 0 END FROM since)
ORDER BY e.start_date, e.id
LIMIT $10

-- name: event_list_at_venues
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled,
       e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at, e.updated_at
FROM events e INDEXED BY idx_events_venue
WHERE e.status = 'published' AND e.is_public = 1
  AND ($1 IS NULL OR e.type = $1)
  AND ($2 IS NULL OR e.end_date >= $2)
  AND ($3 IS NULL OR e.start_date <= $3)
  AND ($4 = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
  AND ($5 = 0 OR e.is_featured = 1)
  AND e.venue_id IN (SELECT value FROM json_each($6))
  AND ($7 IS NULL OR +e.id IN (SELECT value FROM json_each($7)))
  AND (e.start_date > $8 OR (e.start_date = $8 AND e.id > $9))
ORDER BY e.start_date, e.id
LIMIT $10

-- name: event_list_of_ids
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled,
       e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at, e.updated_at
FROM events e NOT INDEXED
WHERE e.status = 'published' AND e.is_public = 1
  AND ($1 IS NULL OR e.type = $1)
  AND ($2 IS NULL OR e.end_date >= $2)
  AND ($3 IS NULL OR e.start_date <= $3)
  AND ($4 = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
  AND ($5 = 0 OR e.is_featured = 1)
  AND ($6 IS NULL OR +e.venue_id IN (SELECT value FROM json_each($6)))
  AND e.id IN (SELECT value FROM json_each($7))
  AND (e.start_date > $8 OR (e.start_date = $8 AND e.id > $9))
ORDER BY e.start_date, e.id
LIMIT $10

-- name: event_list_by_distance
-- Discovery nearest first (sort=distance): the venues of $6 (a JSON array
-- of ids, nearest first; vrank is a venue's place in it), each one's events
-- in date order, after the cursor (vrank $8, start date $9, id $10); the
-- search hits $7 when there are words.
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled,
       e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at, e.updated_at,
       v.key AS vrank
FROM json_each($6) v JOIN events e INDEXED BY idx_events_venue ON e.venue_id = v.value
WHERE e.status = 'published' AND e.is_public = 1
  AND ($1 IS NULL OR e.type = $1)
  AND ($2 IS NULL OR e.end_date >= $2)
  AND ($3 IS NULL OR e.start_date <= $3)
  AND ($4 = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
  AND ($5 = 0 OR e.is_featured = 1)
  AND ($7 IS NULL OR +e.id IN (SELECT value FROM json_each($7)))
  AND (v.key, e.start_date, e.id) > ($8, $9, $10)
ORDER BY v.key, e.start_date, e.id
LIMIT $11

-- name: event_venues_matching
-- The venues that discovery's place filters leave: city ($1), country ($2),
-- within $5 km of ($3, $4), and their distance from it; and how many events
-- they hold together, counted up to $8 (the same on every row), for
-- discovery's choice of statement, which needs to know no more than
-- whether there are none or more than a few. The R*Tree venue_geo gives
-- the venues in the box of $6, $7 degrees around the point (also shifted
-- by a turn either way, for a box across the antimeridian).
WITH at AS MATERIALIZED (
  SELECT v.id,
         CASE WHEN $3 IS NOT NULL THEN rg_distance_km($3, $4, v.lat, v.lng) END AS distance_km
  FROM venues v
  WHERE ($1 IS NULL OR v.city = $1 COLLATE NOCASE)
    AND ($2 IS NULL OR v.country = $2 COLLATE NOCASE)
    AND ($3 IS NULL OR (v.id IN (
           SELECT id FROM venue_geo WHERE min_lat <= $3 + $6 AND max_lat >= $3 - $6
             AND min_lng <= $4 + $7 AND max_lng >= $4 - $7
           UNION ALL
           SELECT id FROM venue_geo WHERE min_lat <= $3 + $6 AND max_lat >= $3 - $6
             AND min_lng <= $4 + $7 - 360 AND max_lng >= $4 - $7 - 360
           UNION ALL
           SELECT id FROM venue_geo WHERE min_lat <= $3 + $6 AND max_lat >= $3 - $6
             AND min_lng <= $4 + $7 + 360 AND max_lng >= $4 - $7 + 360)
         AND rg_distance_km($3, $4, v.lat, v.lng) <= $5)))
SELECT at.id, at.distance_km,
       (SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.venue_id IN (SELECT id FROM at)
                              LIMIT $8)) AS events
FROM at
ORDER BY at.id

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
-- What the search index holds of each published, public event: its words,
-- its venue's city and country, and its venue's point.
SELECT e.id, e.title, e.description, e.type, e.status, e.is_public,
       coalesce(v.city, '') AS city, coalesce(v.country, '') AS country, v.lat, v.lng
FROM events e LEFT JOIN venues v ON v.id = e.venue_id
WHERE e.status = 'published' AND e.is_public = 1 AND e.id > $1 ORDER BY e.id LIMIT 500

-- name: event_index_changed
-- Every event changed at or after $1 (updated_at), whatever its status, with
-- what the search index holds of a listed one, after id $2: a rebuild of the
-- index catches up with the changes made while it ran.
SELECT e.id, e.title, e.description, e.type, e.status, e.is_public,
       coalesce(v.city, '') AS city, coalesce(v.country, '') AS country, v.lat, v.lng
FROM events e LEFT JOIN venues v ON v.id = e.venue_id
WHERE e.updated_at >= $1 AND e.id > $2 ORDER BY e.id LIMIT 500

-- name: event_count_estimate
-- About how many events there are, without a scan: ids are given in
-- increasing order and events are seldom deleted. Discovery sizes its
-- walks by it.
SELECT coalesce(max(id), 0) AS n FROM events

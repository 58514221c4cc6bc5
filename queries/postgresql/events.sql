-- name: event_insert
INSERT INTO events (title, slug, description, start_date, end_date, registration_deadline,
                    venue_id, max_participants, organizer_id, status, type, is_featured,
                    is_public, cost_amount, cost_currency, waitlist_enabled, min_age,
                    guardian_consent_under, hold_minutes, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $12, $13::bigint / 100.0, $14,
        $15, $16, $17, $18, $19, $19)
RETURNING id

-- name: event_get
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency,
       e.waitlist_enabled, e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at,
       e.updated_at
FROM events e WHERE e.id = $1

-- name: event_get_by_slug
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency,
       e.waitlist_enabled, e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at,
       e.updated_at
FROM events e WHERE e.slug = $1

-- name: event_update
UPDATE events SET title = $2, slug = $3, description = $4, start_date = $5, end_date = $6,
  registration_deadline = $7, venue_id = $8, max_participants = $9, status = $10, type = $11,
  is_featured = $12, is_public = $13, cost_amount = $14::bigint / 100.0, cost_currency = $15,
  waitlist_enabled = $16, min_age = $17, guardian_consent_under = $18, hold_minutes = $19,
  updated_at = $20
WHERE id = $1 AND ($9::int IS NULL OR taken <= $9::int)

-- name: event_list
-- Discovery's pages: published public events by type ($1), dates ($2, $3),
-- places left ($4), featured ($5), venues ($6, a JSON array of ids or NULL)
-- and search hits ($7, a JSON array of ids), after the cursor ($8, $9), in
-- date order. Three statements, one per way in, chosen by discovery.c:
-- event_list walks the events in date order and tests each (few filters,
-- or filters that most events pass); event_list_at_venues starts from the
-- venues' own events (a place filter that leaves few); event_list_of_ids
-- from the search hits. The tests that are not the way in are unary-plus
-- or IS NULL guarded, so that no index is taken for them.
-- On PostgreSQL the page is found first by an index-only scan of
-- idx_events_discovery, which holds every column tested but `taken`, read
-- by a scalar subquery only when places left are asked for, and its rows
-- are read after, so that the walk reads no table page, under a generic
-- plan too (with `taken` in the scan's test, the generic plan read the
-- table row of every event walked: 466-602 ms at 1,000,000 events).
-- With a start date ($2), the walk starts at $2 less the longest event's
-- span (`since`, from idx_events_span, migration 0011): no event that
-- starts earlier ends on or after $2. The start is folded into the
-- cursor's row comparison, the scan's one lower bound: as a second bound
-- beside it, PostgreSQL started the scan from the cursor and tested the
-- other on every entry.
WITH since AS MATERIALIZED (
  SELECT coalesce($2::timestamptz - (SELECT max(x.end_date - x.start_date) FROM events x),
                  '-infinity') AS t),
page AS (
  SELECT e.id, e.start_date FROM events e
  WHERE e.status = 'published' AND e.is_public
    AND ($1::text IS NULL OR e.type = $1::text)
    AND ($2::timestamptz IS NULL OR e.end_date >= $2::timestamptz)
    AND ($3::timestamptz IS NULL OR e.start_date <= $3::timestamptz)
    AND ($4::int = 0 OR (SELECT x.max_participants IS NULL OR x.taken < x.max_participants
                         FROM events x WHERE x.id = e.id))
    AND ($5::int = 0 OR e.is_featured)
    AND ($6::jsonb IS NULL OR e.venue_id IN (SELECT jsonb_array_elements_text($6::jsonb)::int))
    AND ($7::jsonb IS NULL OR e.id IN (SELECT jsonb_array_elements_text($7::jsonb)::int))
    AND (e.start_date, e.id) > (greatest($8::timestamptz, (SELECT t FROM since)),
                                CASE WHEN $8::timestamptz >= (SELECT t FROM since)
                                     THEN $9::int ELSE 0 END)
  ORDER BY e.start_date, e.id
  LIMIT $10)
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency,
       e.waitlist_enabled, e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at,
       e.updated_at
FROM page JOIN events e ON e.id = page.id
ORDER BY page.start_date, page.id

-- name: event_list_at_venues
-- Starts from the venues' own events (idx_events_venue), as discovery asks
-- when its place filter leaves few events, and nearest first one venue at
-- a time. The venues are an array (= ANY) inside a materialised step, so
-- that PostgreSQL reads them by the venue index and sorts the few it finds:
-- as a semi-join on the JSON's elements, or with the LIMIT in sight, it
-- walked every visible event in date order instead (250-680 ms for one
-- venue at 1,000,000 events, against 1-6 ms, generic and custom plans
-- alike).
WITH at AS MATERIALIZED (
  SELECT e.id, e.start_date FROM events e
  WHERE e.venue_id = ANY (ARRAY(SELECT jsonb_array_elements_text($6::jsonb)::int))
    AND e.status = 'published' AND e.is_public
    AND ($1::text IS NULL OR e.type = $1::text)
    AND ($2::timestamptz IS NULL OR e.end_date >= $2::timestamptz)
    AND ($3::timestamptz IS NULL OR e.start_date <= $3::timestamptz)
    AND ($4::int = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
    AND ($5::int = 0 OR e.is_featured)
    AND ($7::jsonb IS NULL OR e.id IN (SELECT jsonb_array_elements_text($7::jsonb)::int))
    AND (e.start_date > $8::timestamptz OR (e.start_date = $8::timestamptz AND e.id > $9))),
page AS (SELECT id, start_date FROM at ORDER BY start_date, id LIMIT $10)
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency,
       e.waitlist_enabled, e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at,
       e.updated_at
FROM page JOIN events e ON e.id = page.id
ORDER BY page.start_date, page.id

-- name: event_list_of_ids
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency,
       e.waitlist_enabled, e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at,
       e.updated_at
FROM events e
WHERE e.status = 'published' AND e.is_public
  AND ($1::text IS NULL OR e.type = $1::text)
  AND ($2::timestamptz IS NULL OR e.end_date >= $2::timestamptz)
  AND ($3::timestamptz IS NULL OR e.start_date <= $3::timestamptz)
  AND ($4::int = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
  AND ($5::int = 0 OR e.is_featured)
  AND ($6::jsonb IS NULL OR e.venue_id IN (SELECT jsonb_array_elements_text($6::jsonb)::int))
  AND e.id IN (SELECT jsonb_array_elements_text($7::jsonb)::int)
  AND (e.start_date > $8::timestamptz OR (e.start_date = $8::timestamptz AND e.id > $9))
ORDER BY e.start_date, e.id
LIMIT $10

-- name: event_list_matching
-- Discovery by words in date order when the search index is the PostgreSQL
-- search adapter's table in this same database (rg_search.docs, see
-- docs/design/adapters.md): the same filters as event_list_of_ids, with
-- the user's text ($7) matched here, so that no hit leaves the server.
-- Two ways, each exact:
-- walk: the events that pass the filters, in date order, each tested
--   against its own entry (found by key), until a page is full or `reach`
--   events were tested; cheap when the words are common.
-- gather: every hit from the GIN index, then the filters and the order;
--   cheap when the words are rare. It runs only when the walk stopped at
--   its reach with the page not full.
-- A walk tests an event for about 10 µs, a gather spends about 15 µs per
-- hit (docs/performance.md); with N entries and a page of L, the two
-- cost the same for words that match sqrt(L*10/(15*N)) of the events,
-- which a walk of sqrt(1.5*L*N) events finds: that is the reach. So
-- neither way costs more than about twice the cheaper one, and common
-- words cost no more at a million events than at a thousand.
WITH q AS MATERIALIZED (SELECT rg_search.query($7::text) AS q),
since AS MATERIALIZED (
  SELECT coalesce($2::timestamptz - (SELECT max(x.end_date - x.start_date) FROM events x),
                  '-infinity') AS t),
reach AS MATERIALIZED (
  SELECT greatest(200, sqrt(1.5 * $10::bigint * greatest(c.reltuples, 0)))::bigint AS k
  FROM pg_class c WHERE c.oid = 'rg_search.docs'::regclass),
-- The candidates are read from idx_events_discovery alone (hasSpots, whose
-- `taken` is not in it, is tested in the walk): a plan that reads the table
-- and sorts it would cost the whole table where the walk reads a few rows,
-- and with the reach unknown when planning, PostgreSQL takes it for small
-- tables.
-- They start at `since`, as in event_list.
candidates AS NOT MATERIALIZED (
  SELECT e.id, e.start_date FROM events e
  WHERE e.status = 'published' AND e.is_public
    AND ($1::text IS NULL OR e.type = $1::text)
    AND ($2::timestamptz IS NULL OR e.end_date >= $2::timestamptz)
    AND ($3::timestamptz IS NULL OR e.start_date <= $3::timestamptz)
    AND ($5::int = 0 OR e.is_featured)
    AND ($6::jsonb IS NULL OR e.venue_id IN (SELECT jsonb_array_elements_text($6::jsonb)::int))
    AND (e.start_date, e.id) > (greatest($8::timestamptz, (SELECT t FROM since)),
                                CASE WHEN $8::timestamptz >= (SELECT t FROM since)
                                     THEN $9::int ELSE 0 END)
  ORDER BY e.start_date, e.id
  LIMIT (SELECT k FROM reach)),
-- The entry is read by a scalar subquery, so that the planner cannot turn
-- the test into a join that gathers every hit.
walk AS MATERIALIZED (
  SELECT c.id, c.start_date FROM candidates c
  WHERE ($4::int = 0 OR (SELECT x.max_participants IS NULL OR x.taken < x.max_participants
                         FROM events x WHERE x.id = c.id))
    AND (SELECT d.tsv FROM rg_search.docs d WHERE d.type = 'event' AND d.rid = c.id::text)
        @@ (SELECT q FROM q)
  ORDER BY c.start_date, c.id
  LIMIT $10::bigint),
-- The walk's page is the answer when it is full or when the walk saw
-- every event that passes the filters (counted only when it is not full).
walked AS MATERIALIZED (
  SELECT (SELECT count(*) FROM walk) = $10::bigint
         OR (SELECT count(*) FROM candidates) < (SELECT k FROM reach) AS enough),
hits AS MATERIALIZED (
  SELECT d.rid::bigint AS id FROM rg_search.docs d, q
  WHERE d.type = 'event' AND d.tsv @@ q.q AND d.rid ~ '^[0-9]{1,18}$'),
page AS (
  SELECT w.id, w.start_date FROM walk w WHERE (SELECT enough FROM walked)
  UNION ALL
  (SELECT e.id, e.start_date FROM events e
   WHERE NOT (SELECT enough FROM walked)
     AND e.status = 'published' AND e.is_public
     AND ($1::text IS NULL OR e.type = $1::text)
     AND ($2::timestamptz IS NULL OR e.end_date >= $2::timestamptz)
     AND ($3::timestamptz IS NULL OR e.start_date <= $3::timestamptz)
     AND ($4::int = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
     AND ($5::int = 0 OR e.is_featured)
     AND ($6::jsonb IS NULL OR e.venue_id IN (SELECT jsonb_array_elements_text($6::jsonb)::int))
     AND e.id IN (SELECT id FROM hits)
     AND (e.start_date > $8::timestamptz OR (e.start_date = $8::timestamptz AND e.id > $9::int))
   ORDER BY e.start_date, e.id
   LIMIT $10::bigint))
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency,
       e.waitlist_enabled, e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at,
       e.updated_at
FROM page JOIN events e ON e.id = page.id
ORDER BY page.start_date, page.id

-- name: event_list_by_distance
-- Discovery nearest first (sort=distance): the venues of $6 (a JSON array
-- of ids, nearest first; vrank is a venue's place in it, from 0), each
-- one's events in date order, after the cursor (vrank $8, start date $9,
-- id $10); the search hits $7 when there are words.
SELECT e.id, e.title, e.slug, e.description, e.start_date, e.end_date, e.registration_deadline,
       e.venue_id, e.organizer_id, e.max_participants, e.taken, e.status, e.type, e.is_featured,
       e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency,
       e.waitlist_enabled, e.min_age, e.guardian_consent_under, e.hold_minutes, e.created_at,
       e.updated_at, v.rank - 1 AS vrank
FROM jsonb_array_elements_text($6::jsonb) WITH ORDINALITY AS v(id, rank)
JOIN events e ON e.venue_id = v.id::int
WHERE e.status = 'published' AND e.is_public
  AND ($1::text IS NULL OR e.type = $1::text)
  AND ($2::timestamptz IS NULL OR e.end_date >= $2::timestamptz)
  AND ($3::timestamptz IS NULL OR e.start_date <= $3::timestamptz)
  AND ($4::int = 0 OR e.max_participants IS NULL OR e.taken < e.max_participants)
  AND ($5::int = 0 OR e.is_featured)
  AND ($7::jsonb IS NULL OR e.id IN (SELECT jsonb_array_elements_text($7::jsonb)::int))
  AND (v.rank - 1, e.start_date, e.id) > ($8::bigint, $9::timestamptz, $10::int)
ORDER BY v.rank, e.start_date, e.id
LIMIT $11

-- name: event_venues_matching
-- The venues that discovery's place filters leave: city ($1), country ($2),
-- within $5 km of ($3, $4), and their distance from it; and how many events
-- they hold together, counted up to $8 (the same on every row), for
-- discovery's choice of statement, which needs to know no more than
-- whether there are none or more than a few: counting every event of a
-- country's venues read hundreds of thousands of index entries at
-- 1,000,000 events. The GiST index of ll_to_earth(lat, lng) gives the
-- venues in earth_box(), a cube around the point on earthdistance's sphere
-- (radius earth() metres, a little larger than the mean radius the
-- distance uses, so the radius is scaled to the same angle); the box needs
-- no care at the antimeridian or the poles. $6 and $7 (the
-- latitude/longitude box) are not needed here.
WITH at AS MATERIALIZED (
  SELECT v.id,
         CASE WHEN $3::float8 IS NOT NULL
              THEN rg_distance_km($3::float8, $4::float8, v.lat, v.lng) END AS distance_km
  FROM venues v
  WHERE ($1::text IS NULL OR lower(v.city) = lower($1::text))
    AND ($2::text IS NULL OR lower(v.country) = lower($2::text))
    AND ($3::float8 IS NULL OR (
           earth_box(ll_to_earth($3::float8, $4::float8),
                     $5::float8 * 1000.001 * earth() / 6371008.8) @> ll_to_earth(v.lat, v.lng)
           AND rg_distance_km($3::float8, $4::float8, v.lat, v.lng) <= $5::float8
           AND $6::float8 IS NOT NULL AND $7::float8 IS NOT NULL)))
SELECT at.id, at.distance_km,
       (SELECT count(*) FROM (SELECT 1 FROM events e
                              WHERE e.venue_id = ANY (ARRAY(SELECT id FROM at))
                              LIMIT $8::int) few) AS events
FROM at
ORDER BY at.id

-- name: event_stats
SELECT e.max_participants, e.taken,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'confirmed') AS confirmed,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'pending') AS pending,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'waitlisted') AS waitlisted,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.status = 'cancelled') AS cancelled,
  (SELECT count(*) FROM event_registrations r WHERE r.event_id = e.id AND r.checked_in
     AND r.status <> 'cancelled') AS checked_in
FROM events e WHERE e.id = $1

-- name: event_index_all
-- What the search index holds of each published, public event: its words,
-- its venue's city and country, and its venue's point.
SELECT e.id, e.title, e.description, e.type, e.status, e.is_public,
       coalesce(v.city, '') AS city, coalesce(v.country, '') AS country, v.lat, v.lng
FROM events e LEFT JOIN venues v ON v.id = e.venue_id
WHERE e.status = 'published' AND e.is_public AND e.id > $1 ORDER BY e.id LIMIT 500

-- name: event_index_changed
-- Every event changed at or after $1 (updated_at), whatever its status, with
-- what the search index holds of a listed one, after id $2: a rebuild of the
-- index catches up with the changes made while it ran.
SELECT e.id, e.title, e.description, e.type, e.status, e.is_public,
       coalesce(v.city, '') AS city, coalesce(v.country, '') AS country, v.lat, v.lng
FROM events e LEFT JOIN venues v ON v.id = e.venue_id
WHERE e.updated_at >= $1::timestamptz AND e.id > $2 ORDER BY e.id LIMIT 500

-- name: event_count_estimate
-- About how many events there are, from the planner's statistics (no
-- scan): discovery sizes its walks by it.
SELECT greatest(c.reltuples, 0)::bigint AS n FROM pg_class c WHERE c.oid = 'events'::regclass

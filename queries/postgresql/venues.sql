-- name: venue_list
SELECT id, name, street, city, country, postal_code, lat, lng, capacity, created_by,
       created_at, updated_at
FROM venues
WHERE ($1::text IS NULL OR lower(city) = lower($1::text)) AND id > $2
ORDER BY id LIMIT $3

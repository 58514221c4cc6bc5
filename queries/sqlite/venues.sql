-- name: venue_list
SELECT id, name, street, city, country, postal_code, lat, lng, capacity, created_by,
       created_at, updated_at
FROM venues
WHERE ($1 IS NULL OR city = $1 COLLATE NOCASE) AND id > $2
ORDER BY id LIMIT $3

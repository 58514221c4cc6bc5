-- name: venue_insert
INSERT INTO venues (name, street, city, country, postal_code, lat, lng, capacity, created_by,
                    created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
RETURNING id, name, street, city, country, postal_code, lat, lng, capacity, created_by,
          created_at, updated_at

-- name: venue_get
SELECT id, name, street, city, country, postal_code, lat, lng, capacity, created_by,
       created_at, updated_at
FROM venues WHERE id = $1

-- name: migrations_ensure
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  checksum VARCHAR(64) NOT NULL,
  applied_at VARCHAR(32) NOT NULL
)

-- name: migrations_list
SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version

-- name: migrations_insert
INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)

-- name: migrations_delete
DELETE FROM schema_migrations WHERE version = $1

-- name: migrations_get
SELECT version FROM schema_migrations WHERE version = $1

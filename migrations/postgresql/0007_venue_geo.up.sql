-- Places by distance: a GiST index of the venues' points on the sphere
-- (earthdistance, on cube; both in Debian's postgresql-15 and trusted, so
-- the database owner may create them), so that discovery's `near` reads
-- the venues inside earth_box() from an index and tests the exact
-- distance on those alone. The extensions stay when this is undone: other
-- objects may use them.
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;
CREATE INDEX idx_venues_earth ON venues USING gist (ll_to_earth(lat, lng));

DROP INDEX idx_venues_earth;

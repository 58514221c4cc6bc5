DROP TABLE event_registrations;
DROP TABLE payments;
DROP TABLE events;
DROP TABLE venues;
DROP FUNCTION rg_distance_km(float8, float8, float8, float8);

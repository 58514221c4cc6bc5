DROP TRIGGER venue_geo_delete;
DROP TRIGGER venue_geo_update;
DROP TRIGGER venue_geo_insert;
DROP TABLE venue_geo;

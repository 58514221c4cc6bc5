-- Places by distance: an R*Tree of the venues' points, kept by triggers,
-- so that discovery's `near` reads the venues inside a box from an index
-- and tests the exact distance on those alone. A point is a box of size 0
-- (the R*Tree stores 32-bit floats and rounds each bound outwards).
CREATE VIRTUAL TABLE venue_geo USING rtree(id, min_lat, max_lat, min_lng, max_lng);
INSERT INTO venue_geo (id, min_lat, max_lat, min_lng, max_lng)
  SELECT id, lat, lat, lng, lng FROM venues WHERE lat IS NOT NULL AND lng IS NOT NULL;
CREATE TRIGGER venue_geo_insert AFTER INSERT ON venues
  WHEN NEW.lat IS NOT NULL AND NEW.lng IS NOT NULL
BEGIN
  INSERT INTO venue_geo (id, min_lat, max_lat, min_lng, max_lng)
    VALUES (NEW.id, NEW.lat, NEW.lat, NEW.lng, NEW.lng);
END;
CREATE TRIGGER venue_geo_update AFTER UPDATE OF lat, lng ON venues
BEGIN
  DELETE FROM venue_geo WHERE id = OLD.id;
  INSERT INTO venue_geo (id, min_lat, max_lat, min_lng, max_lng)
    SELECT NEW.id, NEW.lat, NEW.lat, NEW.lng, NEW.lng
    WHERE NEW.lat IS NOT NULL AND NEW.lng IS NOT NULL;
END;
CREATE TRIGGER venue_geo_delete AFTER DELETE ON venues
BEGIN
  DELETE FROM venue_geo WHERE id = OLD.id;
END;

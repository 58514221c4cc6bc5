DROP TABLE event_registrations;
DROP TABLE payments;
DROP TABLE events;
DROP TABLE venues;

-- Channels, messages and feedback (src/domain/channel_record.c, feedback.c):
-- who belongs to an event's channel, who may give feedback.

-- name: comms_registration_of
-- The person's confirmed or pending registration for the event, if any.
SELECT status, checked_in FROM event_registrations
WHERE event_id = $1 AND user_id = $2 AND status IN ('confirmed', 'pending')
ORDER BY id DESC LIMIT 1

-- name: comms_event_member_ids
-- The people with a confirmed or pending registration, by id, after $2.
SELECT DISTINCT user_id FROM event_registrations
WHERE event_id = $1 AND status IN ('confirmed', 'pending') AND user_id > $2
ORDER BY user_id LIMIT $3

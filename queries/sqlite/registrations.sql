-- name: event_get_for_admission
-- event_get with whether $2 holds a registration of the event that is not
-- cancelled: what an admission checks, in one round trip.
SELECT e.id, e.organizer_id, e.registration_deadline, e.end_date, e.max_participants, e.taken,
       e.status, e.is_public, e.cost_amount_minor AS cost_minor, e.cost_currency, e.waitlist_enabled, e.min_age,
       e.guardian_consent_under, e.hold_minutes,
       EXISTS (SELECT 1 FROM event_registrations r
               WHERE r.event_id = e.id AND r.user_id = $2 AND r.status <> 'cancelled') AS registered
FROM events e WHERE e.id = $1

-- name: registration_get
SELECT r.id, r.event_id, r.user_id, r.registration_date, r.status, r.payment_status,
       r.payment_id, r.dietary_requirements, r.special_needs, r.checked_in, r.checked_in_at,
       r.cancelled_at, r.cancellation_reason, r.hold_expires_at, r.guardian_consent,
       e.organizer_id AS event_organizer_id, e.cost_amount_minor AS event_cost_minor,
       e.hold_minutes AS event_hold_minutes
FROM event_registrations r JOIN events e ON e.id = r.event_id
WHERE r.id = $1

-- name: registration_check_in
UPDATE event_registrations SET checked_in = 1, checked_in_at = COALESCE(checked_in_at, $2),
  updated_at = $2
WHERE id = $1 AND status IN ('confirmed', 'pending')

-- name: registration_first_waitlisted
SELECT id FROM event_registrations WHERE event_id = $1 AND status = 'waitlisted'
ORDER BY id LIMIT 1

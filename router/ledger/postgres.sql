-- The PostgreSQL ledger's own part of the schema: a table for settled spend not yet
-- folded into its window's row, and the server-side functions that make a reservation and a
-- settlement one round trip each. The tables both engines share are made first (schema.py).
-- Every statement can run again: an older schema's functions are replaced by migrating.

-- A settlement's cost lands here, one row per budget window, instead of on the window's spend
-- row: reservations lock the spend rows, and a settlement that updated them would queue behind
-- every reservation of the same budget and hold the row through its own commit. Reservations
-- fold the deltas into the spend rows; readers count spend as the row plus its deltas.
CREATE TABLE IF NOT EXISTS spend_deltas (
    scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL, spent_nusd BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS spend_deltas_by_budget ON spend_deltas (scope, period, win);

-- The budgets a call with tags p_tags matches, with their window at p_now: a budget's
-- "k=v,..." scope, as a JSON object, is contained in the tags. Inlined where it is used.
CREATE OR REPLACE FUNCTION costrouter_matching(p_tags jsonb, p_now double precision)
RETURNS TABLE (scope text, period text, limit_nusd bigint, soft integer, tz text, win text)
LANGUAGE sql STABLE AS $$
    SELECT b.scope, b.period, b.limit_nusd, b.soft, b.tz,
           CASE split_part(b.period, '/', 1)  -- the period key: "minute/requests" is a minute
               -- Minutes and hours are UTC clock windows, as calendar.window_bounds makes them.
               WHEN 'minute' THEN to_char(to_timestamp(floor(p_now / 60) * 60) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI')
               WHEN 'hour' THEN to_char(to_timestamp(floor(p_now / 3600) * 3600) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24')
               WHEN 'day' THEN ((to_timestamp(p_now) AT TIME ZONE b.tz)::date)::text
               WHEN 'week' THEN (date_trunc('week', to_timestamp(p_now) AT TIME ZONE b.tz)::date)::text
               WHEN 'month' THEN (date_trunc('month', to_timestamp(p_now) AT TIME ZONE b.tz)::date)::text
               ELSE 'total'
           END
    FROM budgets b
    WHERE b.scope = 'global' OR (
        SELECT jsonb_object_agg(substr(kv, 1, strpos(kv, '=') - 1), substr(kv, strpos(kv, '=') + 1))
        FROM unnest(string_to_array(b.scope, ',')) AS kv
    ) <@ p_tags
$$;

-- Older signatures, replaced by those below (version 3: a reservation can be marked sent at
-- once; version 4: it holds tokens and requests on budgets in those units).
DROP FUNCTION IF EXISTS costrouter_reserve(text, integer, bigint, jsonb, double precision,
                                           double precision);
DROP FUNCTION IF EXISTS costrouter_reserve(text, integer, bigint, jsonb, double precision,
                                           double precision, boolean);
DROP FUNCTION IF EXISTS costrouter_pend(text, integer, jsonb, bigint, double precision,
                                        double precision);

-- The call's pending entry: what it would be billed if it were sent and never settled.
CREATE OR REPLACE FUNCTION costrouter_pend(
    p_call text, p_attempt integer, p_tags jsonb, p_amount bigint, p_now double precision,
    p_expires double precision, p_sent boolean
) RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO pending (call_id, attempt, tags, amount_nusd, reserved_at, expires_at, sent_at)
    VALUES (p_call, p_attempt, p_tags::text, p_amount, p_now, p_expires,
            CASE WHEN p_sent THEN p_now END)
    ON CONFLICT (call_id, attempt) DO UPDATE SET tags = excluded.tags,
        amount_nusd = excluded.amount_nusd, reserved_at = excluded.reserved_at,
        expires_at = excluded.expires_at, sent_at = excluded.sent_at;
$$;

-- What a recorded call adds to a window whose period key is p_period (budgets.counted in
-- Python says the same): its cost to a USD window; to a token window its reported tokens, or,
-- with no usage the gateway reported, at least the worst case it held there; one to a request
-- window; nothing but its cost for an error row (the gateway did not charge it).
CREATE OR REPLACE FUNCTION costrouter_counted(
    p_period text, p_held bigint, p_cost bigint, p_tokens bigint, p_status text
) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN split_part(p_period, '/', 2) = '' THEN p_cost
        WHEN p_status = 'error' THEN 0
        WHEN split_part(p_period, '/', 2) = 'requests' THEN 1
        WHEN p_status = 'ok' THEN p_tokens
        ELSE GREATEST(p_tokens, p_held)
    END::bigint
$$;

-- A call about to be sent: its holds count until it is settled (they expire never), and its
-- pending entry says it may be charged.
CREATE OR REPLACE FUNCTION costrouter_sent(p_call text, p_attempt integer, p_now double precision)
RETURNS void LANGUAGE sql VOLATILE AS $$
    UPDATE pending SET sent_at = p_now WHERE call_id = p_call AND attempt = p_attempt;
    UPDATE holds SET expires_at = 1e300 WHERE call_id = p_call AND attempt = p_attempt;
$$;

-- Every pending call whose hold's time is up: one sent (its process died, or its settlement
-- failed) is billed as an orphaned row at its reservation, into the windows it held (as
-- deltas); one never sent is cleared a day later (86400 s: STALE_SECONDS in base.py).
-- Concurrent sweeps take each entry once and never wait on each other (SKIP LOCKED), nor on a
-- lease step, which locks its own entry first: an entry locked is someone's, being renewed or
-- billed.
-- The row's values are in the calls table's column order.
CREATE OR REPLACE FUNCTION costrouter_sweep(p_now double precision) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    WITH expired AS (
        DELETE FROM pending p
         WHERE (p.call_id, p.attempt) IN (
             SELECT q.call_id, q.attempt FROM pending q
              WHERE q.expires_at <= p_now
                AND (q.sent_at IS NOT NULL OR q.expires_at <= p_now - 86400)
                FOR UPDATE SKIP LOCKED)
        RETURNING p.*
    ), unsent AS (
        DELETE FROM holds h USING expired e
         WHERE h.call_id = e.call_id AND h.attempt = e.attempt AND e.sent_at IS NULL
    ), orphans AS (
        INSERT INTO calls
        SELECT e.call_id, e.attempt, e.reserved_at,
               to_char(to_timestamp(e.reserved_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
               (date_trunc('week', to_timestamp(e.reserved_at) AT TIME ZONE 'UTC')::date)::text,
               (date_trunc('month', to_timestamp(e.reserved_at) AT TIME ZONE 'UTC')::date)::text,
               COALESCE(e.tags::jsonb ->> 'model', 'unknown:unknown'),
               COALESCE(e.tags::jsonb ->> 'model', 'unknown:unknown'),
               COALESCE(e.tags::jsonb ->> 'provider', 'unknown'),
               e.tags::jsonb ->> 'user', e.tags::jsonb ->> 'project', e.tags,
               0, 0, 0, 0, e.amount_nusd, e.amount_nusd, e.amount_nusd, e.amount_nusd,
               'orphaned', 0, 1,
               CASE WHEN e.attempt = 0 THEN 'lease not renewed: billed at the room it held'
                    ELSE 'sent and never settled: billed at the reserved worst case' END
          FROM expired e WHERE e.sent_at IS NOT NULL
        ON CONFLICT (call_id, attempt) DO NOTHING
        RETURNING call_id, attempt, cost_nusd
    ), held AS (
        DELETE FROM holds h USING orphans o WHERE h.call_id = o.call_id AND h.attempt = o.attempt
        RETURNING h.scope, h.period, h.win,
                  costrouter_counted(h.period, h.amount_nusd, o.cost_nusd, 0, 'orphaned') AS units
    )
    INSERT INTO spend_deltas (scope, period, win, spent_nusd)
    SELECT held.scope, held.period, held.win, held.units FROM held;
END;
$$;

-- Reserve the call's worst case on every budget the call matches, or nothing: p_amount
-- nanodollars on a USD budget, p_tokens on a token budget, one on a request budget. A call id
-- already recorded is refused (unique_violation), since its result could not be recorded again.
-- The matching windows' spend rows are created if new and locked in key order (so two
-- reservations never wait on each other in a cycle); a later statement, so a snapshot taken after the locks were granted,
-- reads each window's spend row, its unfolded deltas and its live holds: it sees a settlement
-- whole (its hold gone, its delta there) or not at all. The rows are returned either way; the
-- caller raises when a hard limit would be overrun, and then no hold was written. Once 32
-- deltas have piled up on a window, they are folded into its (still locked) spend row: the fold
-- moves exactly the rows it deletes, so it is exact whatever settles meanwhile.
--
-- plan_cache_mode: plan each statement once per session. Left to choose, PostgreSQL can
-- re-plan them on every call (on a ledger with history that doubled a reservation's time).
CREATE OR REPLACE FUNCTION costrouter_reserve(
    p_call text, p_attempt integer, p_amount bigint, p_tags jsonb, p_now double precision,
    p_expires double precision, p_sent boolean, p_tokens bigint
) RETURNS TABLE (scope text, period text, win text, limit_nusd bigint, soft integer, tz text,
                 spent bigint, reserved bigint)
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    k_scope text[];
    k_period text[];
    k_win text[];
    k_limit bigint[];
    k_soft integer[];
    k_tz text[];
    k_spent bigint[];
    k_reserved bigint[];
    k_amount bigint[];
    i integer;
    unfolded bigint;
BEGIN
    PERFORM costrouter_sweep(p_now);
    IF EXISTS (SELECT 1 FROM calls c WHERE c.call_id = p_call AND c.attempt = p_attempt) THEN
        RAISE unique_violation USING MESSAGE = 'costrouter: call id already recorded';
    END IF;
    SELECT array_agg(m.scope ORDER BY m.scope, m.period),
           array_agg(m.period ORDER BY m.scope, m.period),
           array_agg(m.win ORDER BY m.scope, m.period),
           array_agg(m.limit_nusd ORDER BY m.scope, m.period),
           array_agg(m.soft ORDER BY m.scope, m.period),
           array_agg(m.tz ORDER BY m.scope, m.period),
           array_agg(CASE split_part(m.period, '/', 2) WHEN 'tokens' THEN p_tokens
                          WHEN 'requests' THEN 1 ELSE p_amount END ORDER BY m.scope, m.period)
      INTO k_scope, k_period, k_win, k_limit, k_soft, k_tz, k_amount
      FROM costrouter_matching(p_tags, p_now) m;
    IF k_scope IS NULL THEN
        PERFORM costrouter_pend(p_call, p_attempt, p_tags, p_amount, p_now, p_expires, p_sent);
        RETURN;  -- no budget applies: nothing to hold
    END IF;
    INSERT INTO budget_spend (scope, period, win, spent_nusd)
    SELECT u.scope, u.period, u.win, 0 FROM unnest(k_scope, k_period, k_win) AS u(scope, period, win)
    ON CONFLICT (scope, period, win) DO NOTHING;
    PERFORM 1 FROM budget_spend s
     WHERE (s.scope, s.period, s.win) IN
           (SELECT * FROM unnest(k_scope, k_period, k_win))
     ORDER BY s.scope, s.period, s.win
       FOR UPDATE;
    WITH k AS (
        SELECT * FROM unnest(k_scope, k_period, k_win) WITH ORDINALITY AS u(scope, period, win, n)
    )
    SELECT array_agg(s.spent_nusd + COALESCE(d.total, 0) ORDER BY k.n),
           array_agg(COALESCE((SELECT SUM(h.amount_nusd) FROM holds h
                               WHERE h.scope = k.scope AND h.period = k.period AND h.win = k.win
                                 AND h.expires_at > p_now
                                 AND NOT (h.call_id = p_call AND h.attempt = p_attempt)), 0)::bigint
                     ORDER BY k.n),
           MAX(d.count)
      INTO k_spent, k_reserved, unfolded
      FROM k
      JOIN budget_spend s ON s.scope = k.scope AND s.period = k.period AND s.win = k.win
      LEFT JOIN LATERAL (
          SELECT SUM(x.spent_nusd) AS total, count(*) AS count FROM spend_deltas x
           WHERE x.scope = k.scope AND x.period = k.period AND x.win = k.win
      ) d ON true;
    RETURN QUERY SELECT * FROM unnest(k_scope, k_period, k_win, k_limit, k_soft, k_tz, k_spent,
                                      k_reserved);
    FOR i IN 1 .. array_length(k_scope, 1) LOOP
        IF k_soft[i] = 0 AND k_spent[i] + k_reserved[i] + k_amount[i] > k_limit[i] THEN
            RETURN;  -- the caller raises from the rows; no hold is written
        END IF;
    END LOOP;
    DELETE FROM holds h WHERE h.call_id = p_call AND h.attempt = p_attempt;
    INSERT INTO holds (call_id, attempt, scope, period, win, amount_nusd, expires_at)
    SELECT p_call, p_attempt, u.scope, u.period, u.win, u.amount,
           CASE WHEN p_sent THEN 1e300 ELSE p_expires END
      FROM unnest(k_scope, k_period, k_win, k_amount) AS u(scope, period, win, amount);
    PERFORM costrouter_pend(p_call, p_attempt, p_tags, p_amount, p_now, p_expires, p_sent);
    IF unfolded >= 32 THEN
        WITH folded AS (
            DELETE FROM spend_deltas d
             USING unnest(k_scope, k_period, k_win) AS u(scope, period, win)
             WHERE d.scope = u.scope AND d.period = u.period AND d.win = u.win
            RETURNING d.scope, d.period, d.win, d.spent_nusd
        )
        UPDATE budget_spend s SET spent_nusd = s.spent_nusd + t.total
          FROM (SELECT f.scope, f.period, f.win, SUM(f.spent_nusd) AS total
                  FROM folded f GROUP BY f.scope, f.period, f.win) t
         WHERE s.scope = t.scope AND s.period = t.period AND s.win = t.win;
    END IF;
END;
$$;

-- Record the call once (false if it already was: idempotent) and add what it counts
-- (costrouter_counted) to the budgets it reserved, as deltas, freeing its holds; with no live
-- reservation, to the budgets its tags match now. The row comes whole, as the calls table's own
-- row type.
CREATE OR REPLACE FUNCTION costrouter_settle(p_row calls, p_now double precision) RETURNS boolean
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    held integer;
    tokens bigint;
BEGIN
    PERFORM costrouter_sweep(p_now);
    DELETE FROM pending p WHERE p.call_id = p_row.call_id AND p.attempt = p_row.attempt;
    INSERT INTO calls SELECT (p_row).* ON CONFLICT (call_id, attempt) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    tokens := p_row.input_tokens + p_row.output_tokens;
    WITH gone AS (
        DELETE FROM holds h WHERE h.call_id = p_row.call_id AND h.attempt = p_row.attempt
        RETURNING h.scope, h.period, h.win,
                  costrouter_counted(h.period, h.amount_nusd, p_row.cost_nusd, tokens,
                                     p_row.status) AS units
    ), added AS (
        INSERT INTO spend_deltas (scope, period, win, spent_nusd)
        SELECT g.scope, g.period, g.win, g.units FROM gone g WHERE g.units <> 0
    )
    SELECT count(*) INTO held FROM gone;
    IF held = 0 THEN
        INSERT INTO spend_deltas (scope, period, win, spent_nusd)
        SELECT m.scope, m.period, m.win, t.units
          FROM costrouter_matching(p_row.tags::jsonb, p_now) m,
               LATERAL (SELECT costrouter_counted(m.period, 0, p_row.cost_nusd, tokens,
                                                  p_row.status) AS units) t
         WHERE t.units <> 0;
    END IF;
    RETURN true;
END;
$$;

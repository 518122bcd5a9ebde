"""Server-side functions for the PostgreSQL ledger: one round trip per reserve and per settle.

They do what :class:`~router._ledger_sql.SQLLedger` does statement by statement, inside the
database: match budgets to the call's tags (a budget's ``k=v,...`` scope as a JSON object
contained in the tags), compute each budget's calendar window in its time zone, lock the spend
rows in key order, then — in a later statement, so with a snapshot taken after the locks were
granted — sum the live holds, check the limits and write the holds. A refusal writes nothing.
"""

from __future__ import annotations

#: The budgets a call with tags ``p_tags`` matches, with their window at ``p_now``.
_MATCHING = """
    SELECT b.scope, b.period, b.limit_nusd, b.soft, b.tz,
           CASE b.period
               WHEN 'day' THEN ((to_timestamp(p_now) AT TIME ZONE b.tz)::date)::text
               WHEN 'week' THEN (date_trunc('week', to_timestamp(p_now) AT TIME ZONE b.tz)::date)::text
               WHEN 'month' THEN (date_trunc('month', to_timestamp(p_now) AT TIME ZONE b.tz)::date)::text
               ELSE 'total'
           END AS win
    FROM budgets b
    WHERE b.scope = 'global' OR (
        SELECT jsonb_object_agg(substr(kv, 1, strpos(kv, '=') - 1), substr(kv, strpos(kv, '=') + 1))
        FROM unnest(string_to_array(b.scope, ',')) AS kv
    ) <@ p_tags
"""

_SPEND_ROWS = f"""
    FROM ({_MATCHING}) m
    JOIN budget_spend s ON s.scope = m.scope AND s.period = m.period AND s.win = m.win
"""
_RESERVED = """
    COALESCE((SELECT SUM(h.amount_nusd) FROM holds h
              WHERE h.scope = m.scope AND h.period = m.period AND h.win = m.win
                AND h.expires_at > p_now AND h.call_id <> p_call), 0)
"""

#: What every version of ``costrouter_reserve`` takes and returns (the Python side reads it).
_RESERVE_RETURNS = """CREATE OR REPLACE FUNCTION costrouter_reserve(
    p_call text, p_amount bigint, p_tags jsonb, p_now double precision, p_expires double precision
) RETURNS TABLE (scope text, period text, win text, limit_nusd bigint, soft integer, tz text,
                 spent bigint, reserved bigint)
"""
_PLPGSQL = """LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
"""
_RESERVE_SIGNATURE = _RESERVE_RETURNS + _PLPGSQL
#: Plan each statement once per session. Left to choose, PostgreSQL can re-plan them on every
#: call: on a ledger with history (60,000 calls, pgbench) that took a reservation from 0.32 to
#: 0.60 ms of server time. On a new, small ledger the two plans cost the same.
_GENERIC = "SET plan_cache_mode = force_generic_plan\n"

RESERVE = f"""
{_RESERVE_SIGNATURE}DECLARE
    refused boolean;
BEGIN
    -- Lock every matching window's spend row (creating it if new), in key order.
    INSERT INTO budget_spend AS s (scope, period, win, spent_nusd)
    SELECT m.scope, m.period, m.win, 0 FROM ({_MATCHING}) m ORDER BY m.scope, m.period, m.win
    ON CONFLICT (scope, period, win) DO UPDATE SET spent_nusd = s.spent_nusd;
    -- Later statements take snapshots after the locks were granted: they see every hold and
    -- every spend committed by whoever held them before us.
    RETURN QUERY
        SELECT m.scope, m.period, m.win, m.limit_nusd, m.soft, m.tz, s.spent_nusd,
               ({_RESERVED})::bigint
        {_SPEND_ROWS}
        ORDER BY m.scope, m.period;
    SELECT bool_or(m.soft = 0 AND s.spent_nusd + {_RESERVED} + p_amount > m.limit_nusd)
      INTO refused
      {_SPEND_ROWS};
    IF refused THEN
        RETURN;  -- the caller raises from the rows; no hold is written
    END IF;
    DELETE FROM holds h WHERE h.call_id = p_call;
    INSERT INTO holds (call_id, scope, period, win, amount_nusd, expires_at)
    SELECT p_call, m.scope, m.period, m.win, p_amount, p_expires FROM ({_MATCHING}) m;
END;
$$
"""

#: What every version of ``costrouter_settle`` takes and returns.
_SETTLE_SIGNATURE = """CREATE OR REPLACE FUNCTION costrouter_settle(
    p_call text, p_ts double precision, p_day text, p_week text, p_month text,
    p_requested text, p_served text, p_provider text, p_user text, p_project text, p_tags text,
    p_in bigint, p_out bigint, p_cached bigint, p_reasoning bigint, p_low bigint,
    p_expected bigint, p_high bigint, p_cost bigint, p_status text, p_latency double precision,
    p_attempts integer, p_now double precision
) RETURNS boolean
"""

#: The start of every settle body: record the call once (``false`` if it already was).
_RECORD_CALL = """
    INSERT INTO calls (call_id, ts, day, week, month, requested_model, served_model, provider,
                       user_tag, project_tag, tags, input_tokens, output_tokens, cached_tokens,
                       reasoning_tokens, est_low_nusd, est_expected_nusd, est_high_nusd, cost_nusd,
                       status, latency, attempts)
    VALUES (p_call, p_ts, p_day, p_week, p_month, p_requested, p_served, p_provider, p_user,
            p_project, p_tags, p_in, p_out, p_cached, p_reasoning, p_low, p_expected, p_high,
            p_cost, p_status, p_latency, p_attempts)
    ON CONFLICT (call_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;  -- already recorded: idempotent
    END IF;
"""

SETTLE = f"""
{_SETTLE_SIGNATURE}LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    held integer;
BEGIN{_RECORD_CALL}    WITH gone AS (
        DELETE FROM holds h WHERE h.call_id = p_call RETURNING h.scope, h.period, h.win
    )
    INSERT INTO budget_spend AS s (scope, period, win, spent_nusd)
    SELECT g.scope, g.period, g.win, p_cost FROM gone g ORDER BY g.scope, g.period, g.win
    ON CONFLICT (scope, period, win) DO UPDATE SET spent_nusd = s.spent_nusd + excluded.spent_nusd;
    GET DIAGNOSTICS held = ROW_COUNT;
    IF held = 0 THEN  -- no live reservation: the budgets its tags match now
        INSERT INTO budget_spend AS s (scope, period, win, spent_nusd)
        SELECT m.scope, m.period, m.win, p_cost FROM ({_MATCHING.replace("p_tags", "p_tags::jsonb")}) m
        ORDER BY m.scope, m.period, m.win
        ON CONFLICT (scope, period, win) DO UPDATE SET spent_nusd = s.spent_nusd + excluded.spent_nusd;
    END IF;
    RETURN true;
END;
$$
"""

#: Version 3's variables and opening, shared by later versions: ``_LOCK`` matches the budgets
#: once into sorted arrays, creates missing spend rows, and locks every matching row in key order.
_DECLARE_ARRAYS = """DECLARE
    k_scope text[];
    k_period text[];
    k_win text[];
    k_limit bigint[];
    k_soft integer[];
    k_tz text[];
    k_spent bigint[];
    k_reserved bigint[];
    i integer;
"""
_LOCK = f"""BEGIN
    SELECT array_agg(m.scope ORDER BY m.scope, m.period),
           array_agg(m.period ORDER BY m.scope, m.period),
           array_agg(m.win ORDER BY m.scope, m.period),
           array_agg(m.limit_nusd ORDER BY m.scope, m.period),
           array_agg(m.soft ORDER BY m.scope, m.period),
           array_agg(m.tz ORDER BY m.scope, m.period)
      INTO k_scope, k_period, k_win, k_limit, k_soft, k_tz
      FROM ({_MATCHING}) m;
    IF k_scope IS NULL THEN
        RETURN;  -- no budget applies: nothing to hold
    END IF;
    -- A window's first call creates its spend row; then every matching row is locked, in key
    -- order (the arrays are sorted), so two reservations never wait on each other in a cycle.
    INSERT INTO budget_spend (scope, period, win, spent_nusd)
    SELECT u.scope, u.period, u.win, 0 FROM unnest(k_scope, k_period, k_win) AS u(scope, period, win)
    ON CONFLICT (scope, period, win) DO NOTHING;
    PERFORM 1 FROM budget_spend s
     WHERE (s.scope, s.period, s.win) IN
           (SELECT * FROM unnest(k_scope, k_period, k_win))
     ORDER BY s.scope, s.period, s.win
       FOR UPDATE;
"""

#: Version 3's ending, shared by later versions: return the rows, refuse or write the holds.
_CHECK = """    RETURN QUERY SELECT * FROM unnest(k_scope, k_period, k_win, k_limit, k_soft, k_tz, k_spent,
                                      k_reserved);
    FOR i IN 1 .. array_length(k_scope, 1) LOOP
        IF k_soft[i] = 0 AND k_spent[i] + k_reserved[i] + p_amount > k_limit[i] THEN
            RETURN;  -- the caller raises from the rows; no hold is written
        END IF;
    END LOOP;
    DELETE FROM holds h WHERE h.call_id = p_call;
    INSERT INTO holds (call_id, scope, period, win, amount_nusd, expires_at)
    SELECT p_call, u.scope, u.period, u.win, p_amount, p_expires
      FROM unnest(k_scope, k_period, k_win) AS u(scope, period, win);
"""
_END = """END;
$$
"""

#: Version 3 of ``costrouter_reserve``, same contract: the matching budgets are computed once
#: into arrays (version 2 evaluated the match four times and the holds sum twice), existing
#: spend rows are locked with ``FOR UPDATE`` (version 2 rewrote each row to lock it, leaving a
#: dead row version per call), and spend and holds are read in one statement.
RESERVE_ARRAYS = f"""
{_RESERVE_SIGNATURE}{_DECLARE_ARRAYS}{_LOCK}    -- A later statement, so a snapshot taken after the locks were granted: it sees every hold
    -- and every spend committed by whoever held them before us.
    SELECT array_agg(s.spent_nusd ORDER BY u.n),
           array_agg(COALESCE((SELECT SUM(h.amount_nusd) FROM holds h
                               WHERE h.scope = u.scope AND h.period = u.period AND h.win = u.win
                                 AND h.expires_at > p_now AND h.call_id <> p_call), 0)::bigint
                     ORDER BY u.n)
      INTO k_spent, k_reserved
      FROM unnest(k_scope, k_period, k_win) WITH ORDINALITY AS u(scope, period, win, n)
      JOIN budget_spend s ON s.scope = u.scope AND s.period = u.period AND s.win = u.win;
{_CHECK}{_END}"""

#: PostgreSQL only (migration 4): a settlement's cost lands here, one row per budget window,
#: instead of on the window's spend row. Reservations lock the spend rows; a settlement that
#: updated them queued behind every reservation of the same budget and held the row through its
#: own commit. Now only reservations queue, and they fold the deltas into the spend rows (see
#: ``RESERVE_FOLDING``). Readers count spend as the row plus the window's unfolded deltas.
SPEND_DELTAS = """CREATE TABLE spend_deltas (
    scope TEXT NOT NULL, period TEXT NOT NULL, win TEXT NOT NULL, spent_nusd BIGINT NOT NULL)"""
SPEND_DELTAS_INDEX = "CREATE INDEX spend_deltas_by_budget ON spend_deltas (scope, period, win)"

#: A reservation folds a window's deltas into its spend row once there are this many.
FOLD_AFTER = 32

#: Version 4 of ``costrouter_reserve``, same contract: after the locks, one statement reads each
#: window's spend row, its unfolded deltas and its live holds. One snapshot sees a settlement
#: whole (its hold gone, its delta there) or not at all. With the holds written, a reservation
#: folds the deltas of its windows (still locked) when they have piled up: the fold moves exactly
#: the rows it deletes, so it is exact whatever settled meanwhile.
RESERVE_FOLDING = f"""
{_RESERVE_RETURNS}{_GENERIC}{_PLPGSQL}{_DECLARE_ARRAYS}    unfolded bigint;
{_LOCK}    WITH k AS (
        SELECT * FROM unnest(k_scope, k_period, k_win) WITH ORDINALITY AS u(scope, period, win, n)
    )
    SELECT array_agg(s.spent_nusd + COALESCE(d.total, 0) ORDER BY k.n),
           array_agg(COALESCE((SELECT SUM(h.amount_nusd) FROM holds h
                               WHERE h.scope = k.scope AND h.period = k.period AND h.win = k.win
                                 AND h.expires_at > p_now AND h.call_id <> p_call), 0)::bigint
                     ORDER BY k.n),
           MAX(d.count)
      INTO k_spent, k_reserved, unfolded
      FROM k
      JOIN budget_spend s ON s.scope = k.scope AND s.period = k.period AND s.win = k.win
      LEFT JOIN LATERAL (
          SELECT SUM(x.spent_nusd) AS total, count(*) AS count FROM spend_deltas x
           WHERE x.scope = k.scope AND x.period = k.period AND x.win = k.win
      ) d ON true;
{_CHECK}    IF unfolded >= {FOLD_AFTER} THEN  -- move the deltas into the spend rows we hold locked
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
{_END}"""

#: Version 3 of ``costrouter_settle``, same contract: the cost goes to ``spend_deltas`` (see
#: there), so a settlement never waits for a reservation's locks.
SETTLE_DELTAS = f"""
{_SETTLE_SIGNATURE}{_GENERIC}{_PLPGSQL}DECLARE
    held integer;
BEGIN{_RECORD_CALL}    WITH gone AS (
        DELETE FROM holds h WHERE h.call_id = p_call RETURNING h.scope, h.period, h.win
    ), added AS (
        INSERT INTO spend_deltas (scope, period, win, spent_nusd)
        SELECT g.scope, g.period, g.win, p_cost FROM gone g WHERE p_cost <> 0
    )
    SELECT count(*) INTO held FROM gone;
    IF held = 0 AND p_cost <> 0 THEN  -- no live reservation: the budgets its tags match now
        INSERT INTO spend_deltas (scope, period, win, spent_nusd)
        SELECT m.scope, m.period, m.win, p_cost FROM ({_MATCHING.replace("p_tags", "p_tags::jsonb")}) m;
    END IF;
    RETURN true;
END;
$$
"""

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (2, (RESERVE, SETTLE)),
    (3, (RESERVE_ARRAYS,)),
    (4, (SPEND_DELTAS, SPEND_DELTAS_INDEX, RESERVE_FOLDING, SETTLE_DELTAS)),
)

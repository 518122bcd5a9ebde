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

RESERVE = f"""
CREATE OR REPLACE FUNCTION costrouter_reserve(
    p_call text, p_amount bigint, p_tags jsonb, p_now double precision, p_expires double precision
) RETURNS TABLE (scope text, period text, win text, limit_nusd bigint, soft integer, tz text,
                 spent bigint, reserved bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
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

SETTLE = f"""
CREATE OR REPLACE FUNCTION costrouter_settle(
    p_call text, p_ts double precision, p_day text, p_week text, p_month text,
    p_requested text, p_served text, p_provider text, p_user text, p_project text, p_tags text,
    p_in bigint, p_out bigint, p_cached bigint, p_reasoning bigint, p_low bigint,
    p_expected bigint, p_high bigint, p_cost bigint, p_status text, p_latency double precision,
    p_attempts integer, p_now double precision
) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    held integer;
BEGIN
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
    WITH gone AS (
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

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = ((2, (RESERVE, SETTLE)),)

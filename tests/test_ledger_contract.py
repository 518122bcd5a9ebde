"""One contract for every ledger backend: memory, SQLite and PostgreSQL run the same tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from router import Budget, BudgetExceededError, InputError, Ledger, LedgerRow, ledger_from_url
from router.ledger.base import ORPHAN_NOTE

NOW = dt.datetime(2026, 3, 14, 15, 0, tzinfo=dt.timezone.utc).timestamp()
ALICE = {"user": "alice", "project": "atlas", "model": "gpt:gpt-4o", "provider": "gpt"}
BOB = {"user": "bob", "project": "atlas", "model": "gpt:gpt-4o", "provider": "gpt"}


def row(
    call_id: str, cost: str, tags: dict[str, str] = ALICE, ts: float = NOW, status: str = "ok"
) -> LedgerRow:
    return LedgerRow(
        call_id,
        ts,
        tags["model"],
        tags["model"],
        tuple(sorted(tags.items())),
        1200,
        300,
        100,
        50,
        Decimal("0.001"),
        Decimal("0.002"),
        Decimal("0.009"),
        Decimal(cost),
        status,
        0.25,
        1,
    )


def spent_reserved(ledger: Ledger, scope: str, now: float = NOW) -> tuple[Decimal, Decimal]:
    status = next(s for s in ledger.status(now) if s.budget.scope_text == scope)
    return status.spent, status.reserved


def test_budgets_are_set_replaced_and_listed(ledger: Ledger) -> None:
    """set_budget creates or replaces by (scope, period); budgets() lists them sorted."""
    ledger.set_budget(Budget.parse("user=alice", "5", period="day"))
    ledger.set_budget(Budget.parse("global", "100"))
    ledger.set_budget(Budget.parse("user=alice", "7", period="day", soft=True))
    budgets = ledger.budgets()
    assert [(b.scope_text, b.period, b.limit, b.soft) for b in budgets] == [
        ("global", "month", Decimal(100), False),
        ("user=alice", "day", Decimal(7), True),
    ]


def test_reserve_holds_on_every_matching_budget(ledger: Ledger) -> None:
    """A reservation holds its amount on each budget whose tags the call has, and no other."""
    ledger.set_budget(Budget.parse("global", "1"))
    ledger.set_budget(Budget.parse("user=alice", "1"))
    ledger.set_budget(Budget.parse("user=bob", "1"))
    ledger.set_budget(Budget.parse("model=gpt:gpt-4o,project=atlas", "1"))
    reservation = ledger.reserve("c1", Decimal("0.25"), ALICE, NOW)
    assert {h.scope for h in reservation.holds} == {
        "global",
        "user=alice",
        "model=gpt:gpt-4o,project=atlas",
    }
    assert spent_reserved(ledger, "user=alice") == (0, Decimal("0.25"))
    assert spent_reserved(ledger, "user=bob") == (0, 0)


def test_refusal_is_all_or_nothing_and_carries_the_numbers(ledger: Ledger) -> None:
    """If any hard budget cannot cover the amount, nothing is held on any budget."""
    ledger.set_budget(Budget.parse("global", "10"))
    ledger.set_budget(Budget.parse("user=alice", "1"))
    ledger.reserve("c1", Decimal("0.6"), ALICE, NOW)
    ledger.settle(row("c1", "0.3"), NOW)
    ledger.reserve("c2", Decimal("0.5"), ALICE, NOW)
    with pytest.raises(BudgetExceededError) as info:
        ledger.reserve("c3", Decimal("0.25"), ALICE, NOW)
    error = info.value
    assert (error.scope, error.limit, error.spent, error.reserved, error.requested) == (
        "user=alice",
        Decimal(1),
        Decimal("0.3"),
        Decimal("0.5"),
        Decimal("0.25"),
    )
    assert error.exit_code == 3
    assert spent_reserved(ledger, "global") == (Decimal("0.3"), Decimal("0.5"))


def test_settle_is_idempotent_and_frees_the_difference(ledger: Ledger) -> None:
    """settle records once, adds the actual cost, drops the hold; a second settle is a no-op."""
    ledger.set_budget(Budget.parse("user=alice", "1"))
    ledger.reserve("c1", Decimal("0.9"), ALICE, NOW)
    assert ledger.settle(row("c1", "0.125"), NOW) is True
    assert ledger.settle(row("c1", "0.125"), NOW) is False
    assert spent_reserved(ledger, "user=alice") == (Decimal("0.125"), 0)
    assert [r.call_id for r in ledger.rows()] == ["c1"]
    ledger.reserve("c2", Decimal("0.875"), ALICE, NOW)  # exactly what is left fits


def test_rows_round_trip_exactly(ledger: Ledger) -> None:
    """A recorded row comes back equal, Decimals to the last digit, no content stored; money
    finer than a nanodollar is rounded up, the same on every backend."""
    original = row("c1", "0.000000123")
    ledger.settle(original, NOW)
    finer = row("c2", "0.0000001231")
    assert finer.cost == Decimal("0.000000124")
    ledger.settle(finer, NOW)
    assert ledger.rows() == [original, finer]


def test_release_frees_holds_and_records_a_failed_call(ledger: Ledger) -> None:
    """release drops the holds; with a row it records the failure once."""
    ledger.set_budget(Budget.parse("global", "1"))
    ledger.reserve("c1", Decimal("0.5"), ALICE, NOW)
    ledger.release("c1", NOW)
    assert spent_reserved(ledger, "global") == (0, 0)
    ledger.reserve("c2", Decimal("0.5"), ALICE, NOW)
    ledger.release("c2", NOW, row("c2", "0", status="error"))
    assert [(r.call_id, r.status) for r in ledger.rows()] == [("c2", "error")]
    assert spent_reserved(ledger, "global") == (0, 0)


def test_holds_expire(ledger: Ledger) -> None:
    """A hold stops counting after its expiry: a crashed caller's money comes back."""
    ledger.set_budget(Budget.parse("global", "1"))
    ledger.reserve("c1", Decimal("0.8"), ALICE, NOW, hold_seconds=60)
    with pytest.raises(BudgetExceededError):
        ledger.reserve("c2", Decimal("0.5"), ALICE, NOW + 59)
    ledger.reserve("c2", Decimal("0.5"), ALICE, NOW + 61)
    assert spent_reserved(ledger, "global", NOW + 61) == (0, Decimal("0.5"))


def test_rereserving_a_call_replaces_its_holds(ledger: Ledger) -> None:
    """A fallback re-reserves under the same call id: the old hold is replaced, not added."""
    ledger.set_budget(Budget.parse("global", "1"))
    ledger.reserve("c1", Decimal("0.7"), ALICE, NOW)
    ledger.reserve("c1", Decimal("0.9"), ALICE, NOW)
    assert spent_reserved(ledger, "global") == (0, Decimal("0.9"))


def test_soft_budgets_warn_and_allow(ledger: Ledger) -> None:
    """A soft budget never refuses; the reservation lists it as crossed."""
    ledger.set_budget(Budget.parse("user=alice", "0.1", soft=True))
    reservation = ledger.reserve("c1", Decimal("0.5"), ALICE, NOW)
    assert [w.budget.scope_text for w in reservation.warnings] == ["user=alice"]
    assert ledger.reserve("c2", Decimal("0.01"), BOB, NOW).warnings == ()


def test_periods_are_calendar_windows(ledger: Ledger) -> None:
    """A daily budget starts again at midnight in its time zone; a total one never does."""
    ledger.set_budget(Budget.parse("global", "1", period="day"))
    ledger.set_budget(Budget.parse("user=alice", "1", period="total"))
    ledger.set_budget(Budget.parse("project=atlas", "1", period="day", tz="Asia/Tokyo"))
    ledger.reserve("c1", Decimal("0.6"), ALICE, NOW)
    ledger.settle(row("c1", "0.6"), NOW)
    tomorrow = NOW + 10 * 3600  # 01:00 UTC next day; already 10:00 next day in Tokyo at NOW+
    by_scope = {s.budget.scope_text: s for s in ledger.status(tomorrow)}
    assert by_scope["global"].spent == 0
    assert by_scope["user=alice"].spent == Decimal("0.6")
    assert by_scope["project=atlas"].window == "2026-03-15"
    weekly = Budget.parse("global", "1", period="week")
    assert weekly.window(NOW) == "2026-03-09"  # the Monday of that ISO week
    assert Budget.parse("global", "1", period="month").window(NOW) == "2026-03-01"


def test_settle_without_reservation_matches_by_tags(ledger: Ledger) -> None:
    """A call settled after its hold expired still counts against the budgets it matches."""
    ledger.set_budget(Budget.parse("user=alice", "1"))
    ledger.settle(row("late", "0.2"), NOW)
    assert spent_reserved(ledger, "user=alice") == (Decimal("0.2"), 0)


def test_allowance_is_the_tightest_hard_budget(ledger: Ledger) -> None:
    """allowance() is the least any matching hard budget still allows; None without budgets."""
    assert ledger.allowance(ALICE, NOW) is None
    ledger.set_budget(Budget.parse("global", "5"))
    ledger.set_budget(Budget.parse("user=alice", "2"))
    ledger.set_budget(Budget.parse("project=atlas", "0.5", soft=True))
    ledger.reserve("c1", Decimal("0.5"), ALICE, NOW)
    assert ledger.allowance(ALICE, NOW) == Decimal("1.5")


def test_bad_urls_and_budgets_are_input_errors() -> None:
    """An unknown scheme lists the known ones; bad scopes, periods, zones and limits say what."""
    with pytest.raises(InputError, match="memory://"):
        ledger_from_url("redis://localhost")
    for args, message in [
        (("user", "1"), "key=value"),
        (("global", "-1"), "from 0 to"),
        (("global", "1e12"), "from 0 to"),
        (("global", "lots"), "amount of USD"),
    ]:
        with pytest.raises(InputError, match=message):
            Budget.parse(*args)
    with pytest.raises(InputError, match="period"):
        Budget.parse("global", "1", period="year")
    with pytest.raises(InputError, match="time zone"):
        Budget.parse("global", "1", tz="Mars/Olympus")


def test_every_bundled_rate_is_whole_nanodollars() -> None:
    """The ledger's unit loses nothing: each bundled per-token rate is a whole nanodollar
    count, so any token count costs a whole number of them."""
    from pricing import Catalog
    from router.ledger.budgets import from_units

    nanodollar = from_units(1)
    for model in Catalog.bundled():
        for tier in model.tiers:
            for rate in (tier.input_rate, tier.output_rate):
                units = rate / nanodollar
                assert units == units.to_integral_value(), (model.id, rate)


def test_money_ignores_the_callers_decimal_context(ledger: Ledger) -> None:
    """An application's decimal context (6 digits, rounding down) changes no amount: reserved,
    settled, summed and reported money stays exact to the nanodollar."""
    import decimal

    from router import ReportQuery

    ledger.set_budget(Budget.parse("global", "1000"))
    with decimal.localcontext(decimal.Context(prec=6, rounding=decimal.ROUND_DOWN)):
        reservation = ledger.reserve("c1", Decimal("1.141971251"), ALICE, NOW)
        assert reservation.amount == Decimal("1.141971251")
        ledger.settle(row("c1", "0.123456789"), NOW)
        ledger.settle(row("c2", "987.654321001"), NOW)
        assert spent_reserved(ledger, "global") == (Decimal("987.777777790"), 0)
        (stored, _) = sorted(ledger.rows(), key=lambda r: r.call_id)
        assert stored.cost == Decimal("0.123456789")
        report = ledger.report(ReportQuery(by=("user",)), NOW)
        assert report.total.cost == Decimal("987.77777779")


def test_a_recorded_call_id_cannot_be_reserved_again(ledger: Ledger) -> None:
    """Reserving under an id the ledger already recorded is refused before anything is held
    (its result could not be recorded again); an unrecorded id may be re-reserved."""
    ledger.set_budget(Budget.parse("global", "10"))
    ledger.reserve("c1", Decimal("1"), ALICE, NOW)
    ledger.reserve("c1", Decimal("2"), ALICE, NOW)  # a fallback re-reserving: fine
    ledger.settle(row("c1", "0.5"), NOW)
    with pytest.raises(InputError, match="already recorded"):
        ledger.reserve("c1", Decimal("1"), ALICE, NOW)
    assert spent_reserved(ledger, "global") == (Decimal("0.5"), 0)


def test_a_sent_call_that_is_never_settled_is_billed_as_orphaned(ledger: Ledger) -> None:
    """A sent call's hold counts past its time; the first write after it bills the call as
    an orphaned row at the reserved amount, in the windows it held. An unsent hold just ends,
    and a sent call that settles in time is billed once, as settled."""
    ledger.set_budget(Budget.parse("global", "10"))
    ledger.reserve("sent", Decimal("1.5"), ALICE, NOW, hold_seconds=60)
    ledger.mark_sent("sent", NOW)
    ledger.reserve("unsent", Decimal("2"), ALICE, NOW, hold_seconds=60)
    ledger.reserve("settles", Decimal("3"), ALICE, NOW, hold_seconds=60)
    ledger.mark_sent("settles", NOW)
    ledger.settle(row("settles", "0.25"), NOW + 1)
    assert spent_reserved(ledger, "global", NOW + 120) == (Decimal("0.25"), Decimal("1.5"))
    ledger.reserve("later", Decimal(0), ALICE, NOW + 120)
    rows = {r.call_id: r for r in ledger.rows()}
    assert set(rows) == {"sent", "settles"}
    assert (rows["sent"].status, rows["sent"].cost, rows["sent"].ts) == (
        "orphaned",
        Decimal("1.5"),
        NOW,
    )
    assert rows["sent"].tag_map == ALICE
    assert rows["sent"].note == ORPHAN_NOTE  # the same words on every backend
    assert spent_reserved(ledger, "global", NOW + 120) == (Decimal("1.75"), 0)
    ledger.reserve("later2", Decimal(0), ALICE, NOW + 240)  # billed once, not again
    assert spent_reserved(ledger, "global", NOW + 240) == (Decimal("1.75"), 0)


def test_a_released_sent_call_is_not_billed(ledger: Ledger) -> None:
    """Releasing a sent call (a failure the gateway did not charge) drops its hold and its
    pending entry: nothing is billed later."""
    ledger.set_budget(Budget.parse("global", "10"))
    ledger.reserve("c1", Decimal("1"), ALICE, NOW, hold_seconds=60)
    ledger.mark_sent("c1", NOW)
    ledger.release("c1", NOW)
    ledger.reserve("later", Decimal(0), ALICE, NOW + 120)
    assert ledger.rows() == []
    assert spent_reserved(ledger, "global", NOW + 120) == (0, 0)

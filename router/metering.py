"""Metering: what an answer cost, checked against what was reserved, and its ledger row.

A call is priced from the usage the gateway reports, recorded as reported, at the snapshot
that served it. Without usage, or with usage that cannot be real, it is billed at the
estimate's worst case: never free. Whatever is unusual is said in the result's note.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from pricing import ModelSpec, Usage, price, usd_text

from .estimate.estimator import Estimate
from .gateway.errors import Attempt
from .gateway.response import Completion
from .ledger.base import LedgerRow
from .routing.policy import Candidate


@attrs.frozen
class CallResult:
    """A finished call: what was asked, what answered, what it cost, and every attempt."""

    call_id: str
    model: str
    served_model: str
    texts: tuple[str, ...]
    finish_reasons: tuple[str | None, ...]
    usage: Usage | None
    cost: Decimal
    metered: bool
    estimate: Estimate
    attempts: tuple[Attempt, ...]
    seconds: float
    request_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    #: Why the call is billed as it is when that is not plain metering (usage above the
    #: reservation, usage that cannot be real, a tier the usage passed, a stream cut short).
    note: str = ""
    #: Which of the call's billed attempts answered (earlier ones may have been billed too).
    attempt: int = 1

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    @property
    def status(self) -> str:
        """``ok`` when the gateway's usage priced the call, ``unmetered`` when it had none."""
        return "ok" if self.metered else "unmetered"


def meter(
    completion: Completion,
    candidate: Candidate,
    served: ModelSpec,
    *,
    call_id: str,
    attempt: int,
    tags: Mapping[str, str],
    attempts: tuple[Attempt, ...],
    seconds: float,
    note: str = "",
) -> CallResult:
    """The completion priced at ``served`` from its reported usage; without usage, or with
    usage that cannot be real, at the candidate's worst case."""
    usage, worst = completion.usage, candidate.estimate.cost.high
    problem = completion.usage_problem
    if usage is not None:
        problem = _impossible(usage, served, len(completion.texts))
    if usage is None or problem is not None:
        cost, metered = worst, False
        notes = [note, problem and f"{problem}: billed at the worst case, for review"]
        usage = None
    else:
        cost, metered = price(served, usage, past_last=True).total, True
        notes = [note, *_unusual(usage, served, candidate, cost)]
    return CallResult(
        call_id=call_id,
        model=candidate.model,
        served_model=served.id,
        texts=completion.texts,
        finish_reasons=completion.finish_reasons,
        usage=usage,
        cost=cost,
        metered=metered,
        estimate=candidate.estimate,
        attempts=attempts,
        seconds=seconds,
        request_id=completion.request_id,
        tags=tuple(sorted(tags.items())),
        note="; ".join(n for n in notes if n),
        attempt=attempt,
    )


def ledger_row(result: CallResult, started: float) -> LedgerRow:
    """The ledger row of a finished call, dated like its reservation: by when it started, so
    the day a report shows it under is the day of the budget window it counted in."""
    usage = result.usage or Usage(0, 0)
    return LedgerRow(
        call_id=result.call_id,
        ts=started,
        requested_model=result.model,
        served_model=result.served_model,
        tags=result.tags,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        estimate_low=result.estimate.cost.low,
        estimate_expected=result.estimate.cost.expected,
        estimate_high=result.estimate.cost.high,
        cost=result.cost,
        status=result.status,
        latency=result.seconds,
        attempts=len(result.attempts),
        attempt=result.attempt,
        note=result.note,
        basis=result.estimate.basis,
    )


def error_row(
    candidate: Candidate,
    tags: Mapping[str, str],
    *,
    call_id: str,
    attempt: int,
    started: float,
    seconds: float,
    attempts: int,
) -> LedgerRow:
    """The row of a call no model answered: nothing billed on it (its charged attempts, if
    any, have rows of their own)."""
    cost = candidate.estimate.cost
    return LedgerRow(
        call_id=call_id,
        ts=started,
        requested_model=candidate.model,
        served_model=candidate.model,
        tags=tuple(sorted(tags.items())),
        input_tokens=0,
        output_tokens=0,
        cached_tokens=0,
        reasoning_tokens=0,
        estimate_low=cost.low,
        estimate_expected=cost.expected,
        estimate_high=cost.high,
        cost=Decimal(0),
        status="error",
        latency=seconds,
        attempts=attempts,
        attempt=attempt,
    )


def _impossible(usage: Usage, served: ModelSpec, choices: int) -> str | None:
    """Why a reported usage cannot be real, or None: more input than the model's context
    window, or more output than its output limit for every choice."""
    if usage.input_tokens > served.context_window:
        return (
            f"reported {usage.input_tokens:,} input tokens, more than {served.id}'s "
            f"{served.context_window:,}-token window"
        )
    if usage.output_tokens > served.max_output_tokens * max(1, choices):
        return (
            f"reported {usage.output_tokens:,} output tokens, more than {served.id} can write "
            f"({served.max_output_tokens:,} a choice)"
        )
    return None


def _unusual(usage: Usage, served: ModelSpec, candidate: Candidate, cost: Decimal) -> list[str]:
    """What a real usage did beyond the reservation: the reasons a cost passed it, and an
    input past the last price tier (priced at the last tier)."""
    notes = []
    last = served.tiers[-1].up_to
    if last is not None and usage.input_tokens > last:
        notes.append(f"input {usage.input_tokens:,} is past the last tier ({last:,}): priced at it")
    estimate = candidate.estimate
    if cost > estimate.cost.high:
        reasons = []
        if usage.output_tokens > estimate.output_tokens.high:
            reasons.append(f"output {usage.output_tokens:,} > max {estimate.output_tokens.high:,}")
        if usage.input_tokens > estimate.input_tokens.high:
            reasons.append(
                f"input {usage.input_tokens:,} > estimated {estimate.input_tokens.high:,}"
            )
        if served.id != candidate.model:
            reasons.append(f"served by {served.id}")
        notes.append(
            f"usage above the reservation (${usd_text(cost)} > ${usd_text(estimate.cost.high)}: "
            f"{', '.join(reasons) or 'rates'}): recorded as reported"
        )
    return notes

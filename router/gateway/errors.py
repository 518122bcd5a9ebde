"""What went wrong talking to the gateway: each try's :class:`Attempt`, and the errors that carry them.

Every error exits 5 on the command line and carries what the gateway said.

The tree::

    GatewayError (RouterError)          exit 5; .status, .code, .message, .model, .attempts
    ├── BadRequestError                 409, 415: this request, this model
    │   └── InvalidParametersError      400: invalid parameters, on any model (no fallback)
    ├── AuthenticationError             401: the API key is missing, invalid or expired
    ├── InsufficientBalanceError        402: the gateway account has no balance
    ├── ForbiddenError                  403
    ├── RateLimitError                  429 (retried, honouring Retry-After)
    ├── ServerError                     5xx (retried)
    ├── GatewayConnectionError          no connection: refused, unresolvable, connect timeout
    │                                   (nothing sent; retried)
    ├── AnswerLostError                 sent, answer lost: read timeout, reset, cut (charged)
    └── BadResponseError                an answer that is not a completion: not JSON, the wrong
                                        shape, or HTTP 200 with "status": "errored" (charged)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import attrs

from pricing import RouterError


@attrs.frozen
class Attempt:
    """One HTTP try: which model, what came back (status or error), how long it took. Every
    gateway error and every call result carries the attempts made."""

    model: str
    status: int | None
    error: str | None
    seconds: float
    retry_after: float | None = None
    #: What the attempt was billed, once the Router has recorded it (0: the gateway did not
    #: process it; the worst case: it may have, and no usage says what).
    cost: Decimal | None = None


class GatewayError(RouterError):
    """The gateway did not produce a usable completion."""

    exit_code: ClassVar[int] = 5
    #: Worth trying again on the same model after a pause.
    retryable: ClassVar[bool] = False
    #: Worth trying the next candidate model (false where every model would fail the same way).
    fallback: ClassVar[bool] = True
    #: The gateway may have processed, and so charged, the attempt: it is billed at its worst
    #: case. False where it provably did not (no connection, or an HTTP error envelope).
    charged: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        model: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.model = model
        self.retry_after = retry_after
        self.attempts: tuple[Attempt, ...] = ()
        where = f" ({model})" if model else ""
        status_text = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"gateway{where}: {status_text}{message}")


class BadRequestError(GatewayError):
    pass


class InvalidParametersError(BadRequestError):
    """400: the gateway found the request's parameters invalid, which no other model would
    accept either, so no fallback is tried."""

    fallback = False


class AuthenticationError(GatewayError):
    fallback = False

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(f"{message}; check MEMORIES_API_KEY (the raw key, no 'Bearer')", **kwargs)


class InsufficientBalanceError(GatewayError):
    fallback = False

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(f"{message}; top up the gateway account", **kwargs)


class ForbiddenError(GatewayError):
    pass


class RateLimitError(GatewayError):
    retryable = True


class ServerError(GatewayError):
    retryable = True


class GatewayConnectionError(GatewayError):
    """No connection was made (refused, unresolvable, connect timeout): nothing was sent."""

    retryable = True


class AnswerLostError(GatewayError):
    """The request was sent and its answer lost: a read timeout, a reset or a cut after the
    request was written. The gateway may have charged it, so it is billed at its worst case
    and not retried on the same reservation."""

    charged = True


class BadResponseError(GatewayError):
    """An answer that is not a usable completion; the gateway may have charged it."""

    charged = True


BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidParametersError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: ForbiddenError,
    409: BadRequestError,
    415: BadRequestError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[GatewayError]:
    if status >= 500:
        return ServerError
    return BY_STATUS.get(status, BadRequestError if 400 <= status < 500 else GatewayError)

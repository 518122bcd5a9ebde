"""Added time per call: Router.call against a bare requests.post to the same loopback server.

Run: python -m benchmarks.bench_call
Both sides use one pooled requests.Session against the loopback fake gateway (tests/); the
router's decision cache is warm (a service sends the same kind of request again and again),
so the difference is what costrouter adds: the routing lookup, the provider's wire format,
parsing either response shape, metering at the served snapshot and the result value.
"""

from __future__ import annotations

import statistics
import time

import requests

from router import GatewayClient, Request, Router
from router.gateway.wire import request_body
from tests.gateway_server import API_KEY, FakeGateway


def per_call(call: object, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()  # type: ignore[operator]  # any zero-argument callable
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    with FakeGateway() as gateway:
        session = requests.Session()
        router = Router(client=GatewayClient(API_KEY, gateway.base_url, session=session))
        request = Request.from_prompt("Describe the chart in one sentence.", max_tokens=100)
        model = "gpt:gpt-4o"
        body = request_body(request, router.catalog.get(model))
        url = gateway.base_url + "/iu/chat/completions"
        headers = {"Authorization": API_KEY}

        def bare() -> None:
            response = session.post(url, json=body, headers=headers, timeout=(3.05, 60))
            response.json()

        def routed() -> None:
            router.call(request, model=model)

        for _ in range(50):  # warm the connection pool and the decision cache
            bare()
            routed()
        rounds = 1500
        results = {}
        for name, call in (("bare requests.post", bare), ("Router.call", routed)) * 2:
            results[name] = per_call(call, rounds)
    print(f"| loopback call, median of {rounds} | µs |")
    print("|---|---:|")
    for name, value in results.items():
        print(f"| {name} | {value:.0f} |")
    print(f"| added by costrouter | {results['Router.call'] - results['bare requests.post']:.0f} |")


if __name__ == "__main__":
    main()

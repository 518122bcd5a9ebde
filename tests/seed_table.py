"""The seeds' price tables, row by row, as the gateway's pages print them (shared/seeds/).

``(id, unit, tiers)`` with tiers as ``(up_to, input, output)``: the facts the catalog must
reproduce. test_seed_prices also re-reads the seed pages themselves where they are present.
"""

from __future__ import annotations

Tiers = list[tuple[int | None, str, str]]

Q_PLUS: Tiers = [
    (32000, "0.00021", "0.00168"),
    (128000, "0.00031", "0.00252"),
    (256000, "0.00063", "0.00503"),
]
Q_FLASH: Tiers = [
    (32000, "0.000052", "0.00042"),
    (128000, "0.000079", "0.00063"),
    (256000, "0.000126", "0.00101"),
]


def flat(inp: str, out: str) -> Tiers:
    return [(None, inp, out)]


SEED_ROWS: list[tuple[str, str, Tiers]] = [
    ("qwen:qwen3-vl-plus", "1K", Q_PLUS),
    ("qwen:qwen3-vl-plus-2025-12-19", "1K", Q_PLUS),
    ("qwen:qwen3-vl-plus-2025-09-23", "1K", Q_PLUS),
    ("qwen:qwen3-vl-flash", "1K", Q_FLASH),
    ("qwen:qwen3-vl-flash-2025-10-15", "1K", Q_FLASH),
    ("qwen:qwen-vl-max", "1K", flat("0.00084", "0.00335")),
    ("qwen:qwen-vl-max-latest", "1K", flat("0.00084", "0.00335")),
    ("qwen:qwen-vl-max-2025-08-13", "1K", flat("0.00084", "0.00335")),
    ("qwen:qwen-vl-max-2025-04-08", "1K", flat("0.00084", "0.00335")),
    ("qwen:qwen-vl-plus", "1K", flat("0.00022", "0.00066")),
    ("qwen:qwen-vl-plus-latest", "1K", flat("0.00022", "0.00066")),
    ("qwen:qwen-vl-plus-2025-08-15", "1K", flat("0.00022", "0.00066")),
    ("qwen:qwen-vl-plus-2025-05-07", "1K", flat("0.00022", "0.00066")),
    ("qwen:qwen-vl-plus-2025-01-25", "1K", flat("0.00022", "0.00066")),
    ("gpt:gpt-5.2", "1M", flat("1.75", "14")),
    ("gpt:gpt-5.2-2025-12-11", "1M", flat("1.75", "14")),
    ("gpt:gpt-5.2-chat-latest", "1M", flat("1.75", "14")),
    ("gpt:gpt-5.1", "1M", flat("1.25", "10")),
    ("gpt:gpt-5.1-2025-11-13", "1M", flat("1.25", "10")),
    ("gpt:gpt-5.1-chat-latest", "1M", flat("1.25", "10")),
    ("gpt:gpt-5", "1M", flat("1.25", "10")),
    ("gpt:gpt-5-2025-08-07", "1M", flat("1.25", "10")),
    ("gpt:gpt-5-chat-latest", "1M", flat("1.25", "10")),
    ("gpt:gpt-5-mini", "1M", flat("0.25", "2")),
    ("gpt:gpt-5-mini-2025-08-07", "1M", flat("0.25", "2")),
    ("gpt:gpt-5-nano", "1M", flat("0.05", "0.4")),
    ("gpt:gpt-5-nano-2025-08-07", "1M", flat("0.05", "0.4")),
    ("gpt:o1", "1M", flat("15", "60")),
    ("gpt:o1-2024-12-17", "1M", flat("15", "60")),
    ("gpt:o3", "1M", flat("2", "8")),
    ("gpt:o3-2025-04-16", "1M", flat("2", "8")),
    ("gpt:o4-mini", "1M", flat("1.1", "4.4")),
    ("gpt:o4-mini-2025-04-16", "1M", flat("1.1", "4.4")),
    ("gpt:gpt-4.1", "1M", flat("2", "8")),
    ("gpt:gpt-4.1-2025-04-14", "1M", flat("2", "8")),
    ("gpt:gpt-4.1-mini", "1M", flat("0.4", "1.6")),
    ("gpt:gpt-4.1-mini-2025-04-14", "1M", flat("0.4", "1.6")),
    ("gpt:gpt-4.1-nano", "1M", flat("0.1", "0.4")),
    ("gpt:gpt-4.1-nano-2025-04-14", "1M", flat("0.1", "0.4")),
    ("gpt:gpt-4o", "1M", flat("2.5", "10")),
    ("gpt:gpt-4o-2024-08-06", "1M", flat("2.5", "10")),
    ("gpt:gpt-4o-2024-05-13", "1M", flat("5", "15")),
    ("gpt:chatgpt-4o-latest", "1M", flat("5", "15")),
    ("gpt:gpt-4o-mini", "1M", flat("0.15", "0.60")),
    ("gpt:gpt-4o-mini-2024-07-18", "1M", flat("0.15", "0.60")),
    ("gpt:gpt-4-turbo", "1M", flat("10", "30")),
    ("gpt:gpt-4-turbo-2024-04-09", "1M", flat("10", "30")),
    ("gemini:gemini-3-pro-preview", "1M", [(200000, "2", "12"), (None, "4", "18")]),
    ("gemini:gemini-2.5-pro", "1M", [(200000, "1.25", "10"), (None, "2.5", "15")]),
    ("gemini:gemini-3-flash-preview", "1M", flat("0.5", "3")),
    ("gemini:gemini-2.5-flash", "1M", flat("0.30", "2.5")),
    ("gemini:gemini-2.5-flash-preview-09-2025", "1M", flat("0.30", "2.5")),
    ("gemini:gemini-2.0-flash", "1M", flat("0.1", "0.4")),
    ("gemini:gemini-2.5-flash-lite", "1M", flat("0.1", "0.4")),
    ("gemini:gemini-2.5-flash-lite-preview-09-2025", "1M", flat("0.1", "0.4")),
    ("gemini:gemini-2.0-flash-lite", "1M", flat("0.075", "0.3")),
]

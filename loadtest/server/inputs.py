"""Validation of what clients send, as pure functions (the socket handlers and REST routes share them)."""

from __future__ import annotations

from loadtest.server import events as ev


def providers_error(values: list[str]) -> str | None:
    """OpenHands splits each `providers_set` value on commas; an unknown provider is refused (it hangs there)."""
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item and item not in ev.PROVIDERS:
                return (
                    f"invalid providers_set value {item!r}: expected a comma list of {', '.join(sorted(ev.PROVIDERS))}"
                )
    return None


def check_action(data: object) -> str | None:
    """Why OpenHands' `event_from_dict` + `add_event` would reject this payload (a bad-input kind), or None."""
    if not isinstance(data, dict):
        return "not_an_object"
    if "id" in data:
        return "id_in_payload"
    action = data.get("action")
    if action is None:
        return "missing_action"
    if not isinstance(action, str) or action not in ev.ACTION_TYPES:
        return "unknown_action"
    args = data.get("args", {})
    if not isinstance(args, dict):
        return "bad_args"
    if action == "message" and not isinstance(args.get("content", ""), str):
        return "bad_args"
    return None

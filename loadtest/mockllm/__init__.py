"""An OpenAI-compatible mock LLM (`loadtest mock-llm`) for driving real OpenHands servers without LLM costs."""

from __future__ import annotations

from loadtest.mockllm.app import build_app
from loadtest.mockllm.schedule import Fault, FaultSchedule
from loadtest.mockllm.settings import FaultPlan, MockSettings, is_safe_command

__all__ = ["Fault", "FaultPlan", "FaultSchedule", "MockSettings", "build_app", "is_safe_command"]

"""Sizes and durations in the words a page shows ("5MB", "5分钟", "90秒")."""

from __future__ import annotations


def size_text(max_bytes: int) -> str:
    """A byte limit in words ("5MB")."""
    return f"{max_bytes / (1024 * 1024):g}MB"


def duration_text(seconds: int) -> str:
    """A duration in words: whole minutes as minutes ("5分钟"), anything else in seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60}分钟"
    return f"{seconds}秒"

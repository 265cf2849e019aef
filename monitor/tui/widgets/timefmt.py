"""Session times as people read them."""


def clock(seconds: float | None) -> str:
    """`m:ss` (or `h:mm:ss`) for a session time; `--:--` when unknown."""
    if seconds is None:
        return "--:--"
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

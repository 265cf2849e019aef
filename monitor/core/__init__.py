"""Plain data shared by every layer: sample blocks, events, notification batches. No I/O."""

from monitor.core.events import Event, EventKind
from monitor.core.notifications import Notification, NotificationBatch
from monitor.core.samples import GRAVITY, SampleBlock

__all__ = ["GRAVITY", "Event", "EventKind", "Notification", "NotificationBatch", "SampleBlock"]

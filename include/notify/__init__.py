"""Alert messages for humans: what failed, with what evidence, and where to look.

``templates``: the :class:`Alert` shape and the generic task-failure mail; ``delivery``:
:func:`send_alert`, the single path every alert is mailed through. Stage mails live beside
their stage (``include.quality.alerts``, ``include.registry.alerts``) and import this
package, never the other way round. Importing it costs the standard library only.
"""

from include.notify.delivery import recipients, send_alert
from include.notify.templates import Alert, TaskContext, task_failure

__all__ = ["Alert", "TaskContext", "recipients", "send_alert", "task_failure"]

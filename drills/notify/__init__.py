"""Real delivery of a drill's communication, opt-in (``gameday drill run --notify notify.yaml``).

Without ``--notify`` a drill's messages live in its journal only.  With it, a :class:`~drills.notify.dispatch.
Notifier` follows the journal and hands every communication event (a status update, an external notice, a
status-page entry, a business notification) to the sinks of the channels the event names: a Slack-style
incoming webhook, email over SMTP, or the read-only status page gameday serves during the drill.  A sink that
fails is journaled and never stalls the drill; secrets come from the environment and never reach the journal.
"""

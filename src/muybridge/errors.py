"""The one exception type users see: its message is a single line naming the file and what is wrong."""


class MuybridgeError(Exception):
    """A user-facing error. The CLI prints ``error: <message>`` and exits 2, never a traceback."""

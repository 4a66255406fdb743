"""One exception type for everything a user can fix; the CLI prints its message without a traceback."""


class NeuroplastError(Exception):
    """A problem with the user's input, files or configuration; the message says how to fix it."""

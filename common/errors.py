"""The one exception type users see: the CLI turns it into a single clear line."""


class ChurnError(Exception):
    """A problem with the user's input or set-up, phrased so the user can act on it."""

"""The one exception type that search, train and export raise for a user's mistake."""


class SearchError(Exception):
    """A problem the user can fix (bad path, missing dataset, bad option, diverged run).

    The CLI prints ``str(error)`` and exits with status 2; no traceback reaches the user.
    """

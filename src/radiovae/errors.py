"""One exception type for bad input: the CLI turns it into one line on stderr and exit status 2."""


class UserError(Exception):
    """Input the user can fix (missing file, garbage, unknown config key, ...).

    Raise it with a message that names the thing at fault; never for a bug in radiovae.
    """

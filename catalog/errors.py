"""Typed errors every service raises. They say what went wrong and what to do; they carry no
HTTP status: ``headwater.api`` maps each class to one (and the CLI to an exit code)."""

from __future__ import annotations


class HeadwaterError(Exception):
    """Base of every error a user can act on."""


class Invalid(HeadwaterError, ValueError):
    """Input that cannot be accepted, with every problem located by JSON pointer."""

    def __init__(self, errors: list[dict[str, str]], prefix: str = "") -> None:
        self.errors = [{"pointer": prefix + e["pointer"], "message": e["message"]} for e in errors]
        super().__init__("; ".join(f"{e['pointer'] or '/'}: {e['message']}" for e in self.errors))

    @classmethod
    def one(cls, message: str, pointer: str = "") -> Invalid:
        return cls([{"pointer": pointer, "message": message}])

    def __reduce__(self) -> tuple[type[Invalid], tuple[list[dict[str, str]]]]:
        # Rebuilt from its errors (the gate's worker processes send it to the server).
        return type(self), (self.errors,)


class Malformed(Invalid):
    """The body is not even JSON (or not a decodable encoding): nothing to validate."""


class TooLarge(HeadwaterError):
    """More than a configured limit allows: bytes, events, results."""


class Unsupported(HeadwaterError):
    """A format or encoding the service does not speak (a ``Content-Encoding``)."""


class NotFound(HeadwaterError, LookupError):
    """The dataset, job, run or request named does not exist."""


class Conflict(HeadwaterError):
    """The request contradicts what is stored (an id taken, a state that forbids it)."""


class Forbidden(HeadwaterError, PermissionError):
    """The caller's role may not do this."""


class TooExpensive(HeadwaterError):
    """The request would cost more than the limits allow; narrow it."""


class Unavailable(HeadwaterError):
    """A part the request needs is not running now (it is being restarted): retry."""


class StoreError(HeadwaterError, RuntimeError):
    """The store is unreachable or refused a write; nothing in the batch was acknowledged."""


class SchemaTooNew(StoreError):
    """The store was written by a newer Headwater: this one refuses to touch it."""

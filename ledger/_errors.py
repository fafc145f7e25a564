"""The ledger's errors: one class per answer of the contract (exit codes 1 to 4)."""

from __future__ import annotations

from collections.abc import Sequence


class LedgerError(Exception):
    """Base of every error the ledger reports to its users."""

    code: str = "store"
    exit_code: int = 1
    rule: str | None = None  # the rulebook's id, for a rule violation

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def at_line(self, line: int) -> LedgerError:
        """Return this error, naming the input line it came from (``import``)."""
        self.line = line
        return self

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code}
        if self.rule is not None:
            body["rule"] = self.rule
        body["message"] = self.message
        if self.line is not None:
            body["line"] = self.line
        return {"error": body}


_VERBS = {"is", "must", "has", "appears", "names"}


class BadInput(LedgerError):
    """Malformed JSON, an unknown, missing or mistyped field, a bad value (exit 2)."""

    code = "bad-input"
    exit_code = 2

    def __init__(self, field: str, message: str, *, line: int | None = None) -> None:
        joined = f"{field} {message}" if message.split(" ")[0] in _VERBS else f"{field}: {message}"
        super().__init__(joined if field else message, line=line)
        self.field = field
        self.reason = message  # what is wrong, without the field's name
        self.problems: tuple[BadInput, ...] = (self,)  # each field at fault (``combined``)

    @classmethod
    def combined(cls, problems: Sequence[BadInput], *, line: int | None = None) -> BadInput:
        """One error for every field at fault: the only one as it is, or several listed in
        one sentence (each as it would have read alone)."""
        if len(problems) == 1:
            return problems[0]
        error = cls(
            "", f"{len(problems)} fields are missing or bad: " + "; ".join(p.message for p in problems)
        )
        error.field, error.line, error.problems = problems[0].field, line, tuple(problems)
        return error

    def to_json(self) -> dict[str, object]:
        """The contract's error; ``fields`` names every field at fault (as ``message`` does)."""
        out = super().to_json()
        fields = [p.field for p in self.problems if p.field]
        if fields:
            body = out["error"]
            assert isinstance(body, dict)
            body["fields"] = fields
        return out


class RuleViolation(LedgerError):
    """The rulebook rejected an event; nothing was stored (exit 3)."""

    code = "rule-violation"
    exit_code = 3

    def __init__(
        self, rule: str, message: str, *, edition: str | None = None, line: int | None = None
    ) -> None:
        """``message`` says what is wrong; the error's ``message`` begins with the rule and
        its edition: ``license-switch-needs-term-end (edition 2020-03-20): …``."""
        named = f"{rule} (edition {edition})" if edition else rule
        super().__init__(f"{named}: {message}", line=line)
        self.rule = rule
        self.edition = edition
        self.reason = message

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        if self.edition is not None:
            body = out["error"]
            assert isinstance(body, dict)
            body["edition"] = self.edition
        return out


class NotFound(LedgerError):
    """An unknown subscription, customer or other id (exit 1)."""

    code = "not-found"
    exit_code = 1


class StoreError(LedgerError):
    """The store cannot be reached, or refused the operation (exit 1)."""

    code = "store"
    exit_code = 1


class IntegrityFailure(LedgerError):
    """The hash chain or a projection does not match what is stored (exit 4)."""

    code = "integrity"
    exit_code = 4

    def __init__(self, message: str, *, position: int | None = None, line: int | None = None) -> None:
        super().__init__(message, line=line)
        self.position = position

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        if self.position is not None:
            body = out["error"]
            assert isinstance(body, dict)
            body["position"] = self.position
        return out


class LedgerWarning(UserWarning):
    """Something the ledger did that its user should know of, though it is not an error:
    a clock behind the ledger's newest recorded time (the CLI prints it as ``warning: …``)."""

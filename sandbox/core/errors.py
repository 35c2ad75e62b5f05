"""Errors meant for people: one sentence saying what happened, to which file or value, and what to do."""


class SandboxError(Exception):
    """A user-facing problem (bad input, missing file, bad config). The CLI prints it as one line
    to stderr and exits non-zero; the TUI shows it as a notice. Never a traceback."""

    exit_code = 2


class ConfigError(SandboxError):
    """A file the user wrote (models.toml, prompts/*.toml, a policy) has problems. All of them are
    collected and reported together, each naming the file and key."""

    def __init__(self, path, problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        if len(self.problems) == 1:
            msg = f"{self.path}: {self.problems[0]}"
        else:
            msg = f"{self.path} has {len(self.problems)} problems:" + "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(msg)


class Cancelled(Exception):
    """Raised inside core when the user cancels a running generation."""

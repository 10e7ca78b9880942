"""Running the command-line programs as a user would, and showing what they printed."""

from __future__ import annotations

import os
from dataclasses import dataclass

LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@dataclass(frozen=True)
class Transcript:
    """One command's arguments, exit status and output, printed like a terminal session."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    program: str = "enlace"

    def __str__(self) -> str:
        command = " ".join([self.program, *self.argv] if self.program else self.argv)
        return f"$ {command}\n[exit {self.returncode}]\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def user_environment(passphrase: str, **changes: str | None) -> dict[str, str]:
    """The environment of a user with an English locale and ENLACE_PASSPHRASE set.

    No other ENLACE_ variable of the test run leaks in; a change of None removes a variable.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENLACE_") and k not in LANGUAGE_VARIABLES}
    env |= {"LANG": "C.UTF-8", "ENLACE_PASSPHRASE": passphrase}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env

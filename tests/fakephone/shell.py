"""A small, strict POSIX-sh subset: enough for the command lines the device layer sends.

Supported: words with '' "" and backslash quoting, ``$?`` and ``$NAME``, ``;`` ``&&`` ``||``
lists, ``|`` pipelines, redirections ``> >> < 2> 2>&1 >&2`` and ``N>/dev/null``, unquoted
``*``/``?`` globs (expanded by the phone against its files; no match keeps the word).
Anything else (``$(..)``, backticks, ``&``, globs are kept literal) is rejected with a
clear error instead of being guessed, so a test can never pass by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STATUS_MARK = "\x00?\x00"  # stands for $? until execution (NUL cannot occur in a command)
GLOB_MARK = "\x01"  # precedes an unquoted * or ? (a glob character, expanded at execution)


class ShellSyntaxError(Exception):
    """The command line uses shell syntax the fake does not implement."""


@dataclass(frozen=True)
class Redirect:
    fd: int            # 0, 1 or 2
    op: str            # "<", ">", ">>", ">&"
    target: str        # a path, or the fd number for ">&"


@dataclass
class Simple:
    argv: list[str] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Pipeline:
    commands: list[Simple]


@dataclass
class AndOr:
    """pipelines joined by ``;``/``&&``/``||``: items[i] runs after ops[i-1]."""

    items: list[Pipeline]
    ops: list[str]


_OPERATORS = ("&&", "||", ">>", ">&", ";", "|", ">", "<", "&", "(", ")")


def tokenize(line: str, env: dict[str, str]) -> list[tuple[str, str]]:
    """Split ``line`` into ("word", text) and ("op", text) tokens, expanding variables."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(line)
    word: list[str] = []
    in_word = False

    def flush() -> None:
        nonlocal word, in_word
        if in_word:
            tokens.append(("word", "".join(word)))
        word, in_word = [], False

    def expand(j: int) -> tuple[str, int]:
        # line[j] == "$"
        if j + 1 < n and line[j + 1] == "?":
            return STATUS_MARK, j + 2
        if j + 1 < n and line[j + 1] == "(":
            raise ShellSyntaxError("command substitution $(...) is not supported")
        if j + 1 < n and line[j + 1] == "{":
            end = line.find("}", j + 2)
            if end < 0:
                raise ShellSyntaxError("unterminated ${")
            name = line[j + 2:end]
            if not name.isidentifier():
                raise ShellSyntaxError(f"unsupported parameter expansion ${{{name}}}")
            return env.get(name, ""), end + 1
        k = j + 1
        while k < n and (line[k].isalnum() or line[k] == "_"):
            k += 1
        if k == j + 1:
            return "$", j + 1
        return env.get(line[j + 1:k], ""), k

    while i < n:
        c = line[i]
        if c in " \t":
            flush()
            i += 1
        elif c == "\n":  # a newline ends a command like ';' (blank lines are skipped)
            flush()
            if tokens and tokens[-1] != ("op", ";") and tokens[-1][1] not in ("&&", "||", "|"):
                tokens.append(("op", ";"))
            i += 1
        elif c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated single quote")
            word.append(line[i + 1:end])
            in_word = True
            i = end + 1
        elif c == '"':
            in_word = True
            i += 1
            while True:
                if i >= n:
                    raise ShellSyntaxError("unterminated double quote")
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and line[i + 1] in '"\\$`\n':
                    word.append(line[i + 1])
                    i += 2
                elif c == "$":
                    text, i = expand(i)
                    word.append(text)
                elif c == "`":
                    raise ShellSyntaxError("backtick command substitution is not supported")
                else:
                    word.append(c)
                    i += 1
        elif c == "\\":
            if i + 1 < n:
                if line[i + 1] != "\n":
                    word.append(line[i + 1])
                    in_word = True
                i += 2
            else:
                i += 1
        elif c == "$":
            text, i = expand(i)
            word.append(text)
            in_word = True
        elif c == "`":
            raise ShellSyntaxError("backtick command substitution is not supported")
        elif c == "#" and not in_word:
            break  # comment to end of line
        elif c in "*?":
            word.append(GLOB_MARK + c)
            in_word = True
            i += 1
        else:
            op = next((o for o in _OPERATORS if line.startswith(o, i)), None)
            if op is None:
                word.append(c)
                in_word = True
                i += 1
                continue
            # "2>" / "2>&1": an all-digit word right before > or < is an fd number
            if op in (">", ">>", ">&", "<") and in_word and "".join(word).isdigit() and len(word) == 1 \
                    and len(word[0]) == 1 and i > 0 and line[i - 1].isdigit():
                fd = word[0]
                word, in_word = [], False
                tokens.append(("op", fd + op))
            else:
                flush()
                tokens.append(("op", op))
            i += len(op)
    flush()
    return tokens


def glob_regex(word: str) -> "re.Pattern[str]":
    """A regex for one path component that may hold GLOB_MARK-ed ``*``/``?``."""
    out, i = [], 0
    while i < len(word):
        if word[i] == GLOB_MARK and i + 1 < len(word):
            out.append("[^/]*" if word[i + 1] == "*" else "[^/]")
            i += 2
        else:
            out.append(re.escape(word[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def unglob(word: str) -> str:
    """The literal text of a word (glob marks removed)."""
    return word.replace(GLOB_MARK, "")


def parse(line: str, env: dict[str, str]) -> AndOr:
    """Parse a command line into an and-or list of pipelines of simple commands."""
    tokens = tokenize(line, env)
    items: list[Pipeline] = []
    ops: list[str] = []
    commands: list[Simple] = []
    current = Simple()
    i = 0

    def end_command() -> None:
        nonlocal current
        if not current.argv and not current.redirects:
            raise ShellSyntaxError("empty command")
        commands.append(current)
        current = Simple()

    def end_pipeline() -> None:
        nonlocal commands
        end_command()
        items.append(Pipeline(commands))
        commands = []

    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "word":
            current.argv.append(text)
            i += 1
            continue
        if text in ("&", "(", ")"):
            raise ShellSyntaxError(f"'{text}' is not supported")
        if text == "|":
            end_command()
        elif text in (";", "&&", "||"):
            if text == ";" and i == len(tokens) - 1:
                i += 1
                continue
            end_pipeline()
            ops.append(text)
        else:  # redirection
            fd_text = text[0] if text[0].isdigit() else ""
            op = text[len(fd_text):]
            fd = int(fd_text) if fd_text else (0 if op == "<" else 1)
            if i + 1 >= len(tokens) or tokens[i + 1][0] != "word":
                raise ShellSyntaxError(f"redirection {text} needs a target")
            target = tokens[i + 1][1]
            if op == ">&" and target not in ("1", "2"):
                raise ShellSyntaxError(f"unsupported redirection {text}{target}")
            if fd not in (0, 1, 2):
                raise ShellSyntaxError(f"unsupported file descriptor {fd}")
            current.redirects.append(Redirect(fd, op, target))
            i += 2
            continue
        i += 1
    end_pipeline()
    return AndOr(items, ops)

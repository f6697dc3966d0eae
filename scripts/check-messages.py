#!/usr/bin/env python3
"""Fails when a validation message in the source has no test that shows its text (issue 10 item 6).

A validation message is the text of
  * a diagnostic: every call `<object>.error(..., message)` or, inside such a class, `error(..., message)` with
    two or more arguments (TableReader::error, Diagnostics::error and the like), the message being its last
    argument (each literal of it: both branches of a ?:, the format string of a fmt::format);
  * the messages TableReader's helpers make from a literal argument (WRAPPERS: "expected an integer, got ...");
  * a failure of a validation helper whose result becomes a diagnostic (`fail(...)` in the files named in
    VALIDATION_HELPERS: cron expressions, time zones, regular expressions, input files).
For each message the script takes its format string(s), cuts them at the {} placeholders and looks for the
longest fixed fragment (and, when that is short, every fragment) in the tests: in the text of the files under
tests/ and in their C++ string literals once unescaped and joined, so that "a \"b\"" in a test matches a "b".

It scans every *.cpp and *.hpp under the top-level source folders (all but tests/, bench/, fuzz/, build*/ and hidden
ones), not fixed file names: files move between folders. Exit status 1 lists each untested message with its
file and line; `--list` prints every message found and where a test shows it.
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SKIPPED_DIRS = {"tests", "bench", "fuzz", "scripts", "docs", "scenarios"}

# Files (by name, wherever they live) whose fail(...) messages are validation messages: their results are
# reported as diagnostics of the file being validated. A name that is no longer found is an error, so that a
# rename cannot silently drop its messages from the check.
VALIDATION_HELPERS = ["cron.cpp", "user_regex.cpp", "toml_input.cpp", "expectation.cpp"]

# Message arguments that are not a literal and not another Result's message, with the literals they are built
# from. Each literal must still be in that file (a stale entry is an error).
BUILT_MESSAGES = {
    # TableReader::finish builds "unknown key" + "; did you mean '...'?" or the list of known keys.
    ("table_reader.cpp", "message"): ["unknown key", " (known keys here: {})"],
}

# Message arguments that forward a text made outside rebound, with the reason no literal of ours is checked.
FORWARDED = {
    # toml++'s own description of a syntax error (test_validation.cpp shows one with its line and column).
    ("toml_input.cpp", "std::string(e.description())"): "the TOML library's text",
}

# Messages that no test can trigger, by a fixed fragment of their text, each with the reason. Keep it short:
# everything a user can meet gets a test instead.
ALLOWED_UNTESTED = {
    # TableReader::duration: parse_duration reads only digits and '.' before the unit, so it never returns a
    # negative duration; the check is a backstop should the parser ever accept a sign.
    "a duration cannot be negative": "parse_duration cannot return a negative duration",
}

# Helpers that put a literal argument of theirs into a message: name -> (which argument, the message it makes as
# a format string with the argument in place of <>, and a condition on the arguments for the message to exist).
WRAPPERS = {
    # TableReader::type_error(key, node, "a string") -> "expected a string, got string 'x'"
    "type_error": (2, "expected <>, got {}", lambda args: True),
    # TableReader::lookup(key, required, "a string") -> "missing required key (add url = <a string>)", only when
    # the key can be required.
    "lookup": (2, "missing required key (add {} = <<>>)", lambda args: args[1] != "false"),
}

MIN_FRAGMENT = 15  # a longest fragment shorter than this is not distinctive alone: every fragment must match


def starts_literal(text, i):
    """True when a string literal, raw string or character literal starts at i (not a digit separator: 45'000)."""
    after_word = i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
    if text[i] == '"':
        return True
    if text[i] == "'":
        return not after_word
    return text.startswith('R"', i) and not after_word


def strip_comments(text):
    """Blanks out // and /* */ comments, keeping string literals and line numbers."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif starts_literal(text, i):
            j = skip_literal(text, i)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def skip_literal(text, i):
    """Index just past the string/char literal (or raw string) that starts at i."""
    if text.startswith('R"', i):
        open_paren = text.index("(", i)
        delim = text[i + 2:open_paren]
        return text.index(")" + delim + '"', open_paren) + len(delim) + 2
    quote, j = text[i], i + 1
    while j < len(text) and text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    return j + 1


ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0", "r": "\r", "a": "\a"}


def unescape(body):
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), body)


def literal_runs(text):
    """The string literals of text, adjacent ones joined as the compiler joins them: [(start, value)]."""
    runs, i, n = [], 0, len(text)
    current, start, last_end = None, 0, -1
    while i < n:
        raw = text.startswith('R"', i) and starts_literal(text, i)
        if text[i] == '"' or raw:
            j = skip_literal(text, i)
            if raw:
                value = text[text.index("(", i) + 1:j - len(text[i + 2:text.index("(", i)]) - 2]
            else:
                value = unescape(text[i + 1:j - 1])
            if current is not None and text[last_end:i].strip() == "":
                current += value
            else:
                if current is not None:
                    runs.append((start, current))
                current, start = value, i
            last_end = i = j
        elif starts_literal(text, i):
            i = skip_literal(text, i)
        else:
            i += 1
    if current is not None:
        runs.append((start, current))
    return runs


def call_args(text, open_paren):
    """The top-level arguments of the call whose '(' is at open_paren, and the index past its ')'."""
    args, depth, i, begin = [], 0, open_paren, open_paren + 1
    while i < len(text):
        c = text[i]
        if starts_literal(text, i):
            i = skip_literal(text, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[begin:i].strip())
                return args, i + 1
        elif c == "," and depth == 1:
            args.append(text[begin:i].strip())
            begin = i + 1
        i += 1
    raise ValueError("unbalanced call")


def format_strings(arg):
    """The format strings or plain literals a message argument is made of (None when it has no literal)."""
    found = []
    for m in re.finditer(r"fmt::format\s*\(", arg):
        inner, _ = call_args(arg, m.end() - 1)
        runs = literal_runs(inner[0])
        if runs:
            found.append(("format", runs[0][1]))
    # Literals outside fmt::format calls: plain messages, branches of a ?:, pieces joined with +.
    masked = arg
    for m in reversed(list(re.finditer(r"fmt::format\s*\(", arg))):
        _, end = call_args(arg, m.end() - 1)
        masked = masked[:m.start()] + " " * (end - m.start()) + masked[end:]
    masked = mask_nested_calls(masked)
    found += [("plain", v) for _, v in literal_runs(masked)]
    return found


def mask_nested_calls(arg):
    """Blanks the arguments of calls other than fmt::format (did_you_mean(x, names), fmt::join(v, ", "))."""
    out, i = list(arg), 0
    while i < len(arg):
        if starts_literal(arg, i):
            i = skip_literal(arg, i)
            continue
        m = re.match(r"[A-Za-z_][\w:]*\s*\(", arg[i:]) if i == 0 or not (arg[i - 1].isalnum() or arg[i - 1] in "_:") else None
        if m:
            _, end = call_args(arg, i + m.end() - 1)
            out[i + m.end():end - 1] = " " * (end - 1 - i - m.end())
            i = end
            continue
        i += 1
    return "".join(out)


def fragments(kind, text):
    """The fixed pieces of a message between its placeholders."""
    if kind == "plain":
        return [text.strip()]
    pieces, buf, i = [], "", 0
    while i < len(text):
        if text.startswith("{{", i) or text.startswith("}}", i):
            buf += text[i]
            i += 2
        elif text[i] == "{":
            pieces.append(buf)
            buf = ""
            i = text.index("}", i) + 1
        else:
            buf += text[i]
            i += 1
    pieces.append(buf)
    # Quotes and spaces at the ends belong to the value around them as often as to the text ("'{}' is ...").
    pieces = [p.strip().strip("'\"").strip() for p in pieces]
    return [p for p in pieces if p]


def source_files():
    for top in sorted(os.listdir(ROOT)):
        path = os.path.join(ROOT, top)
        if not os.path.isdir(path) or top.startswith(".") or top.startswith("build") or top in SKIPPED_DIRS:
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith((".cpp", ".hpp")):
                    yield os.path.join(dirpath, name)


def is_declaration(text, start):
    """True when the name at start is declared (void error(...), const toml::node* lookup(...)), not called."""
    before = text[:start].rstrip()
    word = re.search(r"(\w+)$", before)
    if word:
        return word.group(1) not in ("return", "else", "do", "co_return", "throw")
    return before.endswith(("*", "&")) and not before.endswith("&&")


class Message:
    def __init__(self, path, line, kind, text):
        self.path, self.line, self.kind, self.text = os.path.relpath(path, ROOT), line, kind, text
        self.pieces = fragments(kind, text)

    def where(self):
        return f"{self.path}:{self.line}"


def collect_messages():
    messages, problems = [], []
    helpers_seen, built_seen = set(), set()
    for path in source_files():
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        name = os.path.basename(path)
        # x.error(...), a.b->error(...) and, inside a class that has one, a bare error(...): not spdlog::error.
        sites = [(m, "error") for m in re.finditer(r"(?<![\w:.>])(?:[A-Za-z_]\w*(?:\.|->))*error\s*\(", text)]
        sites += [(m, w) for w in WRAPPERS for m in re.finditer(r"(?<![\w:.>])" + w + r"\s*\(", text)]
        if name in VALIDATION_HELPERS:
            helpers_seen.add(name)
            sites += [(m, "fail") for m in re.finditer(r"(?<![\w:.>])fail\s*\(", text)]
        for m, what in sites:
            if is_declaration(text, m.start()):
                continue
            line = text.count("\n", 0, m.start()) + 1
            try:
                args, _ = call_args(text, m.end() - 1)
            except ValueError:
                problems.append(f"{os.path.relpath(path, ROOT)}:{line}: cannot read the arguments of this call")
                continue
            if what in WRAPPERS:
                index, template, applies = WRAPPERS[what]
                runs = literal_runs(args[index]) if len(args) > index else []
                if len(args) > index and applies(args) and runs:
                    messages.append(Message(path, line, "format", template.replace("<>", runs[0][1].replace("{", "{{")
                                                                                   .replace("}", "}}"))))
                elif len(args) > index and applies(args):
                    problems.append(f"{os.path.relpath(path, ROOT)}:{line}: {what}(...) without a literal argument "
                                    f"{index + 1}: its message cannot be checked")
                continue
            if len(args) < 2:
                continue  # Result::error() and the like: no message made here
            arg = args[-1]
            found = format_strings(arg)
            if not found:
                if re.fullmatch(r"[\w.]+(?:\.|->)error\(\)\.message", arg.replace(" ", "")):
                    continue  # another Result's message, made (and checked) where that Result failed
                key = (name, arg)
                if key in FORWARDED:
                    built_seen.add(key)
                    continue
                if key not in BUILT_MESSAGES:
                    problems.append(f"{os.path.relpath(path, ROOT)}:{line}: cannot see the text of the message "
                                    f"'{arg}': add its literals to BUILT_MESSAGES in {os.path.basename(__file__)}")
                    continue
                built_seen.add(key)
                for literal in BUILT_MESSAGES[key]:
                    if f'"{literal}"' not in text and not any(v == literal for _, v in literal_runs(text)):
                        problems.append(f"BUILT_MESSAGES: '{literal}' is no longer in {name}")
                    found.append(("format" if "{}" in literal else "plain", literal))
            for kind, value in found:
                messages.append(Message(path, line, kind, value))
    for name in VALIDATION_HELPERS:
        if name not in helpers_seen:
            problems.append(f"VALIDATION_HELPERS: no file named {name} any more (renamed? update the list)")
    for key in list(BUILT_MESSAGES) + list(FORWARDED):
        if key not in built_seen:
            problems.append(f"BUILT_MESSAGES/FORWARDED: no message argument '{key[1]}' in a file named {key[0]} any more")
    return messages, problems


def test_corpus():
    """Per test file: its text and its string literals unescaped and joined."""
    corpus = {}
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "tests")):
        dirnames[:] = sorted(dirnames)
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except (UnicodeDecodeError, OSError):
                continue
            extra = ""
            if name.endswith((".cpp", ".hpp")):
                extra = "\n".join(v for _, v in literal_runs(strip_comments(text)))
            corpus[os.path.relpath(path, ROOT)] = text + "\n" + extra
    return corpus


def shown_in(message, corpus):
    """The test files that show the message's text, or []."""
    longest = max(message.pieces, key=len, default="")
    if not longest:
        return ["(no fixed text)"]
    needed = [longest] if len(longest.strip()) >= MIN_FRAGMENT else [p for p in message.pieces if len(p.strip()) >= 3]
    return [path for path, text in corpus.items() if all(p in text for p in needed)]


def main():
    messages, problems = collect_messages()
    corpus = test_corpus()
    untested, allowed_used = [], set()
    tested = allowed = 0
    for msg in messages:
        shown = shown_in(msg, corpus)
        allow = next((k for k in ALLOWED_UNTESTED if k in msg.text), None)
        if "--list" in sys.argv:
            print(f"{msg.where()}: {msg.text!r} -> {', '.join(shown) if shown else ('ALLOWED' if allow else 'NO TEST')}")
        if shown:
            tested += 1
        elif allow:
            allowed += 1
            allowed_used.add(allow)
        else:
            untested.append(msg)
    for k in ALLOWED_UNTESTED:
        if k not in allowed_used:
            problems.append(f"ALLOWED_UNTESTED: '{k}' matches no untested message (tested now, or gone): remove it")
    for msg in untested:
        problems.append(f"{msg.where()}: no test shows this message: {msg.text!r}")
    print(f"check-messages: {len(messages)} messages, {tested} shown by a test, {allowed} allow-listed, "
          f"{len(untested)} untested")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

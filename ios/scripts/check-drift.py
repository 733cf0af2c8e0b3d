#!/usr/bin/env python3
"""Checks the Swift wrapper (ios/Sources/LibMedia) against include/media.h.

No Swift compiler runs on the machine this was written on, so what can
drift silently between the generated C header and the hand-written Swift is
checked here, by reading both as text:

Failures (exit 1):
  enums    every Swift enum preceded by `// drift: <c_enum> prefix=<P>
           [skip=A,B]` has exactly the C enum's constants (without the
           prefix, in lowerCamelCase) with the same values: a code missing
           in Swift, an extra Swift case, or a different value fails.
           MediaError <-> media_result is one of them (skip=MEDIA_OK).
  events   every constant of media_event_type is handled in the Swift.
  names    every `media_*` / `MEDIA_*` name and every snake_case member
           (`.video_width`) in Swift code exists in the header, so the
           Swift cannot call a function the header lacks; the sample calls
           only Engine members that exist.
Notes (printed, not failing, so that C API work elsewhere does not break
on the iOS wrapper lagging behind):
  coverage a header enum, struct or opaque handle the wrapper neither wraps
           nor lists below as not wrapped; a field of a wrapped struct the
           Swift never touches; a function the Swift never calls.

Usage: check-drift.py [--header H] [--swift-dir D] [--samples-dir S]
       check-drift.py --self-test   (the real files must pass; mutated
                                     copies must fail, or give a note)
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
IOS = os.path.dirname(HERE)
ROOT = os.path.dirname(IOS)

# Header enums the wrapper uses without a Swift twin, and why.
ENUMS_NOT_MIRRORED = {
    # Converted by EngineEvent(copying:); every constant must be handled.
    "media_event_type": "switched",
    # Device enumeration is not wrapped yet (media_device_count / _get_info).
    "media_device_kind": "not wrapped yet",
    # Flags: the OptionSet VoiceProcessing in EngineConfig.swift.
    "media_voice_processing": "flags",
}
# Header structs whose every field the Swift must use.
STRUCTS_WRAPPED = [
    "media_engine_config",
    "media_stats",
    "media_event",
    "media_video_frame",
    "media_remote_stats",
    "media_server_config",
    "media_video_push_frame",
]
STRUCTS_NOT_WRAPPED = {
    "media_device_info": "device enumeration is not wrapped yet",
}
# Header functions the Swift does not call, and why.
FUNCTIONS_NOT_WRAPPED = {
    "media_device_count": "device enumeration is not wrapped yet",
    "media_device_get_info": "device enumeration is not wrapped yet",
    "media_engine_select_audio_input": "audio device selection is not wrapped yet",
    "media_engine_select_audio_output": "audio device selection is not wrapped yet",
    "media_local_server_start": "the in-process server is left out of mobile builds",
    "media_local_server_url": "the in-process server is left out of mobile builds",
    "media_local_server_token": "the in-process server is left out of mobile builds",
    "media_local_server_free": "the in-process server is left out of mobile builds",
}
# Opaque handles (no fields).
OPAQUE = {"media_engine", "media_local_server"}


def strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def strip_swift_comments_and_strings(text):
    """Swift code without comments and string literals (kept as "")."""
    out = []
    i, n = 0, len(text)
    depth = 0  # nested /* */ comments
    while i < n:
        if depth:
            if text.startswith("/*", i):
                depth += 1
                i += 2
            elif text.startswith("*/", i):
                depth -= 1
                i += 2
            else:
                if text[i] == "\n":
                    out.append("\n")
                i += 1
        elif text.startswith("/*", i):
            depth = 1
            i += 2
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith('"""', i):
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_header(path):
    """Returns (enums, structs, names): enums {name: [(const, value)]},
    structs {name: [field]}, and every identifier in the header."""
    text = strip_c_comments(open(path, encoding="utf-8").read())
    enums = {}
    for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
        name, body = m.group(1), m.group(2)
        consts, nxt = [], 0
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            em = re.fullmatch(r"(\w+)\s*(?:=\s*(-?(?:0[xX][0-9a-fA-F]+|\d+)))?", item)
            if not em:
                raise SystemExit(f"{path}: cannot read enum item {item!r} in {name}")
            value = int(em.group(2), 0) if em.group(2) is not None else nxt
            consts.append((em.group(1), value))
            nxt = value + 1
        enums[name] = consts
    structs = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
        fields = []
        for decl in m.group(2).split(";"):
            fm = re.search(r"(\w+)\s*(?:\[[^\]]*\])?\s*$", decl.strip())
            if decl.strip() and fm:
                fields.append(fm.group(1))
        structs[m.group(1)] = fields
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", text):
        structs.setdefault(m.group(1), None)  # opaque
    names = set(re.findall(r"\b[A-Za-z_]\w*\b", text))
    names.add("functions")  # never a C name; keeps the key below apart
    functions = set(re.findall(r"\b(media_\w+)\s*\(", text))
    return enums, structs, names | {"functions:" + f for f in functions}


def camel(words):
    parts = words.lower().split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def swift_files(*dirs):
    files = []
    for d in dirs:
        if not d or not os.path.isdir(d):
            continue
        for base, _, names in os.walk(d):
            files += [os.path.join(base, n) for n in sorted(names) if n.endswith(".swift")]
    return sorted(files)


def block_after(text, start):
    """The text between the first '{' at or after `start` and its match."""
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j]
    raise ValueError("unbalanced braces")


def parse_swift_mirrors(files):
    """[(file, swift_enum, raw_type, c_enum, prefix, skip, {case: value})]"""
    mirrors = []
    for path in files:
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"^[ \t]*// drift: (\w+) prefix=(\w+)(?: skip=([\w,]+))?[ \t]*$", text, re.M):
            em = re.compile(r"^[ \t]*(?:public\s+)?enum\s+(\w+)\s*:\s*(\w+)", re.M).search(text, m.end())
            if not em:
                raise SystemExit(f"{path}: no enum after the drift line for {m.group(1)}")
            body = strip_swift_comments_and_strings(block_after(text, em.end()))
            cases = {}
            for cm in re.finditer(r"\bcase\s+([^\n{}]*?)\s*$", body, re.M):
                for item in cm.group(1).split(","):
                    im = re.fullmatch(r"\s*`?(\w+)`?\s*=\s*(-?\d+)\s*", item)
                    if im:
                        cases[im.group(1)] = int(im.group(2))
            skip = set(filter(None, (m.group(3) or "").split(",")))
            mirrors.append((path, em.group(1), em.group(2), m.group(1), m.group(2), skip, cases))
    return mirrors


def check(header, swift_dir, samples_dir, tests_dir=None, verbose=True):
    problems = []  # drift: fails
    notes = []  # header API the wrapper does not cover yet: reported, does not fail
    say = print if verbose else (lambda *a, **k: None)
    enums, structs, header_names = parse_header(header)
    sources = swift_files(swift_dir)
    if not sources:
        return [f"no Swift files under {swift_dir}"], []
    code = {p: strip_swift_comments_and_strings(open(p, encoding="utf-8").read()) for p in sources}
    all_code = "\n".join(code.values())
    def rel(p):
        r = os.path.relpath(p, ROOT)
        return p if r.startswith("..") else r

    # enums: values of each mirrored enum.
    mirrors = parse_swift_mirrors(sources)
    mirrored = set()
    for path, swift_enum, raw_type, c_enum, prefix, skip, cases in mirrors:
        mirrored.add(c_enum)
        if c_enum not in enums:
            problems.append(f"{rel(path)}: {swift_enum} mirrors {c_enum}, which the header lacks")
            continue
        want = {}
        for const, value in enums[c_enum]:
            if const in skip:
                continue
            if not const.startswith(prefix):
                problems.append(f"{c_enum}: {const} lacks the prefix {prefix} that {swift_enum} expects")
                continue
            want[camel(const[len(prefix):])] = (const, value)
        for name, (const, value) in want.items():
            if name not in cases:
                problems.append(f"{rel(path)}: {swift_enum} lacks `case {name} = {value}` for {const} = {value}")
            elif cases[name] != value:
                problems.append(f"{rel(path)}: {swift_enum}.{name} is {cases[name]}, but {const} is {value}")
        for name, value in cases.items():
            if name not in want:
                problems.append(f"{rel(path)}: {swift_enum}.{name} = {value} has no {prefix}* constant in {c_enum}")
        for s in skip:
            if s not in dict(enums[c_enum]):
                problems.append(f"{rel(path)}: {swift_enum} skips {s}, which {c_enum} lacks")
        say(f"  enum {swift_enum}: {raw_type} ↔ {c_enum}: {len(cases)} cases"
            + (f" (skipping {', '.join(sorted(skip))})" if skip else ""))
    if "media_result" not in mirrored:
        problems.append("no Swift enum mirrors media_result (MediaError)")

    # coverage: every header enum and struct is accounted for.
    for c_enum, consts in enums.items():
        if c_enum in mirrored:
            continue
        why = ENUMS_NOT_MIRRORED.get(c_enum)
        if why is None:
            notes.append(f"header enum {c_enum} has no Swift twin: add one with a `// drift:` line "
                            f"(or list it in ENUMS_NOT_MIRRORED in {rel(__file__)})")
        elif why == "switched":
            missing = [c for c, _ in consts if not re.search(r"\b%s\b" % c, all_code)]
            for c in missing:
                problems.append(f"{c_enum}: {c} is not handled in the Swift sources")
            say(f"  enum {c_enum}: all {len(consts) - len(missing)}/{len(consts)} constants handled in Swift")
        else:
            say(f"  enum {c_enum}: not wrapped ({why})")
    for struct, fields in structs.items():
        if fields is None:
            if struct not in OPAQUE:
                notes.append(f"header has a new opaque handle {struct}: wrap it or list it in OPAQUE")
            continue
        if struct in STRUCTS_NOT_WRAPPED:
            say(f"  struct {struct}: not wrapped ({STRUCTS_NOT_WRAPPED[struct]})")
            continue
        if struct not in STRUCTS_WRAPPED:
            notes.append(f"header struct {struct} is not wrapped: wrap it or list it in STRUCTS_NOT_WRAPPED")
            continue
        unused = [f for f in fields if not re.search(r"\.%s\b" % f, all_code)]
        for f in unused:
            notes.append(f"{struct}.{f} is not used by the Swift sources (new field? wrap it)")
        say(f"  struct {struct}: {len(fields) - len(unused)}/{len(fields)} fields used in Swift")
    for struct in STRUCTS_WRAPPED:
        if struct not in structs:
            problems.append(f"{struct} is listed as wrapped but the header lacks it")
    functions = sorted(n.split(":", 1)[1] for n in header_names if n.startswith("functions:"))
    uncalled = [f for f in functions
                if f not in FUNCTIONS_NOT_WRAPPED and not re.search(r"\b%s\s*\(" % f, all_code)]
    for f in uncalled:
        notes.append(f"{f} is not called by the Swift sources (new function? wrap it)")
    say(f"  functions: {len(functions) - len(uncalled) - len([f for f in functions if f in FUNCTIONS_NOT_WRAPPED])}"
        f"/{len(functions)} called from Swift, {len([f for f in functions if f in FUNCTIONS_NOT_WRAPPED])} not wrapped yet")

    # names: nothing in Swift code that the header lacks.
    checked = swift_files(swift_dir, samples_dir, tests_dir)
    engine_members = set(re.findall(r"\b(?:func|var|let)\s+(\w+)", "\n".join(
        code[p] for p in sources if re.fullmatch(r"Engine(\+\w+)?\.swift", os.path.basename(p)))))
    for path in checked:
        body = code.get(path) or strip_swift_comments_and_strings(open(path, encoding="utf-8").read())
        for lineno, line in enumerate(body.split("\n"), 1):
            for name in re.findall(r"\b(?:media|MEDIA)_\w+", line):
                if name not in header_names:
                    problems.append(f"{rel(path)}:{lineno}: {name} is not in the header")
            for name in re.findall(r"\.([a-z][a-z0-9]*_[a-z0-9_]+)\b", line):
                if name not in header_names:
                    problems.append(f"{rel(path)}:{lineno}: .{name} is not a field in the header")
            if samples_dir and path.startswith(os.path.abspath(samples_dir) + os.sep):
                for name in re.findall(r"\bengine\??\.(\w+)", line):
                    if name not in engine_members:
                        problems.append(f"{rel(path)}:{lineno}: Engine has no member {name}")
    say(f"  names: {len(checked)} Swift files use only names the header (and Engine) has")
    return problems, notes


def _enum_span(text, name):
    m = re.search(r"typedef\s+enum\s+%s\s*\{.*?\}\s*%s\s*;" % (name, name), text, re.S)
    if not m:
        raise SystemExit(f"self-test: the header has no enum {name}")
    return m.start(), m.end()


def _const_line(text, name, const):
    a, b = _enum_span(text, name)
    m = re.compile(r"^[ \t]*%s\s*=\s*[^,\n]+,[ \t]*\n" % const, re.M).search(text, a, b)
    if not m:
        raise SystemExit(f"self-test: cannot find {const} in {name}")
    return m


def add_const(text, name, const, value):
    """`const = value` added after the enum's last constant."""
    last = parse_header_text(text)[0][name][-1][0]
    m = _const_line(text, name, last)
    return text[:m.end()] + f"  {const} = {value},\n" + text[m.end():]


def drop_const(text, name, const):
    m = _const_line(text, name, const)
    return text[:m.start()] + text[m.end():]


def set_value(text, name, const, value):
    m = _const_line(text, name, const)
    return text[:m.start()] + f"  {const} = {value},\n" + text[m.end():]


def add_field(text, struct, decl):
    m = re.search(r"(typedef\s+struct\s+%s\s*\{.*?)(\}\s*%s\s*;)" % (struct, struct), text, re.S)
    if not m:
        raise SystemExit(f"self-test: the header has no struct {struct}")
    return text[:m.end(1)] + f"  {decl};\n" + text[m.end(1):]


def parse_header_text(text):
    with tempfile.NamedTemporaryFile("w", suffix=".h", delete=False, encoding="utf-8") as f:
        f.write(text)
    try:
        return parse_header(f.name)
    finally:
        os.unlink(f.name)


def self_test(header, swift_dir, samples_dir):
    """The real files pass; each mutation of a copy must fail."""
    failures = []
    base_problems, base_notes = check(header, swift_dir, samples_dir, verbose=False)
    if base_problems:
        failures.append("the real header and Swift files do not pass")
    original = open(header, encoding="utf-8").read()
    enums = parse_header(header)[0]
    results = enums["media_result"]
    last_code, last_value = results[-1]
    next_value = max(v for _, v in results) + 1
    error_swift = os.path.join(swift_dir, "MediaError.swift")
    swift_text = open(error_swift, encoding="utf-8").read()
    mirror = [m for m in parse_swift_mirrors([error_swift]) if m[3] == "media_result"]
    if not mirror or len(mirror[0][6]) < 2:
        return ["self-test: MediaError.swift has no MediaError mirroring media_result"]
    cases = sorted(mirror[0][6].items(), key=lambda kv: kv[1])
    (first_case, first_value), (last_case, last_case_value) = cases[0], cases[-1]

    def swift_case(name, value):
        return re.compile(r"\bcase\s+`?%s`?\s*=\s*%d\b" % (name, value))

    # (mutated text, "fail" or "note"): what the check must say about it.
    header_mutations = {
        "an extra code in the header": add_const(original, "media_result", "MEDIA_ERR_SOMETHING_NEW", next_value),
        "a code missing from the header": drop_const(original, "media_result", last_code),
        "a code with another value": set_value(original, "media_result", last_code, last_value + 10),
        "a new media_event_type constant": add_const(
            original, "media_event_type", "MEDIA_EVENT_SOMETHING_NEW",
            max(v for _, v in enums["media_event_type"]) + 1),
        "a new field in media_stats (a note)": add_field(original, "media_stats", "uint64_t video_new_counter"),
        "a new call end reason": add_const(
            original, "media_call_end_reason", "MEDIA_CALL_END_SOMETHING_NEW",
            max(v for _, v in enums["media_call_end_reason"]) + 1),
        "a new enum (a note)": original.replace(
            "typedef enum media_result {", "typedef enum media_new_thing {\n  MEDIA_NEW_THING_A = 0,\n"
            "} media_new_thing;\n\ntypedef enum media_result {", 1),
        "a new function (a note)": original.replace(
            "const char *media_version(void);",
            "const char *media_version(void);\n\nvoid media_something_new(void);", 1),
    }
    swift_mutations = {
        "a renamed Swift case": swift_case(last_case, last_case_value).sub(
            f"case {last_case}Renamed = {last_case_value}", swift_text, 1),
        "a Swift case with another value": swift_case(first_case, first_value).sub(
            f"case {first_case} = {first_value + 40}", swift_text, 1),
        "an extra Swift case": swift_case(last_case, last_case_value).sub(
            f"case {last_case} = {last_case_value}\n    case extraCase = {last_case_value + 100}", swift_text, 1),
        "a call the header lacks": swift_text.replace("media_result_str(", "media_error_string(", 1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for what, text in header_mutations.items():
            if text == original:
                failures.append(f"self-test: could not apply '{what}'")
                continue
            path = os.path.join(tmp, "media.h")
            open(path, "w", encoding="utf-8").write(text)
            problems, notes = check(path, swift_dir, samples_dir, verbose=False)
            if "(a note)" in what:
                # Reported as a note, and not a failure.
                found = [n for n in notes if n not in base_notes] if not problems else []
            else:
                found = problems
            print(f"  mutated header, {what}: " + (f"caught ({found[0]})" if found else "NOT caught"))
            if not found:
                failures.append(f"self-test: {what} was not caught")
        for what, text in swift_mutations.items():
            copy = os.path.join(tmp, "LibMedia")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(swift_dir, copy)
            if text == swift_text:
                failures.append(f"self-test: could not apply '{what}'")
                continue
            open(os.path.join(copy, "MediaError.swift"), "w", encoding="utf-8").write(text)
            found = check(header, copy, samples_dir, verbose=False)[0]
            print(f"  mutated Swift, {what}: " + (f"caught ({found[0]})" if found else "NOT caught"))
            if not found:
                failures.append(f"self-test: {what} was not caught")
        # The script as a program: exit status 1 on a finding.
        path = os.path.join(tmp, "media.h")
        open(path, "w", encoding="utf-8").write(header_mutations["an extra code in the header"])
        run = subprocess.run([sys.executable, os.path.abspath(__file__), "--header", path,
                              "--swift-dir", swift_dir, "--samples-dir", samples_dir],
                             capture_output=True, text=True)
        print(f"  as a program on the mutated header: exit {run.returncode}")
        if run.returncode != 1 or "MEDIA_ERR_SOMETHING_NEW" not in run.stdout:
            failures.append(f"self-test: the program exited {run.returncode} on drift:\n{run.stdout}{run.stderr}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--header", default=os.path.join(ROOT, "include", "media.h"))
    ap.add_argument("--swift-dir", default=os.path.join(IOS, "Sources", "LibMedia"))
    ap.add_argument("--samples-dir", default=os.path.join(IOS, "Samples"))
    ap.add_argument("--tests-dir", default=os.path.join(IOS, "Tests"))
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    swift_dir = os.path.abspath(args.swift_dir)
    samples_dir = os.path.abspath(args.samples_dir)
    if args.self_test:
        failures = self_test(args.header, swift_dir, samples_dir)
        for f in failures:
            print(f"FAIL {f}")
        print("drift self-test: " + ("FAILED" if failures else "ok, every mutation was caught"))
        return 1 if failures else 0
    print(f"drift: {os.path.relpath(args.header, ROOT)} ↔ {os.path.relpath(swift_dir, ROOT)}")
    problems, notes = check(args.header, swift_dir, samples_dir, os.path.abspath(args.tests_dir))
    for n in notes:
        print(f"note: {n}")
    for p in problems:
        print(f"FAIL {p}")
    print("drift: " + (f"FAILED ({len(problems)} problems)" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

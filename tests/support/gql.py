"""A small GraphQL parser and executor for github_api.py (Python 3.11 stdlib only).

Parses queries and mutations with aliases, arguments, variables (with defaults), fragment
spreads, inline fragments (`... on CheckRun`) and the @skip/@include directives, and
executes the selection against plain Python data: an object is a dict that carries a
`__typename`; a field's value is either the value itself or a callable taking the field's
arguments (a dict). A field the data does not hold resolves to null and is reported to
the `unknown` callback as `Type.field`, so drift in what gh asks for is visible.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r'(?P<ws>[\s,\ufeff]+|#[^\n]*)'
    r'|(?P<block>"""(?:\\"""|[^"]|"(?!""))*""")'
    r'|(?P<str>"(?:\\.|[^"\\\n])*")'
    r'|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)'
    r'|(?P<name>[_A-Za-z][_0-9A-Za-z]*)'
    r'|(?P<spread>\.\.\.)'
    r'|(?P<punct>[!$():=@\[\]{}|&])'
)


class GraphQLError(Exception):
    pass


def tokenize(src: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise GraphQLError(f"Syntax error: unexpected character {src[pos]!r} at {pos}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        out.append((kind, m.group(kind)))
    out.append(("eof", ""))
    return out


def _unescape(s: str) -> str:
    import json
    return json.loads(s)


class Parser:
    def __init__(self, src: str):
        self.toks = tokenize(src)
        self.i = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        k, v = self.toks[self.i]
        if kind is not None and k != kind:
            return False
        return value is None or v == value

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v = self.toks[self.i]
        if (value is not None and v != value) or (kind is not None and k != kind):
            raise GraphQLError(f"Syntax error: expected {value or kind}, got {v!r}")
        self.i += 1
        return v

    def document(self) -> dict:
        ops, frags = [], {}
        while not self.peek(kind="eof"):
            if self.peek("fragment"):
                self.take()
                name = self.take(kind="name")
                self.take("on")
                cond = self.take(kind="name")
                self.directives()
                frags[name] = {"on": cond, "sel": self.selection_set()}
            elif self.peek("{"):
                ops.append({"kind": "query", "name": None, "vars": {}, "sel": self.selection_set()})
            else:
                kind = self.take(kind="name")
                if kind not in ("query", "mutation", "subscription"):
                    raise GraphQLError(f"Syntax error: unexpected {kind!r}")
                name = self.take(kind="name") if self.peek(kind="name") else None
                vars_ = {}
                if self.peek("("):
                    self.take("(")
                    while not self.peek(")"):
                        self.take("$")
                        vname = self.take(kind="name")
                        self.take(":")
                        self.type_ref()
                        default = None
                        if self.peek("="):
                            self.take("=")
                            default = self.value(const=True)
                        vars_[vname] = default
                        self.directives()
                    self.take(")")
                self.directives()
                ops.append({"kind": kind, "name": name, "vars": vars_,
                            "sel": self.selection_set()})
        return {"ops": ops, "frags": frags}

    def type_ref(self) -> None:
        if self.peek("["):
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek("!"):
            self.take("!")

    def directives(self) -> list:
        out = []
        while self.peek("@"):
            self.take("@")
            name = self.take(kind="name")
            args = self.arguments()
            out.append((name, args))
        return out

    def arguments(self) -> dict:
        args = {}
        if self.peek("("):
            self.take("(")
            while not self.peek(")"):
                name = self.take(kind="name")
                self.take(":")
                args[name] = self.value()
            self.take(")")
        return args

    def value(self, const: bool = False):
        k, v = self.toks[self.i]
        if v == "$" and not const:
            self.take("$")
            return ("var", self.take(kind="name"))
        if k == "num":
            self.i += 1
            return float(v) if any(c in v for c in ".eE") else int(v)
        if k == "str":
            self.i += 1
            return _unescape(v)
        if k == "block":
            self.i += 1
            return v[3:-3].replace('\\"""', '"""')
        if v == "[":
            self.take("[")
            out = []
            while not self.peek("]"):
                out.append(self.value(const))
            self.take("]")
            return ("list", out)
        if v == "{":
            self.take("{")
            out = {}
            while not self.peek("}"):
                name = self.take(kind="name")
                self.take(":")
                out[name] = self.value(const)
            self.take("}")
            return ("obj", out)
        if k == "name":
            self.i += 1
            return {"true": True, "false": False, "null": None}.get(v, ("enum", v))
        raise GraphQLError(f"Syntax error: unexpected {v!r}")

    def selection_set(self) -> list:
        self.take("{")
        sel = []
        while not self.peek("}"):
            if self.peek(kind="spread"):
                self.take()
                if self.peek("on"):
                    self.take("on")
                    cond = self.take(kind="name")
                    dirs = self.directives()
                    sel.append({"kind": "inline", "on": cond, "dirs": dirs,
                                "sel": self.selection_set()})
                elif self.peek("{") or self.peek("@"):
                    dirs = self.directives()
                    sel.append({"kind": "inline", "on": None, "dirs": dirs,
                                "sel": self.selection_set()})
                else:
                    name = self.take(kind="name")
                    sel.append({"kind": "spread", "name": name, "dirs": self.directives()})
                continue
            name = self.take(kind="name")
            alias = name
            if self.peek(":"):
                self.take(":")
                name = self.take(kind="name")
            args = self.arguments()
            dirs = self.directives()
            sub = self.selection_set() if self.peek("{") else None
            sel.append({"kind": "field", "name": name, "alias": alias, "args": args,
                        "dirs": dirs, "sel": sub})
        self.take("}")
        return sel


def parse(src: str) -> dict:
    return Parser(src).document()


def _eval(v, variables: dict):
    if isinstance(v, tuple):
        tag, x = v
        if tag == "var":
            return variables.get(x)
        if tag == "list":
            return [_eval(i, variables) for i in x]
        if tag == "obj":
            return {k: _eval(i, variables) for k, i in x.items()}
        if tag == "enum":
            return x
    return v


def _included(dirs: list, variables: dict) -> bool:
    for name, args in dirs:
        cond = bool(_eval(args.get("if"), variables))
        if name == "skip" and cond:
            return False
        if name == "include" and not cond:
            return False
    return True


def type_matches(obj: dict, cond: str | None) -> bool:
    if cond is None:
        return True
    return obj.get("__typename") == cond or cond in obj.get("__implements", ())


class Executor:
    def __init__(self, doc: dict, variables: dict, unknown=None):
        self.frags = doc["frags"]
        self.variables = variables or {}
        self.unknown = unknown or (lambda name: None)

    def run(self, op: dict, root: dict) -> dict:
        for name, default in op["vars"].items():
            if name not in self.variables and default is not None:
                self.variables[name] = _eval(default, {})
        return self.select(root, op["sel"])

    def _fields(self, obj: dict, sel: list, out: list) -> None:
        for s in sel:
            if not _included(s.get("dirs", []), self.variables):
                continue
            if s["kind"] == "field":
                out.append(s)
            elif s["kind"] == "inline":
                if type_matches(obj, s["on"]):
                    self._fields(obj, s["sel"], out)
            else:
                frag = self.frags.get(s["name"])
                if frag is None:
                    raise GraphQLError(f"Unknown fragment {s['name']!r}")
                if type_matches(obj, frag["on"]):
                    self._fields(obj, frag["sel"], out)

    def select(self, obj: dict, sel: list) -> dict:
        fields: list = []
        self._fields(obj, sel, fields)
        result: dict = {}
        for f in fields:
            alias = f["alias"]
            value = self.field(obj, f)
            if alias in result and isinstance(result[alias], dict) and isinstance(value, dict):
                result[alias].update(value)  # the same field selected twice: merge
            else:
                result[alias] = value
        return result

    def field(self, obj: dict, f: dict):
        name = f["name"]
        if name == "__typename":
            return obj.get("__typename")
        if name not in obj:
            self.unknown(f"{obj.get('__typename', '?')}.{name}")
            return None
        try:
            value = obj[name]
            if callable(value):
                args = {k: _eval(v, self.variables) for k, v in f["args"].items()}
                value = value(args)
            return self.complete(value, f["sel"])
        except Exception as e:
            # A resolver's error names where it happened (GitHub's errors[].path).
            if hasattr(e, "path"):
                e.path = [f["alias"]] + (e.path or [])
            raise

    def complete(self, value, sel):
        if value is None:
            return None
        if isinstance(value, list):
            return [self.complete(v, sel) for v in value]
        if sel is None:
            return value
        if isinstance(value, dict):
            return self.select(value, sel)
        return None


def execute(src: str, variables: dict | None, roots: dict, op_name: str | None = None,
            unknown=None) -> tuple[str | None, dict]:
    """Runs the operation; `roots` maps "query"/"mutation" to root objects.

    Returns (operation name, {"data": ...} or {"errors": [...]})."""
    doc = parse(src)
    ops = doc["ops"]
    if op_name:
        ops = [o for o in ops if o["name"] == op_name]
    if not ops:
        raise GraphQLError("No operation found")
    op = ops[0]
    root = roots.get(op["kind"])
    if root is None:
        raise GraphQLError(f"{op['kind']} is not supported")
    return op["name"], Executor(doc, dict(variables or {}), unknown).run(op, root)

"""A small renderer for the subset of Go templates and Sprig that charts/sluice uses.

No Helm binary is installed on the project's machines, so the chart test renders the chart with
this. It is deliberately strict: a function, action or syntax outside the subset is an error, not
a guess, so a template that strays past what is implemented here fails the test instead of being
rendered wrongly. The subset (listed in charts/sluice/templates/_helpers.tpl as well):

  text and actions with {{- -}} trimming, {{/* comments */}}, pipelines with |, parentheses,
  string (quoted and raw), number, true/false/nil literals, .Field chains, $ and $var(.Field),
  $x := / $x =, if / else if / else, with / else, range (lists, maps; $i, $v :=) / else,
  define, include, template, and the functions default, quote, toYaml, nindent, indent, printf
  (%s %v %d %q), trunc, trimSuffix, contains, replace, sha256sum, dict, eq, ne, not, and, or,
  empty, required, fail, tpl and .Files.Get.

Helm's own behaviours that matter are reproduced: numbers from values.yaml are float64 (printed
as Go prints them: 12345, 1e+06), a missing value prints as "", toYaml drops one trailing newline,
manifests are split on '---' lines and empty ones are skipped.
"""

import copy
import decimal
import hashlib
import math
import os
import re

import yaml


class RenderError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Values in Go's terms

def go_truth(v):
    if v is None or v is False:
        return False
    if v is True:
        return True
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, (str, list, dict, tuple)):
        return len(v) > 0
    return True


def go_float_str(f):
    """fmt's %v of a float64: strconv's 'g' with the shortest digits, in exponent form when the
    decimal exponent is below -4 or at least 6 (so 12345 prints as 12345, 1000000 as 1e+06)."""
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == 0:
        return "0"
    d = decimal.Decimal(repr(abs(f))).normalize()  # repr: the shortest round-trip digits
    _, digits, exponent = d.as_tuple()
    ds = "".join(map(str, digits))
    exp = len(ds) - 1 + exponent
    sign = "-" if f < 0 else ""
    if exp < -4 or exp >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + format(d, "f")


def go_str(v):
    """How Go's text/template prints a value (after Helm turns <no value> into "")."""
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return go_float_str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_str(v[k])}" for k in sorted(v)) + "]"
    raise RenderError(f"cannot print {type(v).__name__}")


def go_quote(s):
    """strconv.Quote for the characters charts meet (ASCII escapes, UTF-8 kept)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_numbers(v):
    """Helm reads values.yaml through JSON: every number becomes a float64."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, list):
        return [json_numbers(x) for x in v]
    if isinstance(v, dict):
        return {str(k): json_numbers(x) for k, x in v.items()}
    return v


def yaml_ready(v):
    """float64 values that are whole print as integers in Helm's YAML (via JSON)."""
    if isinstance(v, float) and v == int(v) and abs(v) < 1e21:
        return int(v)
    if isinstance(v, list):
        return [yaml_ready(x) for x in v]
    if isinstance(v, dict):
        return {k: yaml_ready(x) for k, x in v.items()}
    return v


def to_yaml(v):
    if v is None:
        return "null"
    if isinstance(v, (dict, list)):
        text = yaml.safe_dump(yaml_ready(v), default_flow_style=False, sort_keys=True,
                              allow_unicode=True, width=1 << 30)
        return text[:-1] if text.endswith("\n") else text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return go_str(v)
    raise RenderError("toYaml of a bare string is outside the renderer's subset")


def go_printf(fmt, args):
    out = []
    i = 0
    ai = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= len(fmt):
            raise RenderError("printf: trailing %")
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[ai]
        ai += 1
        if verb in "sv":
            out.append(go_str(a))
        elif verb == "q":
            out.append(go_quote(go_str(a)))
        elif verb == "d":
            if isinstance(a, bool) or not isinstance(a, int):
                # Go prints a float64 given to %d as %!d(float64=...): a template bug to see.
                raise RenderError(f"printf %d of {type(a).__name__} (values are float64 in Helm)")
            out.append(str(a))
        else:
            raise RenderError(f"printf verb %{verb} is outside the renderer's subset")
    if ai < len(args):
        raise RenderError("printf: too many arguments")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Lexing and parsing

_SPACE = " \t\r\n"


def _lex_action(src, pos, name):
    """Splits the inside of one action (pos just after '{{' and an optional '- ') into tokens;
    returns (tokens, position after '}}', right_trim)."""
    toks = []
    i = pos
    n = len(src)
    while True:
        if i >= n:
            raise RenderError(f"{name}: unclosed action")
        c = src[i]
        if c in _SPACE:
            # ' -}}' closes with a right trim
            j = i
            while j < n and src[j] in _SPACE:
                j += 1
            if src.startswith("-}}", j):
                return toks, j + 3, True
            i = j
            continue
        if src.startswith("}}", i):
            return toks, i + 2, False
        if c == '"':
            j = i + 1
            buf = []
            while True:
                if j >= n:
                    raise RenderError(f"{name}: unterminated string")
                d = src[j]
                if d == "\\":
                    e = src[j + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}.get(e))
                    if buf[-1] is None:
                        raise RenderError(f"{name}: escape \\{e} is outside the subset")
                    j += 2
                    continue
                if d == '"':
                    break
                buf.append(d)
                j += 1
            toks.append(("str", "".join(buf)))
            i = j + 1
            continue
        if c == "`":
            j = src.index("`", i + 1)
            toks.append(("str", src[i + 1:j]))
            i = j + 1
            continue
        if c in "()|,":
            toks.append((c, c))
            i += 1
            continue
        if src.startswith(":=", i):
            toks.append((":=", ":="))
            i += 2
            continue
        if c == "=":
            toks.append(("=", "="))
            i += 1
            continue
        m = re.compile(r"-?\d+(\.\d+)?").match(src, i)
        if m and (c.isdigit() or (c == "-" and i + 1 < n and src[i + 1].isdigit())):
            t = m.group(0)
            toks.append(("num", float(t) if "." in t else int(t)))
            i = m.end()
            continue
        if c == "$":
            m = re.compile(r"\$[A-Za-z0-9_]*((\.[A-Za-z0-9_]+)*)").match(src, i)
            var = m.group(0)
            head = var.split(".")[0]
            chain = [p for p in m.group(1).split(".") if p]
            toks.append(("var", (head, chain)))
            i = m.end()
            continue
        if c == ".":
            m = re.compile(r"(\.[A-Za-z0-9_]+)+").match(src, i)
            if m:
                chain = [p for p in m.group(0).split(".") if p]
                # a chain right after ')' applies to the parenthesised value
                if toks and toks[-1][0] == ")" and src[i - 1] == ")":
                    toks.append(("chain", chain))
                else:
                    toks.append(("field", chain))
                i = m.end()
            else:
                toks.append(("field", []))
                i += 1
            continue
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(src, i)
        if m:
            w = m.group(0)
            if w in ("true", "false"):
                toks.append(("bool", w == "true"))
            elif w == "nil":
                toks.append(("nil", None))
            else:
                toks.append(("ident", w))
            i = m.end()
            continue
        raise RenderError(f"{name}: unexpected {c!r} in action")


def tokenize(src, name):
    """Splits a template into ('text', s) and ('action', tokens) items, applying trim markers."""
    items = []
    i = 0
    n = len(src)
    while i < n:
        j = src.find("{{", i)
        if j < 0:
            items.append(["text", src[i:]])
            break
        items.append(["text", src[i:j]])
        k = j + 2
        left = False
        if src.startswith("-", k) and k + 1 < n and src[k + 1] in _SPACE:
            left = True
            k += 2
        if left:
            items[-1][1] = items[-1][1].rstrip(_SPACE)
        while k < n and src[k] in _SPACE:
            k += 1
        if src.startswith("/*", k):
            end = src.find("*/", k + 2)
            if end < 0:
                raise RenderError(f"{name}: unclosed comment")
            k = end + 2
            right = False
            if src.startswith(" -}}", k):
                right, k = True, k + 4
            elif src.startswith("}}", k):
                k += 2
            else:
                raise RenderError(f"{name}: comment must end the action")
            items.append(["comment", None, right])
            i = k
            continue
        toks, i, right = _lex_action(src, k, name)
        items.append(["action", toks, right])
    # right trims eat the whitespace of the text that follows
    out = []
    trim_next = False
    for it in items:
        if it[0] == "text":
            s = it[1].lstrip(_SPACE) if trim_next else it[1]
            trim_next = False
            if s:
                out.append(("text", s))
        else:
            trim_next = it[2]
            if it[0] == "action":
                out.append(("action", it[1]))
    return out


class _Toks:
    def __init__(self, toks, name):
        self.t = toks
        self.i = 0
        self.name = name

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def next(self):
        tok = self.peek()
        self.i += 1
        return tok

    def done(self):
        return self.i >= len(self.t)


def parse_pipeline(ts, allow_decl=True, range_decl=False):
    decl = []
    assign = False
    # $x := ... / $x = ... / $i, $v := ...
    save = ts.i
    if allow_decl and ts.peek()[0] == "var":
        names = []
        while ts.peek()[0] == "var" and not ts.peek()[1][1]:
            names.append(ts.next()[1][0])
            if ts.peek()[0] == "," and range_decl:
                ts.next()
                continue
            break
        if ts.peek()[0] in (":=", "=") and names:
            assign = ts.next()[0] == "="
            decl = names
        else:
            ts.i = save
    cmds = []
    cmd = []
    while not ts.done():
        kind, val = ts.peek()
        if kind == ")":
            break
        ts.next()
        if kind == "|":
            if not cmd:
                raise RenderError(f"{ts.name}: empty command in pipeline")
            cmds.append(cmd)
            cmd = []
            continue
        if kind == "(":
            sub = parse_pipeline(ts, allow_decl=False)
            if ts.next()[0] != ")":
                raise RenderError(f"{ts.name}: missing )")
            chain = []
            if ts.peek()[0] == "chain":
                chain = ts.next()[1]
            cmd.append(("sub", sub, chain))
            continue
        if kind in ("str", "num", "bool", "nil", "field", "var", "ident"):
            cmd.append((kind, val))
            continue
        raise RenderError(f"{ts.name}: unexpected {val!r}")
    if cmd:
        cmds.append(cmd)
    if not cmds:
        raise RenderError(f"{ts.name}: missing value")
    return {"decl": decl, "assign": assign, "cmds": cmds}


def parse(items, name, defines):
    """Builds the node tree; collects {{ define }} bodies into defines."""
    pos = 0

    def block(stop):
        nonlocal pos
        nodes = []
        while pos < len(items):
            kind, val = items[pos]
            if kind == "text":
                nodes.append(("text", val))
                pos += 1
                continue
            ts = _Toks(val, name)
            word = ts.peek()[1] if ts.peek()[0] == "ident" else None
            if word in ("end", "else"):
                if word not in stop:
                    raise RenderError(f"{name}: unexpected {word}")
                return nodes, ts
            pos += 1
            if word == "if":
                ts.next()
                branches = [(parse_pipeline(ts), None)]
                bodies = []
                else_body = None
                while True:
                    body, ets = block(("end", "else"))
                    bodies.append(body)
                    pos += 1
                    ets.next()
                    if ets.t[0][1] == "end":
                        break
                    if not ets.done() and ets.peek() == ("ident", "if"):
                        ets.next()
                        branches.append((parse_pipeline(ets), None))
                        continue
                    else_body, ets2 = block(("end",))
                    pos += 1
                    break
                nodes.append(("if", [(p, b) for (p, _), b in zip(branches, bodies)], else_body))
            elif word in ("with", "range"):
                ts.next()
                pipe = parse_pipeline(ts, range_decl=(word == "range"))
                body, ets = block(("end", "else"))
                pos += 1
                ets.next()
                else_body = None
                if ets.t[0][1] == "else":
                    if not ets.done():
                        raise RenderError(f"{name}: else {ets.peek()[1]} after {word} is outside the subset")
                    else_body, _ = block(("end",))
                    pos += 1
                nodes.append((word, pipe, body, else_body))
            elif word == "define":
                ts.next()
                k, tname = ts.next()
                if k != "str":
                    raise RenderError(f"{name}: define needs a name")
                body, _ = block(("end",))
                pos += 1
                defines[tname] = body
            elif word == "template":
                ts.next()
                k, tname = ts.next()
                arg = parse_pipeline(ts) if not ts.done() else None
                nodes.append(("template", tname, arg))
            elif word in ("block", "break", "continue"):
                raise RenderError(f"{name}: {word} is outside the renderer's subset")
            else:
                nodes.append(("action", parse_pipeline(ts)))
        if stop:
            raise RenderError(f"{name}: missing {{{{ end }}}}")
        return nodes, None

    nodes, _ = block(())
    return nodes


# ---------------------------------------------------------------------------------------------
# Evaluation

class Files:
    def __init__(self, root):
        self.root = root

    def Get(self, path):
        p = os.path.join(self.root, path)
        if not os.path.isfile(p):
            return ""
        with open(p, encoding="utf-8") as f:  # follows symlinks, as Helm does
            return f.read()


class Renderer:
    def __init__(self, chart_dir):
        self.chart_dir = chart_dir
        with open(os.path.join(chart_dir, "Chart.yaml")) as f:
            self.chart = yaml.safe_load(f)
        with open(os.path.join(chart_dir, "values.yaml")) as f:
            self.default_values = yaml.safe_load(f) or {}
        self.defines = {}
        self.files = {}
        tdir = os.path.join(chart_dir, "templates")
        for fn in sorted(os.listdir(tdir)):
            with open(os.path.join(tdir, fn)) as f:
                src = f.read()
            name = f"{self.chart['name']}/templates/{fn}"
            self.files[fn] = parse(tokenize(src, name), name, self.defines)

    # -- values --------------------------------------------------------------------------------
    @staticmethod
    def merge(base, over):
        out = copy.deepcopy(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)  # helm: null in an override removes the key
            elif isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k] = Renderer.merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
        return out

    def context(self, values, release="sluice", namespace="default"):
        return {
            "Values": json_numbers(values),
            "Release": {"Name": release, "Namespace": namespace, "Service": "Helm",
                        "IsInstall": True, "IsUpgrade": False, "Revision": 1},
            "Chart": {"Name": self.chart["name"], "Version": self.chart["version"],
                      "AppVersion": self.chart.get("appVersion", "")},
            "Files": Files(self.chart_dir),
        }

    def render(self, overrides=None, release="sluice", namespace="default", notes=False):
        """Renders every manifest template: {filename: text}. NOTES.txt too when notes."""
        values = self.merge(self.default_values, overrides or {})
        ctx = self.context(values, release, namespace)
        out = {}
        for fn, nodes in self.files.items():
            if fn.startswith("_"):
                continue
            if fn == "NOTES.txt" and not notes:
                continue
            try:
                out[fn] = self.exec(nodes, ctx, [{"$": ctx}])
            except RenderError as e:
                raise RenderError(f"{self.chart['name']}/templates/{fn}: {e}") from None
        return out

    def manifests(self, overrides=None, release="sluice", namespace="default"):
        """The rendered documents, parsed, in file order: [(filename, doc)]."""
        docs = []
        for fn, text in self.render(overrides, release, namespace).items():
            if fn == "NOTES.txt":
                continue
            for part in re.split(r"(?m)^---[ \t]*$", text):
                if not part.strip():
                    continue
                doc = yaml.safe_load(part)
                if doc is None:
                    continue
                docs.append((fn, doc))
        return docs

    # -- execution -----------------------------------------------------------------------------
    def exec(self, nodes, dot, scopes):
        out = []
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                v = self.pipeline(node[1], dot, scopes)
                if not node[1]["decl"]:
                    out.append(go_str(v))
            elif kind == "if":
                done = False
                for pipe, body in node[1]:
                    scopes.append({})
                    try:
                        if go_truth(self.pipeline(pipe, dot, scopes)):
                            out.append(self.exec(body, dot, scopes))
                            done = True
                    finally:
                        scopes.pop()
                    if done:
                        break
                if not done and node[2] is not None:
                    out.append(self.exec(node[2], dot, scopes + [{}]))
            elif kind == "with":
                scopes.append({})
                try:
                    v = self.pipeline(node[1], dot, scopes)
                    if go_truth(v):
                        out.append(self.exec(node[2], v, scopes))
                    elif node[3] is not None:
                        out.append(self.exec(node[3], dot, scopes))
                finally:
                    scopes.pop()
            elif kind == "range":
                pipe = dict(node[1])
                names = pipe["decl"]
                pipe["decl"] = []
                v = self.pipeline(pipe, dot, scopes)
                if isinstance(v, dict):
                    pairs = [(k, v[k]) for k in sorted(v)]
                elif isinstance(v, list):
                    pairs = list(enumerate(v))
                elif v is None:
                    pairs = []
                else:
                    raise RenderError(f"range over {type(v).__name__}")
                if not pairs and node[3] is not None:
                    out.append(self.exec(node[3], dot, scopes + [{}]))
                for k, item in pairs:
                    scope = {}
                    if len(names) == 1:
                        scope[names[0]] = item
                    elif len(names) == 2:
                        scope[names[0]] = k
                        scope[names[1]] = item
                    out.append(self.exec(node[2], item, scopes + [scope]))
            elif kind == "template":
                arg = self.pipeline(node[2], dot, scopes) if node[2] else None
                out.append(self.include(node[1], arg))
            else:
                raise RenderError(f"unknown node {kind}")
        return "".join(out)

    def include(self, name, dot):
        if name not in self.defines:
            raise RenderError(f'no template "{name}"')
        return self.exec(self.defines[name], dot, [{"$": dot}])

    def lookup_var(self, name, scopes):
        for s in reversed(scopes):
            if name in s:
                return s[name]
        raise RenderError(f"undefined variable {name}")

    def field(self, v, chain, args=None):
        for idx, key in enumerate(chain):
            last = idx == len(chain) - 1
            if isinstance(v, dict):
                v = v.get(key)
            elif isinstance(v, Files):
                meth = getattr(v, key, None)
                if meth is None:
                    raise RenderError(f"Files has no {key} in the subset")
                if not last:
                    raise RenderError("method result chained")
                return meth(*(args or []))
            elif v is None:
                raise RenderError(f"nil pointer evaluating interface {{}}.{key}")
            else:
                raise RenderError(f"can't evaluate field {key} in type {type(v).__name__}")
        if args:
            raise RenderError(f"{'.'.join(chain)} is not a method but has arguments")
        return v

    def operand(self, op, dot, scopes):
        kind = op[0]
        if kind in ("str", "num", "bool"):
            return op[1]
        if kind == "nil":
            return None
        if kind == "field":
            return self.field(dot, op[1]) if op[1] else dot
        if kind == "var":
            name, chain = op[1]
            return self.field(self.lookup_var(name, scopes), chain)
        if kind == "sub":
            return self.field(self.pipeline(op[1], dot, scopes), op[2])
        if kind == "ident":
            return self.call(op[1], [], dot, scopes)
        raise RenderError(f"bad operand {op}")

    def command(self, cmd, dot, scopes, piped, has_piped):
        head = cmd[0]
        if head[0] == "ident":
            args = [self.operand(a, dot, scopes) for a in cmd[1:]]
            if has_piped:
                args.append(piped)
            return self.call(head[1], args, dot, scopes)
        if head[0] == "field" and (len(cmd) > 1 or has_piped):
            # a method call such as .Files.Get "path"
            args = [self.operand(a, dot, scopes) for a in cmd[1:]]
            if has_piped:
                args.append(piped)
            return self.field(dot, head[1], args)
        if len(cmd) > 1 or has_piped:
            raise RenderError("can't give arguments to a non-function")
        return self.operand(head, dot, scopes)

    def pipeline(self, pipe, dot, scopes):
        v = None
        has = False
        for cmd in pipe["cmds"]:
            v = self.command(cmd, dot, scopes, v, has)
            has = True
        for name in pipe["decl"]:
            if pipe["assign"]:
                for s in reversed(scopes):
                    if name in s:
                        s[name] = v
                        break
                else:
                    raise RenderError(f"undefined variable {name}")
            else:
                scopes[-1][name] = v
        return v

    def call(self, fn, a, dot, scopes):
        def need(n):
            if len(a) != n:
                raise RenderError(f"{fn}: wants {n} arguments, got {len(a)}")

        if fn == "include":
            need(2)
            return self.include(a[0], a[1])
        if fn == "tpl":
            need(2)
            nodes = parse(tokenize(a[0], "tpl"), "tpl", self.defines)
            return self.exec(nodes, a[1], [{"$": a[1]}])
        if fn == "default":
            if len(a) not in (1, 2):
                raise RenderError("default: wants 1 or 2 arguments")
            return a[1] if len(a) == 2 and go_truth(a[1]) else a[0]
        if fn == "empty":
            need(1)
            return not go_truth(a[0])
        if fn == "quote":
            return " ".join(go_quote(go_str(x)) for x in a if x is not None)
        if fn == "toYaml":
            need(1)
            return to_yaml(a[0])
        if fn in ("indent", "nindent"):
            need(2)
            n = a[0]
            if isinstance(n, float):
                n = int(n)
            pad = " " * n
            s = pad + go_str(a[1]).replace("\n", "\n" + pad)
            return "\n" + s if fn == "nindent" else s
        if fn == "printf":
            if not a:
                raise RenderError("printf: no format")
            return go_printf(a[0], a[1:])
        if fn == "trunc":
            need(2)
            c, s = int(a[0]), go_str(a[1])
            if c < 0 and len(s) + c > 0:
                return s[len(s) + c:]
            if c >= 0 and len(s) > c:
                return s[:c]
            return s
        if fn == "trimSuffix":
            need(2)
            s = go_str(a[1])
            return s[: -len(a[0])] if a[0] and s.endswith(a[0]) else s
        if fn == "contains":
            need(2)
            return go_str(a[0]) in go_str(a[1])
        if fn == "replace":
            need(3)
            return go_str(a[2]).replace(go_str(a[0]), go_str(a[1]))
        if fn == "sha256sum":
            need(1)
            return hashlib.sha256(go_str(a[0]).encode()).hexdigest()
        if fn == "dict":
            if len(a) % 2:
                raise RenderError("dict: odd number of arguments")
            return {go_str(a[i]): a[i + 1] for i in range(0, len(a), 2)}
        if fn in ("eq", "ne"):
            need(2)
            x, y = a
            if type(x) is not type(y) and not (x is None or y is None):
                raise RenderError(f"{fn}: incompatible types for comparison")
            return (x == y) if fn == "eq" else (x != y)
        if fn == "not":
            need(1)
            return not go_truth(a[0])
        if fn == "and":
            for x in a:
                if not go_truth(x):
                    return x
            return a[-1]
        if fn == "or":
            for x in a:
                if go_truth(x):
                    return x
            return a[-1]
        if fn == "required":
            need(2)
            if a[1] is None or a[1] == "":
                raise RenderError(f"execution error: {a[0]}")
            return a[1]
        if fn == "fail":
            need(1)
            raise RenderError(f"execution error: {a[0]}")
        raise RenderError(f'function "{fn}" is outside the renderer\'s subset')

"""The codemod on one source file (libcst): pydantic schema classes become attrs classes, Noether runtime imports
become engine imports. What cannot be converted is returned as problems with the line it is on."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence

import attrs
import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from engine.migrate.names import exists_here, is_dropped_decorator, runtime_target

SCHEMA_PACKAGE = "noether.core.schemas"
PYDANTIC_BASES = {"pydantic.BaseModel", "pydantic.main.BaseModel"}
VALIDATOR_DECORATORS = {"field_validator", "model_validator", "validator", "root_validator", "computed_field"}
CONSTRAINTS = {"ge": "ge", "gt": "gt", "le": "le", "lt": "lt", "min_length": "min_len", "max_length": "max_len",
               "pattern": "matches_re"}
"""pydantic ``Field`` constraint -> ``attrs.validators`` function."""
DROPPED_MODEL_CONFIG = {"frozen", "arbitrary_types_allowed", "validate_assignment", "validate_default",
                        "protected_namespaces", "use_attribute_docstrings"}
"""``model_config`` settings with nothing to convert: attrs classes are frozen and hold any type."""
EXTRA_KEYS_HINT = "the engine forbids unknown keys in every config"


@attrs.frozen(order=True)
class Problem:
    """Something the codemod did not convert, with where it is and what to do."""

    path: str
    """The file, relative to the project directory."""
    line: int
    """1-based line in the original file."""
    message: str
    """What it is and what to do, e.g. ``@field_validator 'check' in Foo: ...; move it into ...``."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# ------------------------------------------------------------------------------------------- module scan
def module_name(relative_path: str) -> str:
    """The dotted module of a project file: ``pkg/sub/mod.py`` -> ``pkg.sub.mod``, ``pkg/__init__.py`` -> ``pkg``.

    >>> module_name("nsproj/schemas.py"), module_name("nsproj/__init__.py")
    ('nsproj.schemas', 'nsproj')
    """
    parts = relative_path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name / Attribute chain, else ``None``."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


def absolute_module(module: str, node: cst.ImportFrom, is_package: bool) -> str | None:
    """The absolute module of ``from <node.module> import ...`` written in ``module``."""
    name = dotted(node.module) if node.module is not None else ""
    if not node.relative:
        return name
    package = module.split(".") if is_package else module.split(".")[:-1]
    up = len(node.relative) - 1
    if up > len(package):
        return None
    base = package[: len(package) - up]
    return ".".join([*base, name] if name else base)


def import_map(tree: cst.Module, module: str, is_package: bool) -> dict[str, str]:
    """Local name -> qualified name for every top-level import of ``tree``."""
    names: dict[str, str] = {}
    for statement in tree.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                source = absolute_module(module, small, is_package)
                if source is None:
                    continue
                for alias in small.names:
                    imported = dotted(alias.name)
                    local = alias.asname.name.value if alias.asname else imported
                    names[local] = f"{source}.{imported}"
            elif isinstance(small, cst.Import):
                for alias in small.names:
                    full = dotted(alias.name)
                    if alias.asname:
                        names[alias.asname.name.value] = full
                    else:
                        names[full.split(".")[0]] = full.split(".")[0]
    return names


def qualify(node: cst.BaseExpression, imports: Mapping[str, str], module: str, local_classes: Iterable[str]) -> str | None:
    """The qualified name of a Name / Attribute expression (``Field`` -> ``pydantic.Field``)."""
    name = dotted(node)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    if head in imports:
        return imports[head] + (f".{rest}" if rest else "")
    if head in local_classes:
        return f"{module}.{name}"
    return name


@attrs.frozen
class ScannedModule:
    """What the project scan keeps of one file."""

    module: str
    """The file's dotted module, e.g. ``nsproj.schemas``."""
    is_package: bool
    """True for a package's ``__init__.py`` (relative imports start in the package itself)."""
    imports: dict[str, str]
    """Local name -> qualified name of every top-level import."""
    classes: dict[str, tuple[str, ...]]
    """Top-level class name -> qualified names of its bases."""


def scan(tree: cst.Module, module: str, is_package: bool) -> ScannedModule:
    """The imports and top-level classes of a parsed file."""
    imports = import_map(tree, module, is_package)
    local = {statement.name.value for statement in tree.body if isinstance(statement, cst.ClassDef)}
    classes = {
        statement.name.value: tuple(q for base in statement.bases if (q := qualify(base.value, imports, module, local)))
        for statement in tree.body if isinstance(statement, cst.ClassDef)
    }
    return ScannedModule(module, is_package, imports, classes)


def config_classes(modules: Sequence[ScannedModule]) -> frozenset[str]:
    """Qualified names of the project's schema classes: subclasses (directly or through other project classes,
    also re-exported ones) of a ``noether.core.schemas`` class or of pydantic's ``BaseModel``."""
    aliases = {f"{m.module}.{local}": target for m in modules for local, target in m.imports.items()}

    def resolve(name: str) -> str:
        for _ in range(20):  # re-export chains are short; a cycle must not hang
            if name not in aliases or aliases[name] == name:
                break
            name = aliases[name]
        return name

    bases = {f"{m.module}.{cls}": [resolve(b) for b in found] for m in modules for cls, found in m.classes.items()}
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for cls, its_bases in bases.items():
            if cls not in found and any(b in found or b in PYDANTIC_BASES or b.startswith(SCHEMA_PACKAGE + ".")
                                        for b in its_bases):
                found.add(cls)
                changed = True
    return frozenset(found) | frozenset(name for name, target in aliases.items() if resolve(target) in found)


# ------------------------------------------------------------------------------------------- the transform
def is_docstring(statement: cst.CSTNode) -> bool:
    """A statement that is a bare string (an attribute or class docstring)."""
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def docstring_literal(text: str) -> str:
    """Python source of a docstring holding ``text``.

    >>> print(docstring_literal('Hidden width.'))
    \"\"\"Hidden width.\"\"\"
    """
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return f'"""{text}"""'


class Migrator(cst.CSTTransformer):
    """Rewrites one module; collects ``problems`` for what it leaves."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, path: str, scanned: ScannedModule, configs: frozenset[str]) -> None:
        super().__init__()
        self.path, self.scanned, self.configs = path, scanned, configs
        self.local_classes = set(scanned.classes)
        self.problems: list[Problem] = []
        self.pydantic_uses: dict[str, int] = {}
        """Local pydantic name -> first line it is used on (outside imports)."""
        self.reported_names: set[str] = set()
        self.in_import = 0
        self.stripped_annotated = False

    # ----- helpers
    def line(self, node: cst.CSTNode) -> int:
        """1-based line of an original node."""
        return self.get_metadata(PositionProvider, node).start.line

    def problem(self, node: cst.CSTNode, message: str) -> None:
        """Record ``message`` at the line of the original ``node``."""
        self.problems.append(Problem(self.path, self.line(node), message))

    def qualified(self, node: cst.BaseExpression) -> str | None:
        """The qualified name of a Name / Attribute in this module."""
        return qualify(node, self.scanned.imports, self.scanned.module, self.local_classes)

    def is_pydantic(self, node: cst.BaseExpression, *names: str) -> bool:
        """True when ``node`` names one of pydantic's ``names`` (``Field``, ``field_validator``, ...)."""
        name = self.qualified(node)
        return name is not None and name.startswith("pydantic.") and name.rsplit(".", 1)[-1] in names

    def code(self, node: cst.CSTNode) -> str:
        """The source of ``node``."""
        return cst.Module(body=[]).code_for_node(node)

    # ----- usage tracking (for leftover pydantic names)
    def visit_Import(self, node: cst.Import) -> None:
        """libcst hook, entering a ``Import`` node."""
        self.in_import += 1

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        """libcst hook, leaving a ``Import`` node."""
        self.in_import -= 1
        return updated_node

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        """libcst hook, entering a ``ImportFrom`` node."""
        self.in_import += 1

    def visit_Name(self, node: cst.Name) -> None:
        """libcst hook, entering a ``Name`` node."""
        if not self.in_import and (self.scanned.imports.get(node.value) or "").startswith("pydantic."):
            self.pydantic_uses.setdefault(node.value, self.line(node))

    # ----- imports of Noether's runtime
    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        """libcst hook, leaving a ``ImportFrom`` node."""
        self.in_import -= 1
        return updated_node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> cst.BaseStatement | cst.FlattenSentinel:
        """libcst hook, leaving a ``SimpleStatementLine`` node."""
        if len(updated_node.body) != 1:
            return updated_node
        small = updated_node.body[0]
        if isinstance(small, cst.Import):
            for alias in small.names:
                name = dotted(alias.name)
                if (name == "noether" or name.startswith("noether.")) and not exists_here(name):
                    self.problem(original_node, f"unknown Noether import 'import {name}': the engine has no such module; "
                                                "import the classes you use by name (see docs/migrating.md)")
            return updated_node
        if not isinstance(small, cst.ImportFrom) or small.relative or isinstance(small.names, cst.ImportStar):
            return updated_node
        module = dotted(small.module) or ""
        if module != "noether" and not module.startswith("noether."):
            return updated_node
        kept: list[cst.ImportAlias] = []
        moved: dict[str, list[tuple[str, str]]] = {}
        for alias in small.names:
            name = dotted(alias.name)
            local = alias.asname.name.value if alias.asname else name
            if exists_here(module, name):
                kept.append(alias)
            elif (target := runtime_target(module, name)) is not None:
                moved.setdefault(target.module, []).append((target.name, local))
            elif is_dropped_decorator(f"{module}.{name}"):
                continue
            else:
                kept.append(alias)
                self.problem(original_node, f"unknown Noether import '{name}' from {module}: the engine has no "
                                            "counterpart; replace it with your own code or an engine class "
                                            "(see docs/migrating.md)")
        if not moved and len(kept) == len(small.names):
            return updated_node
        lines: list[cst.BaseStatement] = []
        if kept:
            lines.append(updated_node.with_changes(body=[small.with_changes(names=_comma_separated(kept))]))
        for target_module, pairs in moved.items():
            names = ", ".join(name if name == local else f"{name} as {local}" for name, local in pairs)
            lines.append(cst.parse_statement(f"from {target_module} import {names}\n"))
        if lines:
            lines[0] = lines[0].with_changes(leading_lines=original_node.leading_lines)
        return cst.FlattenSentinel(lines) if lines else cst.RemoveFromParent()

    # ----- decorators Noether needs and the engine does not
    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        """libcst hook, leaving a ``FunctionDef`` node."""
        decorators = [d for d in updated_node.decorators
                      if not is_dropped_decorator(self.qualified(d.decorator))]
        return updated_node.with_changes(decorators=decorators)

    # ----- discriminated unions
    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.BaseExpression:
        """libcst hook, leaving a ``Subscript`` node."""
        if self.qualified(updated_node.value) not in ("typing.Annotated", "typing_extensions.Annotated"):
            return updated_node
        elements = updated_node.slice
        if len(elements) < 2 or not all(isinstance(e.slice, cst.Index) for e in elements):
            return updated_node
        metadata = [e.slice.value for e in elements[1:]]
        fields = [m for m in metadata if isinstance(m, cst.Call) and self.is_pydantic(m.func, "Field")]
        if not fields:
            return updated_node
        for field in fields:
            keywords = {arg.keyword.value for arg in field.args if arg.keyword is not None}
            if keywords != {"discriminator"} or any(arg.keyword is None for arg in field.args):
                self.reported_names.add(dotted(field.func).split(".")[0])
                self.problem(original_node, f"Field(...) with {', '.join(sorted(keywords)) or 'a default'} inside "
                                            "Annotated[...] is not converted; write the field as "
                                            "`x: T = attrs.field(default=..., validator=...)`")
                return updated_node
        self.stripped_annotated = True
        rest = [e for e, m in zip(elements[1:], metadata, strict=True) if m not in fields]
        if not rest:
            return elements[0].slice.value  # a plain union: the engine dispatches on the members' Literal tags
        return updated_node.with_changes(slice=_comma_separated([elements[0], *rest]))

    # ----- schema classes
    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        """libcst hook, leaving a ``ClassDef`` node."""
        name = updated_node.name.value
        if f"{self.scanned.module}.{name}" not in self.configs:
            return updated_node
        if any((self.qualified(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "")
               .startswith(("attrs.", "attr.")) for d in updated_node.decorators):
            return updated_node  # converted already (or written for attrs): the codemod is idempotent
        bases = [base for base in updated_node.bases if self.qualified(base.value) not in PYDANTIC_BASES]
        changes: dict = {"decorators": [cst.Decorator(cst.parse_expression("attrs.frozen(kw_only=True)")),
                                        *updated_node.decorators]}
        if len(bases) != len(updated_node.bases):
            changes["bases"] = _comma_separated(bases)
            if not bases:
                changes.update(lpar=cst.MaybeSentinel.DEFAULT, rpar=cst.MaybeSentinel.DEFAULT)
        if isinstance(updated_node.body, cst.IndentedBlock):
            originals = list(original_node.body.body)
            body: list[cst.BaseStatement] = []
            for index, statement in enumerate(updated_node.body.body):
                following = originals[index + 1] if index + 1 < len(originals) else None
                body.extend(self.class_statement(name, originals[index], statement, following))
            changes["body"] = updated_node.body.with_changes(body=body or [cst.parse_statement("pass\n")])
        return updated_node.with_changes(**changes)

    def class_statement(self, cls: str, original: cst.BaseStatement, statement: cst.BaseStatement,
                        following: cst.BaseStatement | None) -> list[cst.BaseStatement]:
        """One statement of a schema class body, converted."""
        if isinstance(statement, cst.FunctionDef) and isinstance(original, cst.FunctionDef):
            for decorator in original.decorators:
                target = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
                if self.is_pydantic(target, *VALIDATOR_DECORATORS):
                    kind = (self.qualified(target) or "").rsplit(".", 1)[-1]
                    self.reported_names.add(dotted(target).split(".")[0])
                    what = ("a computed field is not converted; make it a @property"
                            if kind == "computed_field" else
                            "custom validation is not converted; move its check into __attrs_post_init__ "
                            "(raise ValueError) and delete the method")
                    self.problem(decorator, f"@{kind} '{statement.name.value}' in {cls}: {what}")
            return [statement]
        if isinstance(statement, cst.ClassDef) and statement.name.value == "Config":
            self.problem(original, f"class Config in {cls} (pydantic v1 settings) is not converted; delete it "
                                   f"({EXTRA_KEYS_HINT})")
            return [statement]
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return [statement]
        small = statement.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and dotted(small.targets[0].target) == "model_config":
            return self.model_config(cls, original, small)
        if not isinstance(small, cst.AnnAssign) or small.value is None:
            return [statement]
        annotation = self.code(small.annotation.annotation)
        if annotation.startswith(("ClassVar", "typing.ClassVar")):
            return [statement]
        target = self.code(small.target)
        value = small.value
        if isinstance(value, cst.Call) and self.is_pydantic(value.func, "Field"):
            converted = self.field(cls, target, annotation, value, original)
            if converted is None:
                self.reported_names.add(dotted(value.func).split(".")[0])  # reported with its reason already
                return [statement]
            line, description = converted
        elif isinstance(value, (cst.List, cst.Dict, cst.Set)):
            line, description = f"{target}: {annotation} = {_factory_field(self.code(value))}", None
        else:
            return [statement]
        new = cst.parse_statement(line + "\n").with_changes(leading_lines=statement.leading_lines,
                                                            trailing_whitespace=statement.trailing_whitespace)
        if description is not None and not (following is not None and is_docstring(following)):
            return [new, cst.parse_statement(docstring_literal(description) + "\n")]
        return [new]

    def model_config(self, cls: str, original: cst.BaseStatement, assign: cst.Assign) -> list[cst.BaseStatement]:
        """``model_config = ConfigDict(...)``: dropped when attrs classes behave that way anyway."""
        call = assign.value
        if not (isinstance(call, cst.Call) and self.is_pydantic(call.func, "ConfigDict")):
            self.problem(original, f"model_config in {cls} is not a ConfigDict(...) call; delete it by hand")
            return [original]
        for arg in call.args:
            key = arg.keyword.value if arg.keyword is not None else None
            value = self.code(arg.value)
            if key == "extra" and value.strip("'\"") in ("forbid", "ignore"):
                continue
            if key in DROPPED_MODEL_CONFIG:
                continue
            setting = f"{key}={value}" if key else value
            hint = EXTRA_KEYS_HINT if key == "extra" else "attrs has no such setting"
            self.problem(original, f"model_config setting {setting} in {cls} is not converted ({hint}); "
                                   "remove it and adapt the class by hand")
            self.reported_names.add(dotted(call.func).split(".")[0])
            return [original]
        return []

    def field(self, cls: str, target: str, annotation: str, call: cst.Call,
              original: cst.BaseStatement) -> tuple[str, str | None] | None:
        """``x: T = Field(...)`` -> (``x: T = attrs.field(...)``, description) or ``None`` (reported)."""
        default: str | None = None
        factory: str | None = None
        description: str | None = None
        validators: list[str] = []
        for position, arg in enumerate(call.args):
            key = arg.keyword.value if arg.keyword is not None else None
            value = self.code(arg.value)
            if key is None and position == 0:
                default = None if value == "..." else value
            elif key == "default":
                default = None if value == "..." else value
            elif key == "default_factory":
                factory = value
            elif key == "description":
                try:
                    description = ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    self.problem(original, f"{cls}.{target}: Field(description=...) is not a plain string; "
                                           "write the docstring under the field by hand")
                    return None
            elif key in CONSTRAINTS:
                validators.append(f"attrs.validators.{CONSTRAINTS[key]}({value})")
            elif key == "discriminator":
                continue  # a plain union: the engine dispatches on the members' Literal tags
            else:
                what = "an alias (YAML keys are the field names here)" if key in ("alias", "validation_alias") \
                    else f"Field({key}=...)" if key else "a second positional argument"
                self.problem(original, f"{cls}.{target}: {what} is not converted; supported are default, "
                                       f"default_factory, description, {', '.join(CONSTRAINTS)}")
                return None
        optional = "None" in annotation or annotation.startswith(("Optional[", "typing.Optional["))
        parts = []
        if factory is not None:
            parts.append(f"factory={factory}")
        elif default is not None:
            parts.append(f"default={default}")
        if validators:
            joined = validators[0] if len(validators) == 1 else f"[{', '.join(validators)}]"
            parts.append(f"validator=attrs.validators.optional({joined})" if optional else f"validator={joined}")
        if not validators and factory is None:
            return (f"{target}: {annotation}" + (f" = {default}" if default is not None else "")), description
        return f"{target}: {annotation} = attrs.field({', '.join(parts)})", description


def _factory_field(literal: str) -> str:
    """``attrs.field(factory=...)`` for a mutable default written as a literal (``[]`` -> ``factory=list``)."""
    empty = {"[]": "list", "{}": "dict", "set()": "set"}
    return f"attrs.field(factory={empty[literal]})" if literal in empty else f"attrs.field(factory=lambda: {literal})"


def _comma_separated(items: Sequence) -> list:
    """``items`` (ImportAlias / Arg / SubscriptElement) with commas between them and none after the last."""
    out = []
    for index, item in enumerate(items):
        last = index == len(items) - 1
        comma = cst.MaybeSentinel.DEFAULT if last else (
            item.comma if isinstance(item.comma, cst.Comma) else cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        out.append(item.with_changes(comma=comma))
    return out


# ------------------------------------------------------------------------------------------- clean-up
class _NamesUsed(cst.CSTVisitor):
    """Every name used outside import statements."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Import(self, node: cst.Import) -> bool:
        """libcst hook, entering a ``Import`` node."""
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        """libcst hook, entering a ``ImportFrom`` node."""
        return False

    def visit_Name(self, node: cst.Name) -> None:
        """libcst hook, entering a ``Name`` node."""
        self.names.add(node.value)


def names_used(tree: cst.Module) -> set[str]:
    """Names ``tree`` uses outside its imports."""
    visitor = _NamesUsed()
    tree.visit(visitor)
    return visitor.names


class _DropUnused(cst.CSTTransformer):
    """Removes imported names that the converted code no longer uses, from the given modules only."""

    def __init__(self, modules: Mapping[str, set[str]], used: set[str]) -> None:
        super().__init__()
        self.modules, self.used = modules, used

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> cst.BaseStatement | cst.RemovalSentinel:
        """libcst hook, leaving a ``SimpleStatementLine`` node."""
        if len(updated_node.body) != 1 or not isinstance(updated_node.body[0], cst.ImportFrom):
            return updated_node
        small = updated_node.body[0]
        module = dotted(small.module) if small.module is not None else None
        if small.relative or module not in self.modules or isinstance(small.names, cst.ImportStar):
            return updated_node
        droppable = self.modules[module]
        kept = [alias for alias in small.names
                if (alias.asname.name.value if alias.asname else dotted(alias.name)) in self.used
                or dotted(alias.name) not in droppable]
        if len(kept) == len(small.names):
            return updated_node
        if not kept:
            return cst.RemoveFromParent()
        return updated_node.with_changes(body=[small.with_changes(names=_comma_separated(kept))])


def add_import_attrs(tree: cst.Module) -> cst.Module:
    """``import attrs`` after the docstring and ``from __future__`` imports, in front of the other imports."""
    body = list(tree.body)
    position = 0
    for index, statement in enumerate(body):
        if index == 0 and is_docstring(statement):
            position = 1
        elif (isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.ImportFrom)
              and dotted(statement.body[0].module) == "__future__"):
            position = index + 1
        else:
            break
    line = cst.parse_statement("import attrs\n")
    if position < len(body):
        following = body[position]
        is_import = isinstance(following, cst.SimpleStatementLine) and isinstance(following.body[0], (cst.Import, cst.ImportFrom))
        line = line.with_changes(leading_lines=following.leading_lines)
        body[position] = following.with_changes(leading_lines=[] if is_import else [cst.EmptyLine(), cst.EmptyLine()])
    elif position:
        line = line.with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(position, line)
    return tree.with_changes(body=body)


def imports_attrs(tree: cst.Module) -> bool:
    """True when ``tree`` has a top-level ``import attrs``."""
    return any(isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Import)
               and any(dotted(a.name) == "attrs" and a.asname is None for a in s.body[0].names) for s in tree.body)


@attrs.frozen
class FileResult:
    """One file after the codemod."""

    path: str
    """Relative to the project directory."""
    original: str
    """The source as read."""
    converted: str
    """The source as the codemod rewrote it (equal to ``original`` when there was nothing to do)."""
    problems: tuple[Problem, ...]
    """What was not converted; a file with problems is never written."""


def migrate_source(path: str, tree: cst.Module, source: str, scanned: ScannedModule,
                   configs: frozenset[str]) -> FileResult:
    """Run the codemod on one parsed file."""
    migrator = Migrator(path, scanned, configs)
    converted = MetadataWrapper(tree, unsafe_skip_copy=True).visit(migrator)
    used = names_used(converted)
    for name, line in sorted(migrator.pydantic_uses.items(), key=lambda item: item[1]):
        if name in used and name not in migrator.reported_names:
            migrator.problems.append(Problem(path, line, f"pydantic's {scanned.imports[name].split('.', 1)[1]} is "
                                                         "still used here; the engine's configs are attrs classes: "
                                                         "replace it by hand"))
    droppable: dict[str, set[str]] = {}
    for local, qualified in scanned.imports.items():
        module, _, name = qualified.rpartition(".")
        if qualified.startswith("pydantic.") or (migrator.stripped_annotated and name == "Annotated") \
                or is_dropped_decorator(qualified):
            droppable.setdefault(module, set()).add(name)
    converted = converted.visit(_DropUnused(droppable, used))
    if "attrs" in used and not imports_attrs(converted) and "attrs" not in scanned.imports:
        converted = add_import_attrs(converted)
    return FileResult(path, source, converted.code, tuple(sorted(migrator.problems)))

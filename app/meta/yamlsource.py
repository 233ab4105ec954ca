"""Read YAML safely and remember where every value came from.

Metadata errors must name the file, the line and the path inside the document
(``forms/purchase_receipt.yaml:14 fields[3].type``), so loading keeps a map from each path to the
line it starts on. Only plain YAML is accepted: PyYAML's safe loader refuses arbitrary tags, and
a key written twice in one mapping is an error rather than a silent overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from app.i18n import _

Path_ = tuple[str | int, ...]

#: libyaml's parser when PyYAML was built with it (about 15× faster; every worker and test loads
#: all metadata at start), the pure-Python one otherwise. Both build the same nodes.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class MetadataIssue:
    """One thing wrong with a definition: where it is and what was expected."""

    file: str
    line: int
    path: str
    message: str
    #: a file that does not parse or fails its schema: the first thing to fix, listed first,
    #: before what other files report because of it
    root: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class MetadataInvalid(Exception):
    """Raised with every issue found, so an admin fixes them all in one pass."""

    def __init__(self, issues: list[MetadataIssue]):
        self.issues = sorted(issues, key=lambda i: (not i.root, i.file, i.line, i.path, i.message))
        super().__init__("\n".join(str(i) for i in self.issues))


def format_path(path: Path_) -> str:
    """``('fields', 3, 'type')`` → ``fields[3].type``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class SourceDocument:
    """A parsed YAML document with the line each path starts on."""

    file: str
    data: object
    lines: dict[Path_, int] = field(default_factory=dict)
    text: str = ""

    def line_of(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def issue(self, path: Path_, message: str) -> MetadataIssue:
        return MetadataIssue(self.file, self.line_of(path), format_path(path), message)


def parse_yaml(text: str, file: str) -> SourceDocument:
    """Parse ``text``; raise ``MetadataInvalid`` naming the line of a syntax or duplicate key."""
    try:
        try:
            return _parse(text, file, SafeLoader)
        except yaml.YAMLError:
            # libyaml says less about what it expected; the rare bad file is read again by the
            # pure-Python parser for its message ("expected ',' or '}', but got ':'").
            return _parse(text, file, yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or ""
        if exc.problem and exc.context and exc.context_mark:
            problem = _(
                "%(problem)s (%(context)s at line %(line)s)",
                problem=problem,
                context=exc.context,
                line=exc.context_mark.line + 1,
            )
        raise MetadataInvalid([MetadataIssue(file, line, "", _malformed(problem))]) from None
    except yaml.YAMLError as exc:
        raise MetadataInvalid([MetadataIssue(file, 1, "", _malformed(str(exc)))]) from None


def _malformed(problem: str) -> str:
    """PyYAML's own words say what it expected (``expected ',' or '}', but got ':'``)."""
    return _("malformed YAML: %(problem)s", problem=problem)


def _parse(text: str, file: str, loader_class) -> SourceDocument:
    loader = loader_class(text)
    node = loader.get_single_node()
    if node is None:
        raise MetadataInvalid([MetadataIssue(file, 1, "", _("the file is empty"))])
    document = SourceDocument(file, None, text=text)
    issues: list[MetadataIssue] = []
    _map_lines(node, (), document, issues)
    if issues:
        raise MetadataInvalid(issues)
    document.data = loader.construct_document(node)
    return document


def _map_lines(node: yaml.Node, path: Path_, document: SourceDocument, issues: list) -> None:
    document.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(
                    MetadataIssue(
                        document.file,
                        line,
                        format_path((*path, key)),
                        _(
                            "duplicate key '%(key)s' (first at line %(line)s)",
                            key=key,
                            line=seen[key],
                        ),
                    )
                )
                continue
            seen[key] = line
            _map_lines(value_node, (*path, key), document, issues)
            document.lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, (*path, index), document, issues)

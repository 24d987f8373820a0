"""tree-sitter-bsl helpers for reading the 1C kit's BSL in tests (a parse tree, calls, arguments)."""

from __future__ import annotations

from tests.conftest import need


def bsl_parser():
    try:
        import tree_sitter
        import tree_sitter_bsl
    except ImportError:
        need(False, "tree-sitter-bsl (pip install tree-sitter-bsl)")
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bsl.language()))


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


def text(node) -> str:
    return node.text.decode("utf-8")


def error_lines(tree) -> list[int]:
    return sorted({n.start_point[0] + 1 for n in walk(tree.root_node) if n.is_error or n.is_missing})


def string_value(node) -> str | None:
    """The value of a string literal expression (BSL doubles quotes, continues lines with |)."""
    while node is not None and node.type in ("expression", "const_expression") \
            and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None or node.type != "string":
        return None
    parts = [text(c) for c in node.children if c.type == "string_content"]
    return "\n".join(parts).replace('""', '"')


def arguments(call) -> list:
    """Positional arguments of a method_call / new_expression; None for an empty slot."""
    args_node = next((c for c in call.children if c.type == "arguments"), None)
    if args_node is None:
        return []
    slots: list = [None]
    for child in args_node.children:
        if child.type == "expression":
            slots[-1] = child
        else:  # "," or an omitted_argument token that may hold ", ,"
            slots.extend([None] * text(child).count(","))
    return [] if slots == [None] else slots


def call_name(call) -> str:
    return text(next(c for c in call.children if c.type == "identifier"))


def receiver(call) -> str | None:
    """`Данные` for `Данные.Получить(...)`; None for a global call."""
    parent = call.parent
    if parent is not None and parent.type == "call_expression" and parent.children[0] != call:
        return text(parent.children[0])
    return None


def method_calls(node, name: str):
    for n in walk(node):
        if n.type == "method_call" and call_name(n).casefold() == name.casefold():
            yield n


def new_expressions(node, type_name: str):
    for n in walk(node):
        if n.type == "new_expression" and call_name(n).casefold() == type_name.casefold():
            yield n


def method_nodes(tree) -> list:
    return [n for n in walk(tree.root_node) if n.type in ("function_definition", "procedure_definition")]


def methods(tree) -> dict:
    return {text(n.child_by_field_name("name")): n for n in method_nodes(tree)}


def is_exported(method) -> bool:
    return any(c.type == "EXPORT_KEYWORD" for c in method.children)

"""Which variables a template reads that its context would not have.

A missing variable renders as an empty string rather than failing, so a typo such as
`{{ post_tilte }}` would go out silently. This walks the compiled template and checks each
lookup against a sample context (the category's sample data, `data.*` and `recipient.*`),
following names the template binds itself: `for` loop variables take the shape of the
sequence's first item, `with` names the shape of their value, and `forloop`, `as` targets and
the like are taken on trust.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.template import Template
from django.template.base import FilterExpression, Node, NodeList, Variable, VariableNode
from django.template.defaulttags import (
    CycleNode,
    FilterNode,
    FirstOfNode,
    ForNode,
    IfChangedNode,
    IfNode,
    LoremNode,
    RegroupNode,
    TemplateLiteral,
    WidthRatioNode,
    WithNode,
)


class _Anything:
    """A value the sample does not describe: any lookup on it is accepted."""

    def __repr__(self) -> str:
        return "ANYTHING"


ANYTHING = _Anything()
_MISSING = object()
# What django.template.Context offers every template besides its data.
CONTEXT_BUILTINS = {"True": True, "False": False, "None": None}


@dataclass(frozen=True)
class VariableUse:
    name: str  # as written, e.g. "order.total"
    line: int


def _lookup(value: Any, bit: str) -> Any:
    """One step of a dotted lookup, the way django.template.Variable resolves it."""
    if value is ANYTHING or value is None:
        # A null in sample data says "may be absent", not what it holds when present.
        return ANYTHING
    if isinstance(value, dict) and bit in value:
        return value[bit]
    if isinstance(value, list) and bit.lstrip("-").isdigit():
        index = int(bit)
        return value[index] if -len(value) <= index < len(value) else _MISSING
    # Attribute lookups such as `name.upper` or `data.items` work on plain JSON values too.
    return ANYTHING if hasattr(value, bit) else _MISSING


def _first_item(sequence: Any) -> Any:
    """The shape of one item of a sequence: its dict items merged, else its first item."""
    if not isinstance(sequence, list) or not sequence:
        return ANYTHING
    if all(isinstance(item, dict) for item in sequence):
        merged: dict[str, Any] = {}
        for item in sequence:
            merged.update(item)
        return merged
    return sequence[0]


class _Scope:
    """Names visible at one point of the template, innermost last."""

    def __init__(self, frames: list[dict[str, Any]]) -> None:
        self.frames = frames

    def child(self, names: dict[str, Any] | None = None) -> _Scope:
        return _Scope([*self.frames, dict(names or {})])

    def bind(self, name: str, value: Any = ANYTHING) -> None:
        self.frames[-1][name] = value

    def resolve(self, variable: Variable) -> Any:
        root, *rest = variable.lookups
        value = next((frame[root] for frame in reversed(self.frames) if root in frame), _MISSING)
        for bit in rest:
            if value is _MISSING:
                break
            value = _lookup(value, bit)
        return value


class _Walker:
    def __init__(self, context: dict[str, Any]) -> None:
        self.unknown: dict[VariableUse, None] = {}
        self.scope = _Scope([{**CONTEXT_BUILTINS, **context}])

    # --- expressions -------------------------------------------------------------------

    def check(self, expression: FilterExpression, line: int, scope: _Scope) -> None:
        variables = [expression.var] + [arg for _, args in expression.filters for lookup, arg in args if lookup]
        for variable in variables:
            if isinstance(variable, Variable) and variable.lookups is not None:
                if scope.resolve(variable) is _MISSING:
                    self.unknown[VariableUse(variable.var, line)] = None

    def shape(self, expression: FilterExpression, scope: _Scope) -> Any:
        """What an expression holds, when it is a plain lookup without filters."""
        variable = expression.var
        if expression.filters or not isinstance(variable, Variable) or variable.lookups is None:
            return ANYTHING
        value = scope.resolve(variable)
        return ANYTHING if value is _MISSING else value

    def check_condition(self, condition: Any, line: int, scope: _Scope) -> None:
        # `if` conditions are trees of smart_if operators with TemplateLiteral leaves.
        if isinstance(condition, TemplateLiteral):
            self.check(condition.value, line, scope)
            return
        for operand in (getattr(condition, "first", None), getattr(condition, "second", None)):
            if operand is not None:
                self.check_condition(operand, line, scope)

    # --- nodes -------------------------------------------------------------------------

    def walk(self, nodes: Iterable[Node], scope: _Scope) -> None:
        for node in nodes:
            self.visit(node, scope)

    def visit(self, node: Node, scope: _Scope) -> None:
        line = node.token.lineno if getattr(node, "token", None) is not None else 1
        if isinstance(node, VariableNode):
            self.check(node.filter_expression, line, scope)
        elif isinstance(node, IfNode):
            for index, (condition, nodelist) in enumerate(node.conditions_nodelists):
                # An elif's own tag is not kept: the first node of its branch is on its line.
                branch_line = _first_line(nodelist, line) if index else line
                if condition is not None:
                    self.check_condition(condition, branch_line, scope)
                # Like most tags, `if` pushes no context: an `as` name set in a branch outlives it.
                self.walk(nodelist, scope)
        elif isinstance(node, ForNode):
            self.check(node.sequence, line, scope)
            item = _first_item(self.shape(node.sequence, scope))
            names = {name: item for name in node.loopvars} if len(node.loopvars) == 1 else {}
            names.update({name: ANYTHING for name in node.loopvars if name not in names})
            self.walk(node.nodelist_loop, scope.child({**names, "forloop": ANYTHING}))
            self.walk(node.nodelist_empty, scope.child())
        elif isinstance(node, WithNode):
            values = {}
            for name, expression in node.extra_context.items():
                self.check(expression, line, scope)
                values[name] = self.shape(expression, scope)
            self.walk(node.nodelist, scope.child(values))
        elif isinstance(node, FilterNode):
            # `{% filter upper %}` is compiled as the expression `var|upper`, `var` being the body.
            self.walk(node.nodelist, scope)
            self.check(node.filter_expr, line, scope.child({"var": ANYTHING}))
        elif isinstance(node, RegroupNode):
            self.check(node.target, line, scope)
            self.check(node.expression, line, scope.child({node.var_name: _first_item(self.shape(node.target, scope))}))
            scope.bind(node.var_name)
        else:
            for expression in _expressions(node):
                self.check(expression, line, scope)
            for name in _bound_names(node):
                scope.bind(name)
            for attribute in node.child_nodelists:
                nodelist = getattr(node, attribute, None)
                if isinstance(nodelist, NodeList):
                    self.walk(nodelist, scope)


def _expressions(node: Node) -> Iterator[FilterExpression]:
    if isinstance(node, CycleNode):
        yield from node.cyclevars
    elif isinstance(node, FirstOfNode):
        yield from node.vars
    elif isinstance(node, IfChangedNode):
        yield from node._varlist
    elif isinstance(node, LoremNode):
        yield node.count
    elif isinstance(node, WidthRatioNode):
        yield from (node.val_expr, node.max_expr, node.max_width)


def _bound_names(node: Node) -> Iterator[str]:
    """Names a tag sets for the rest of the template (`{% cycle ... as row %}` and the like)."""
    for attribute in ("variable_name", "asvar"):
        name = getattr(node, attribute, None)
        if isinstance(name, str) and name:
            yield name


def _first_line(nodelist: NodeList, default: int) -> int:
    for node in nodelist:
        token = getattr(node, "token", None)
        if token is not None and token.lineno:
            return token.lineno
    return default


def unknown_variables(template: Template, context: dict[str, Any]) -> list[VariableUse]:
    """Variables `template` reads that `context` (sample values) does not provide, in order.

    `template` is compiled by the engine that will render it; a lookup counts as known when
    each step of it exists in the sample (a key, a list index, an attribute of the value),
    or when it reaches a value the sample leaves open (null, a loop over an empty list).
    """
    walker = _Walker(context)
    walker.walk(template.nodelist, walker.scope)
    return sorted(walker.unknown, key=lambda use: use.line)

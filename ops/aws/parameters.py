"""A stack's parameter values checked against the template's own constraints, before anything is
sent to AWS: CloudFormation would refuse the same values, but only once a change set is asked for,
and one problem at a time."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

LIST_TYPES = ("CommaDelimitedList", "List<")
ORDER_KEY = "ParametersAtMost"  # in the template's Metadata: [low, high] pairs


def check(template: dict, values: dict[str, str]) -> list[str]:
    """The problems of `values` (parameter name -> value, CloudFormation's strings) for `template`
    (the template as data): a parameter without a default and without a value, a value for no
    parameter, and every value outside its parameter's constraints (AllowedValues, AllowedPattern,
    MinLength/MaxLength, MinValue/MaxValue, a Number that is not one), and each pair out of the
    order the template's Metadata asks (ParametersAtMost). Each problem names the parameter, its value and
    the constraint. An empty list: CloudFormation will take them."""
    declared = template.get("Parameters") or {}
    problems = [f"{name} has no value and no default: give it one in the environment's Parameters"
                for name, spec in declared.items() if name not in values and "Default" not in spec]
    problems += [f"{name} is not a parameter of the template" for name in values if name not in declared]
    for name, value in values.items():
        if name in declared:
            problems += check_value(name, value, declared[name])
    return problems + check_order(template, values)


def check_order(template: dict, values: dict[str, str]) -> list[str]:
    """The template's Metadata ParametersAtMost: pairs [low, high] whose low value may not exceed
    the high one (what CloudFormation's Rules cannot say). A pair with a missing or non-numeric
    value is left to the other checks."""
    problems = []
    for low, high in (template.get("Metadata") or {}).get(ORDER_KEY, []):
        try:
            below, above = Decimal(str(values[low])), Decimal(str(values[high]))
        except (KeyError, InvalidOperation):
            continue
        if below.is_finite() and above.is_finite() and below > above:
            problems.append(f"{low}={values[low]} is above {high}={values[high]}")
    return problems


def check_value(name: str, value: object, spec: dict) -> list[str]:
    """The problems of one parameter's value (CloudFormation's rules: a list type's constraints hold
    for each of its items; a pattern must match the whole value)."""
    if not isinstance(value, str):
        return [f"{name}={json.dumps(value)} is not a string: CloudFormation takes every parameter "
                f"value as text, write it as \"{json.dumps(value)}\""]
    kind = spec.get("Type", "String")
    items = [item.strip() for item in value.split(",")] if kind.startswith(LIST_TYPES) else [value]
    numeric = kind in ("Number", "List<Number>")
    return [problem for item in items for problem in check_item(name, item, spec, numeric)]


def check_item(name: str, value: str, spec: dict, numeric: bool) -> list[str]:
    shown = f"{name}={value}" if value else f"{name} (empty)"
    number = None
    if numeric:
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            return [f"{shown} is not a number"]
    problems = []
    allowed = spec.get("AllowedValues")
    if allowed is not None and not any(same(value, option, numeric) for option in allowed):
        problems.append(f"{shown} is not one of its allowed values: {', '.join(map(str, allowed))}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        problems.append(f"{shown} does not match its pattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"{shown} is shorter than its minimum length {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"{shown} is longer than its maximum length {spec['MaxLength']}")
    if number is not None and "MinValue" in spec and number < Decimal(str(spec["MinValue"])):
        problems.append(f"{shown} is below its minimum {spec['MinValue']}")
    if number is not None and "MaxValue" in spec and number > Decimal(str(spec["MaxValue"])):
        problems.append(f"{shown} is above its maximum {spec['MaxValue']}")
    return problems


def same(value: str, option: object, numeric: bool) -> bool:
    """An allowed value as CloudFormation compares it: numbers by value (AllowedValues of a Number
    may be written as numbers in the template), everything else as text."""
    if numeric:
        try:
            return Decimal(value) == Decimal(str(option))
        except InvalidOperation:
            return False
    return value == str(option)

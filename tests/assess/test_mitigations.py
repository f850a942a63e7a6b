"""The mitigation snippets are real: TOML policies validate and fix their own risk, shell
lines name existing subcommands and flags with valid values, Python imports and calls
match mlwarden's public API. Each checker is itself shown to reject a broken look-alike.
"""

from __future__ import annotations

import ast
import inspect
import math
import shlex
import sys
from pathlib import Path
from typing import Any

import click
import pytest

import mlwarden
from mlwarden.assess.mitigations import MITIGATIONS, Mitigation
from mlwarden.assess.policy_review import controls_of, policy_problems, review_policy
from mlwarden.assess.verdicts import _bounded, served_policy
from mlwarden.cli.main import cli
from mlwarden.gateway.policy import GatewayPolicy
from mlwarden.risks import RISKS, RiskId
from mlwarden.rules import RULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def of_language(language: str) -> list[Any]:
    return [
        pytest.param(risk, m, id=risk.value)
        for risk, m in MITIGATIONS.items()
        if m.language == language
    ]


def test_every_risk_has_advice_and_a_known_snippet_language() -> None:
    assert set(MITIGATIONS) == set(RISKS)
    for mitigation in MITIGATIONS.values():
        assert mitigation.steps
        assert all(step.strip().endswith(".") for step in mitigation.steps)
        assert mitigation.language in ("toml", "python", "shell")
        assert mitigation.snippet.endswith("\n")


# --------------------------------------------------------------------------- TOML snippets


def gateway_of(snippet: str) -> GatewayPolicy:
    data = tomllib.loads(snippet)
    assert set(data) == {"gateway"}, "a policy snippet holds only [gateway] tables"
    return GatewayPolicy.model_validate(data["gateway"])


@pytest.mark.parametrize(("risk", "mitigation"), of_language("toml"))
def test_toml_snippet_is_a_valid_policy_file(
    risk: RiskId, mitigation: Mitigation, tmp_path: Path
) -> None:
    gateway_of(mitigation.snippet)
    path = tmp_path / "mlwarden.toml"
    path.write_text(mitigation.snippet, encoding="utf-8")
    assert review_policy(path).command == "assess policy"


@pytest.mark.parametrize(("risk", "mitigation"), of_language("toml"))
def test_toml_snippet_clears_the_policy_rules_of_its_own_risk(
    risk: RiskId, mitigation: Mitigation
) -> None:
    left = [rule for rule, _ in policy_problems(gateway_of(mitigation.snippet))]
    assert [r for r in left if RULES[r].risk is risk] == []
    # The same policy with the snippet's controls off does have rules of that risk.
    switched_off = tomllib.loads(_switch_off(mitigation.snippet))["gateway"]
    weak = [r for r, _ in policy_problems(GatewayPolicy.model_validate(switched_off))]
    assert [r for r in weak if RULES[r].risk is risk]


def _switch_off(snippet: str) -> str:
    """The snippet with each control turned the unsafe way (the bad look-alike)."""
    swaps = {
        "enabled = true": "enabled = false",
        'ranges = "reference"': 'ranges = "off"',
        "squeezing_detector = true": "squeezing_detector = false",
        "min_confidence = 0.6": "min_confidence = 0.0",
        'mode = "label"': 'mode = "probabilities"\ndecimals = 6',
        'action = "throttle"': 'action = "alert"',
    }
    for safe, unsafe in swaps.items():
        snippet = snippet.replace(safe, unsafe)
    return snippet


def test_ml05_snippet_bounds_extraction_and_ml03_snippet_serves_labels() -> None:
    ml05 = controls_of(gateway_of(MITIGATIONS[RiskId.ML05].snippet))
    assert _bounded(ml05)
    ml03 = controls_of(gateway_of(MITIGATIONS[RiskId.ML03].snippet))
    assert served_policy(ml03) == "label"


def test_toml_checker_rejects_an_unknown_control() -> None:
    with pytest.raises(ValueError, match="extra"):
        gateway_of("[gateway.auth]\nenabled = true\nrequire_mfa = true\n")


# --------------------------------------------------------------------------- shell snippets


def commands_of(snippet: str) -> list[list[str]]:
    """One argv per command line (backslash continuations joined, comments dropped)."""
    joined = snippet.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def check_command(argv: list[str]) -> None:
    """Raise AssertionError or click.BadParameter unless argv is a valid mlwarden command."""
    assert argv[0] == "mlwarden", argv
    command: click.Command = cli
    ctx = click.Context(cli)
    rest = argv[1:]
    while isinstance(command, click.Group):
        assert rest, f"{argv}: a subcommand is missing"
        found = command.get_command(ctx, rest[0])
        assert found is not None, f"{argv}: no subcommand {rest[0]!r}"
        command, rest = found, rest[1:]
        ctx = click.Context(command, parent=ctx)
    options = {
        name: p
        for p in command.params
        if isinstance(p, click.Option)
        for name in (*p.opts, *p.secondary_opts)
    }
    positional = _read_options(argv, rest, options, ctx)
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    most = sum(p.nargs if p.nargs > 0 else math.inf for p in arguments)
    least = sum(max(p.nargs, 1) for p in arguments if p.required)
    assert least <= len(positional) <= most, f"{argv}: {len(positional)} argument(s)"


def _read_options(
    argv: list[str], rest: list[str], options: dict[str, click.Option], ctx: click.Context
) -> list[str]:
    positional: list[str] = []
    tokens = iter(rest)
    for token in tokens:
        if not token.startswith("-"):
            positional.append(token)
            continue
        name, eq, inline = token.partition("=")
        option = options.get(name)
        assert option is not None, f"{argv}: no option {name!r}"
        if option.is_flag or option.count:
            assert not eq, f"{argv}: {name} takes no value"
            continue
        value = inline if eq else next(tokens, None)
        assert value is not None, f"{argv}: {name} needs a value"
        assert not value.startswith("--"), f"{argv}: {name} needs a value"
        if not isinstance(option.type, click.Path):  # paths need not exist here
            option.type.convert(value, option, ctx)
    return positional


@pytest.mark.parametrize(("risk", "mitigation"), of_language("shell"))
def test_shell_snippet_names_real_subcommands_and_flags(
    risk: RiskId, mitigation: Mitigation
) -> None:
    argvs = commands_of(mitigation.snippet)
    assert argvs
    for argv in argvs:
        check_command(argv)


@pytest.mark.parametrize(
    "line",
    [
        "mlwarden verify model/ --no-such-flag",
        "mlwarden nosuchcommand model/",
        "mlwarden gate membership model.joblib --max-tpr lots",
        "mlwarden gate",
        "mlwarden sign",
        "mlwarden sign model/ extra/ more/",
        "mlwarden drift a.csv --alpha",
        "python -m mlwarden scan model/",
    ],
)
def test_shell_checker_rejects_broken_look_alikes(line: str) -> None:
    with pytest.raises((AssertionError, click.BadParameter)):
        check_command(shlex.split(line))


def test_shell_checker_accepts_a_valid_command() -> None:
    check_command(shlex.split("mlwarden verify model/ --key k.pem --signature=model.sig -j 2"))


# --------------------------------------------------------------------------- Python snippets


def check_python(snippet: str) -> None:
    """Compile; every ``from mlwarden import X`` exists; calls to X (and methods of objects
    built by X) bind to X's real signature."""
    tree = ast.parse(snippet)
    compile(tree, "<snippet>", "exec")
    imported: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module == "mlwarden", f"imports from {node.module}"
            for alias in node.names:
                assert alias.name in mlwarden.__all__, alias.name
                imported[alias.asname or alias.name] = getattr(mlwarden, alias.name)
    built: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and inspect.isclass(imported.get(func.id)):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        built[target.id] = imported[func.id]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            _bind(node, imported, built)


def _bind(call: ast.Call, imported: dict[str, Any], built: dict[str, Any]) -> None:
    func = call.func
    target: Any = None
    # ``**kwargs`` in a snippet has no name to check: only named keywords are bound.
    keywords = {k.arg: 0 for k in call.keywords if k.arg is not None}
    if isinstance(func, ast.Name) and func.id in imported:
        target = imported[func.id]
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner = built.get(func.value.id)
        if owner is not None:
            assert hasattr(owner, func.attr), f"{owner.__name__} has no {func.attr}"
            target = getattr(owner, func.attr)
            call_args: list[Any] = [object(), *call.args]
            inspect.signature(target).bind(*call_args, **keywords)
            return
    if target is not None:
        inspect.signature(target).bind(*call.args, **keywords)


@pytest.mark.parametrize(("risk", "mitigation"), of_language("python"))
def test_python_snippet_compiles_and_matches_the_public_api(
    risk: RiskId, mitigation: Mitigation
) -> None:
    check_python(mitigation.snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "from mlwarden import safe_loader\n",
        "from mlwarden import safe_load\n\nsafe_load('m.joblib', publisher_key='k.pem')\n",
        "from mlwarden import Client\n\nc = Client('https://x', api_key='k')\n",
        "from mlwarden import Client\n\nc = Client('https://x', api_key='k', public_key='p', "
        "approved_digest='d')\nc.predict_many([[0.1]])\n",
        "from mlwarden import safe_load\nmodel = safe_load(\n",
    ],
    ids=["missing-name", "bad-keyword", "missing-keywords", "missing-method", "syntax"],
)
def test_python_checker_rejects_broken_look_alikes(snippet: str) -> None:
    with pytest.raises((AssertionError, TypeError, SyntaxError)):
        check_python(snippet)


def test_snippets_come_out_in_every_assessment_entry() -> None:
    from mlwarden.assess.settings import AssessSettings
    from mlwarden.assess.verdicts import risk_entries

    entries = risk_entries([], AssessSettings(), None)
    for risk, mitigation in MITIGATIONS.items():
        assert entries[risk.value]["snippet"] == mitigation.snippet
        assert entries[risk.value]["mitigation"] == list(mitigation.steps)

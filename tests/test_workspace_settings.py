"""The stages' view of the settings: :class:`training.workspace.WorkspaceSettings` lists every
field they read, and clientcast's :class:`~clientcast.settings.Settings` provides each of them."""

from __future__ import annotations

import ast
import typing
from pathlib import Path
from types import SimpleNamespace

import pytest

from clientcast.settings import Settings, load_settings, workspace_settings
from training.workspace import WorkspaceSettings

ROOT = Path(__file__).resolve().parent.parent
STAGE_PACKAGES = ("training", "serving")
SETTINGS_ANNOTATIONS = {"Any", "WorkspaceSettings"}


def protocol_members() -> set[str]:
    """The attributes and properties the Protocol declares."""
    properties = {
        name for name, value in vars(WorkspaceSettings).items() if isinstance(value, property)
    }
    return set(typing.get_type_hints(WorkspaceSettings)) | properties


def settings_reads() -> dict[str, set[str]]:
    """Every ``settings.<attribute>`` read in the stages, where ``settings`` is a parameter
    annotated ``WorkspaceSettings`` (or still ``Any``): attribute -> the files reading it."""
    reads: dict[str, set[str]] = {}
    for package in STAGE_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                names = {
                    argument.arg
                    for argument in (*function.args.args, *function.args.kwonlyargs)
                    if argument.annotation is not None
                    and ast.unparse(argument.annotation) in SETTINGS_ANNOTATIONS
                    and argument.arg == "settings"
                }
                for node in ast.walk(function):
                    if (
                        isinstance(node, ast.Attribute)
                        and isinstance(node.value, ast.Name)
                        and node.value.id in names
                    ):
                        reads.setdefault(node.attr, set()).add(str(path.relative_to(ROOT)))
    return reads


def test_the_protocol_lists_every_field_the_stages_read() -> None:
    reads = settings_reads()
    assert {"data_dir", "optuna_storage", "tracking_uri"} <= set(reads), "the scan finds reads"
    unlisted = {name: files for name, files in reads.items() if name not in protocol_members()}
    assert not unlisted, f"read by the stages but not in WorkspaceSettings: {unlisted}"


def test_the_protocol_lists_nothing_the_stages_do_not_read() -> None:
    assert protocol_members() <= set(settings_reads())


def test_clientcast_settings_provide_every_field_with_its_type(tmp_path: Path) -> None:
    assert isinstance(load_settings(), WorkspaceSettings)
    assert isinstance(workspace_settings(tmp_path), WorkspaceSettings)
    hints = typing.get_type_hints(WorkspaceSettings)
    for name, annotation in hints.items():
        assert Settings.model_fields[name].annotation is annotation, name
    assert isinstance(Settings.tracking_uri, property)


@pytest.mark.parametrize("missing", sorted(protocol_members()))
def test_an_object_lacking_a_field_is_not_workspace_settings(missing: str) -> None:
    values = {name: None for name in protocol_members() if name != missing}
    assert not isinstance(SimpleNamespace(**values), WorkspaceSettings)
    assert isinstance(SimpleNamespace(**values, **{missing: None}), WorkspaceSettings)

"""The data scientists' notebooks: jupytext percent files that run top to bottom on a small maison.

Each notebook is read with jupytext and executed by nbclient on the project's Python kernel, in
order and in one working folder (notebook 05 uses the models notebooks 03 and 04 register), on a
small maison chosen through the notebooks' own parameters (environment variables).
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbclient
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from test_forecasts import seed_tuned_footfall_params

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = (
    "01-explore-purchase-history",
    "02-client-and-boutique-features",
    "03-next-purchase-model",
    "04-footfall-model",
    "05-from-mlflow-to-serving",
)
SMALL_MAISON = {
    "CLIENTCAST_NOTEBOOK_CLIENTS": "400",
    "CLIENTCAST_NOTEBOOK_BOUTIQUES": "8",
    "CLIENTCAST_NOTEBOOK_YEARS": "2",
    "CLIENTCAST_NOTEBOOK_QUICK": "1",
}
CELL_TIMEOUT_S = 300


def code_cells(name: str) -> list[tuple[list[str], str]]:
    """(tags, source) of each code cell of notebook ``name``."""
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    return [
        (list(cell.metadata.get("tags", [])), cell.source)
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_a_percent_script_with_parameters_and_no_pipeline_code(name: str) -> None:
    text = (NOTEBOOK_DIR / f"{name}.py").read_text(encoding="utf-8")
    assert "format_name: percent" in text
    cells = code_cells(name)
    tags, parameters = cells[0]
    assert tags == ["parameters"], "the first code cell holds the parameters"
    for variable in ("CLIENTS", "BOUTIQUES", "YEARS", "WORKDIR"):
        assert f"CLIENTCAST_NOTEBOOK_{variable if variable != 'WORKDIR' else 'DIR'}" in parameters
    to_python = TransformerManager()
    for _, source in cells:
        for node in ast.walk(ast.parse(to_python.transform_cell(source))):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Lambda), (
                f"{name} defines {getattr(node, 'name', 'a lambda')}: pipeline code belongs in "
                "the packages"
            )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working folder for the five notebooks: maison, MLflow store, snapshots; with small
    tuned footfall trees recorded in its Optuna store for the notebooks' maison (studies are
    named after their history folder), as for the other tiny models."""
    from clientcast.settings import workspace_settings
    from features.synthetic import MaisonConfig, ensure_maison

    folder = tmp_path_factory.mktemp("notebooks")
    config = MaisonConfig(
        clients=int(SMALL_MAISON["CLIENTCAST_NOTEBOOK_CLIENTS"]),
        boutiques=int(SMALL_MAISON["CLIENTCAST_NOTEBOOK_BOUTIQUES"]),
        years=float(SMALL_MAISON["CLIENTCAST_NOTEBOOK_YEARS"]),
    )
    settings = workspace_settings(folder, data_dir=folder / "data" / config.folder_name)
    ensure_maison(settings.data_dir, config)
    seed_tuned_footfall_params(settings.optuna_storage, settings.data_dir)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_a_small_maison(
    name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in {**SMALL_MAISON, "CLIENTCAST_NOTEBOOK_DIR": str(workdir)}.items():
        monkeypatch.setenv(variable, value)
    for variable in ("MLFLOW_TRACKING_URI", "CLIENTCAST_API_TOKEN", "MPLBACKEND"):
        monkeypatch.delenv(variable, raising=False)
    notebook = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    images = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert images >= 1 or name.startswith("05"), "the notebook drew no figure"

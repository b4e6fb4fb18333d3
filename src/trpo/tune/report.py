"""The report of a study (`trpo tune` at the end, or `trpo tune --report DIR`), written to DIR:

report.md           the best trials as a table, then every trial with its state or fail reason
best-preset.yaml    the best trial's config as a preset: trpo train ENV --preset best-preset.yaml
history.png         Optuna's optimisation history (each trial's value and the best so far)
importances.png     Optuna's parameter importances (PED-ANOVA, needs 2+ complete trials)
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from trpo.config import TRPOConfig
from trpo.runs.run import write_json
from trpo.tune.study import FAIL_REASON, META, TuneError, shown_url

REPORT_MD = "report.md"
BEST_PRESET = "best-preset.yaml"
HISTORY_PNG = "history.png"
IMPORTANCES_PNG = "importances.png"
BEST_JSON = "best.json"


def best_trials(study: optuna.Study, n: int = 10) -> list[FrozenTrial]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if math.isfinite(t.value)]
    return sorted(complete, key=lambda t: t.value, reverse=True)[:n]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")


def trials_table(trials: list[FrozenTrial], params: list[str]) -> str:
    """A markdown table: trial, value, steps, then one column per searched parameter."""
    head = ["trial", "value", *params]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in trials:
        cells = [str(t.number), _cell(t.value), *(_cell(t.params.get(p, "")) for p in params)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def all_trials_table(study: optuna.Study) -> str:
    lines = ["| trial | state | value | last eval (step) | note |", "|---|---|---|---|---|"]
    for t in study.get_trials(deepcopy=False):
        last = max(t.intermediate_values) if t.intermediate_values else None
        evaluated = f"{t.intermediate_values[last]:.4g} ({last:,})" if last is not None else ""
        value = _cell(t.value) if t.state == TrialState.COMPLETE else ""
        note = t.user_attrs.get(FAIL_REASON, "")
        if "retry_of" in t.user_attrs:
            note = f"retry of trial {t.user_attrs['retry_of']}" + (f"; {note}" if note else "")
        lines.append(f"| {t.number} | {t.state.name.lower()} | {value} | {evaluated} | {_cell(note)[:200]} |")
    return "\n".join(lines)


def preset_values(trial: FrozenTrial, meta: dict[str, Any]) -> dict[str, Any]:
    """The preset of a trial: its searched fields and every other field that differs from
    TRPOConfig's defaults (the seed left out), plus the study's make_kwargs."""
    config = trial.user_attrs["config"]
    defaults = TRPOConfig().to_dict()
    searched = set(meta.get("space", {}))
    values = {k: v for k, v in config.items() if k != "seed" and (k in searched or v != defaults.get(k))}
    TRPOConfig.from_dict({**values}, source=f"trial {trial.number}")  # the preset must load as it is
    if meta.get("make_kwargs"):
        values["make_kwargs"] = meta["make_kwargs"]
    return values


def write_report(study: optuna.Study, out_dir: Path, storage: str, top: int = 10) -> dict[str, Any]:
    """Write the report files to `out_dir` and return what they hold (also in best.json)."""
    meta = study.user_attrs.get(META)
    if meta is None:
        raise TuneError(f"study {study.study_name!r} in {shown_url(storage)} was not made by trpo tune")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = list(meta["space"])
    best = best_trials(study, top)
    trials = study.get_trials(deepcopy=False)
    states = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    env_id, steps = meta["env_id"], meta["total_steps"]
    summary: dict[str, Any] = {
        "study": study.study_name,
        "storage": shown_url(storage),
        "env_id": env_id,
        "total_steps": steps,
        "trials": {k: v for k, v in states.items() if v},
        "best": None,
    }
    text = [
        f"# trpo tune: {env_id}, study {study.study_name!r}",
        "",
        f"{len(trials)} trials of {steps:,} env steps ({', '.join(f'{v} {k}' for k, v in summary['trials'].items())}); "
        f"value: the deterministic evaluation return at the end of a trial ({meta['eval_episodes']} episodes).",
        "",
    ]
    if best:
        preset = preset_values(best[0], meta)
        header = (
            f"# {env_id}, found by trpo tune: trial {best[0].number} of study {study.study_name!r} "
            f"({len(trials)} trials of {steps:,} steps),\n# deterministic evaluation return {best[0].value:.4g} "
            f"at {steps:,} steps. Train with:\n#   trpo train {env_id} --preset {BEST_PRESET} --total-steps {steps}\n"
        )
        (out_dir / BEST_PRESET).write_text(header + yaml.safe_dump(preset, sort_keys=False))
        summary["best"] = {"trial": best[0].number, "value": best[0].value, "params": best[0].params, "preset": preset}
        text += [f"## Best {len(best)} trials", "", trials_table(best, params), ""]
        text += [f"Best config as a preset: {BEST_PRESET}", ""]
    else:
        text += ["No trial has completed yet: no preset.", ""]
    summary["pictures"] = _pictures(study, out_dir)
    for name, note in summary["pictures"].items():
        text += [f"![{name}]({name})" if note == "written" else f"{name}: not drawn ({note})", ""]
    text += ["## All trials", "", all_trials_table(study), ""]
    (out_dir / REPORT_MD).write_text("\n".join(text))
    write_json(out_dir / BEST_JSON, summary)
    return summary


def _pictures(study: optuna.Study, out_dir: Path) -> dict[str, str]:
    """Optuna's matplotlib history and importances; for each PNG, 'written' or why it is not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    out: dict[str, str] = {}
    drawings = [
        (HISTORY_PNG, optuna_plots.plot_optimization_history, 1),
        (IMPORTANCES_PNG, optuna_plots.plot_param_importances, 2),
    ]
    for name, draw, needed in drawings:
        if len(complete) < needed:
            out[name] = f"needs {needed}+ complete trials, the study has {len(complete)}"
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                ax = draw(study)
        except (ValueError, RuntimeError) as error:
            out[name] = str(error).splitlines()[0] if str(error) else type(error).__name__
            continue
        figure = ax.figure
        figure.set_size_inches(8, 4.5)
        figure.tight_layout()
        figure.savefig(out_dir / name, dpi=100)
        plt.close(figure)
        out[name] = "written"
    return out

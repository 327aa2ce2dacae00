"""Checks a bundle or export passes before :func:`joulebench.store.bundle.import_bundle` merges it.

* provenance complete: every row's run is in the bundle (or already in the store), and every run names when it
  started, its meter, its provenance and a protocol whose hash matches its ``config_hash``;
* energy consistent: a successful row's energy per image equals its average power over its throughput, or, for a
  window whose energy per image comes from the whole window, its energy over its images with that energy equal
  to its average power times its duration (within :data:`REL_TOL`);
* counter against sampled energy: a row's energy is the energy of the method it names (the counter's, or the
  power samples'); how far the two disagree is reported, not refused, since the samples miss short peaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from joulebench.store.records import config_hash

if TYPE_CHECKING:
    from joulebench.store.bundle import Tables

#: Relative tolerance of the energy identities (exact in stored rows; room for a rounded export).
REL_TOL = 0.02
#: Counter and sampled energy further apart than this are reported as a warning.
SAMPLED_WARN_REL = 0.25
#: Run fields that provenance must fill.
RUN_REQUIRED = ("started_at", "meter", "provenance", "config_hash")


def _close(a: float, b: float, tol: float = REL_TOL) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


def _where(table: str, row: Mapping[str, Any]) -> str:
    if table == "runs":
        return f"run {row.get('run_id')}"
    batch = f" batch {row['batch_size']}" if row.get("batch_size") is not None else ""
    what = row.get("model") or row.get("label") or "?"
    return f"{table} row {what}@{row.get('img_size')} {row.get('runtime') or ''}{batch} of run {row.get('run_id')}"


def provenance_errors(tables: Tables, known_runs: Iterable[str] = ()) -> list[str]:
    """Rows whose run is neither in the bundle nor in the store, and runs with incomplete provenance."""
    runs = {r["run_id"]: r for r in tables.rows.get("runs", [])}
    errors = []
    for run in runs.values():
        missing = [c for c in RUN_REQUIRED if not run.get(c)]
        if missing:
            errors.append(f"run {run['run_id']} lacks {', '.join(missing)}")
        elif run.get("config") is not None and config_hash(run["config"]) != run["config_hash"]:
            errors.append(f"run {run['run_id']}: its config does not hash to its config_hash (edited after the run?)")
    available = set(runs) | set(known_runs)
    orphans: dict[str, int] = {}
    for table, rows in tables.rows.items():
        if table == "runs":
            continue
        for row in rows:
            if row.get("run_id") not in available:
                orphans[str(row.get("run_id"))] = orphans.get(str(row.get("run_id")), 0) + 1
    for run_id, n in sorted(orphans.items()):
        errors.append(
            f"{n} row(s) of run {run_id}, whose provenance is missing: include runs.csv (`joulebench export "
            "--table runs`), or write a bundle with `joulebench export --bundle`"
        )
    return errors


def energy_errors(table: str, row: Mapping[str, Any]) -> list[str]:
    """Why a successful row's energy per image disagrees with its power, throughput or window energy."""
    if row.get("status") != "ok":
        return []
    epi, power, thr = row.get("energy_per_image_j"), row.get("avg_power_w"), row.get("throughput_ips")
    if epi is None or power is None or not thr:
        return []
    if _close(epi, power / thr):
        return []
    energy, images, duration = row.get("energy_j"), row.get("images"), row.get("duration_s")
    if energy is not None and images and duration and _close(epi, energy / images) and _close(energy, power * duration):
        return []  # energy per image over the whole window (the counter span was unusable), consistently
    return [
        f"{_where(table, row)}: energy per image {epi:.6g} J is not average power / throughput "
        f"({power:.6g} W / {thr:.6g} img/s = {power / thr:.6g} J)"
    ]


def meter_errors(table: str, row: Mapping[str, Any]) -> tuple[list[str], float | None]:
    """(errors, relative counter-sampled gap) of a row with both a counter and a sampled energy."""
    energy, counter, sampled = row.get("energy_j"), row.get("counter_energy_j"), row.get("sampled_energy_j")
    named = {"counter": counter, "sampled": sampled}.get(row.get("method") or "")
    errors = []
    if energy is not None and named is not None and not _close(energy, named):
        errors.append(
            f"{_where(table, row)}: its energy {energy:.6g} J is not the {row['method']} energy {named:.6g} J it names"
        )
    gap = abs(counter - sampled) / max(abs(counter), 1e-300) if counter and sampled is not None else None
    return errors, gap


def check_tables(tables: Tables, known_runs: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """All checks of a bundle or export.

    Args:
        tables: What :func:`joulebench.store.bundle.read_tables` read.
        known_runs: Run ids the importing store already holds (their provenance is there).

    Returns:
        (errors that refuse the import, warnings to show).
    """
    errors = provenance_errors(tables, known_runs)
    gaps: list[float] = []
    for table in ("summaries", "measurements", "windows"):
        for row in tables.rows.get(table, []):
            errors += energy_errors(table, row)
            errs, gap = meter_errors(table, row)
            errors += errs
            if gap is not None:
                gaps.append(gap)
    warnings = []
    wide = [g for g in gaps if g > SAMPLED_WARN_REL]
    if wide:
        warnings.append(
            f"{len(wide)} of {len(gaps)} windows' sampled energy differs from the counter's by more than "
            f"{SAMPLED_WARN_REL:.0%} (at most {max(wide):.0%}): power samples miss short peaks; the counter's is used"
        )
    return errors, warnings


__all__ = ["REL_TOL", "check_tables", "energy_errors", "meter_errors", "provenance_errors"]

"""Options and parsers that several commands share: the results file, output mode, setups, counts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer

from joulebench.errors import ConfigError

DB_ENV = "JOULEBENCH_DB"
DEFAULT_DB = Path("joulebench.db")

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
DbOpt = typer.Option(None, "--db", help=f"SQLite results file (default: ${DB_ENV} or ./joulebench.db).")
SetupOpt = typer.Option(..., "--setup", "-s", help="Setup GPU:runtime, e.g. A100:torch-fp32 (see `joulebench data`).")
IntensityOpt = typer.Option(None, "--intensity", min=0.0, help="Grid carbon intensity in g CO2e/kWh, e.g. 400.")
PriceOpt = typer.Option(None, "--price", min=0.0, help="Electricity price per kWh, e.g. 0.30.")
CurrencyOpt = typer.Option("", "--currency", help="Currency label of --price, e.g. EUR.")
IncludeTestOpt = typer.Option(False, "--include-test-models", help="Keep timm's untrained test_* models.")
DropSuspectOpt = typer.Option(
    False,
    "--drop-suspect",
    help="Leave out this setup's readings that fail a consistency check (see `joulebench consistency`).",
)
WideOpt = typer.Option(False, "--wide", help="Show every column, however narrow the terminal.")
TestsetsOpt = typer.Option(["imagenet"], "--testset", "-t", help="Test set(s); several are averaged.")

# The filters that ``results`` and ``export`` share.
ModelFilterOpt = typer.Option(
    None, "--model", "-m", help="Only models matching this glob (`resnet*`); a bare architecture also matches its tags."
)
RuntimeFilterOpt = typer.Option(None, "--runtime", "-r", help="Only this runtime (torch-fp32, tensorrt-fp16, ...).")
GpuFilterOpt = typer.Option(None, "--gpu", help="Only GPUs whose name contains this (case-insensitive), e.g. H100.")
MeterFilterOpt = typer.Option(None, "--meter", help="Only results of this meter (nvml, smi, sim, rapl).")
StatusFilterOpt = typer.Option(None, "--status", help="Only rows with this status (ok, failed, oom, error).")
RunFilterOpt = typer.Option(None, "--run", help="Only this run id.")
MinChangeOpt = typer.Option(
    None,
    "--min-change",
    help="With `results --stale` or `measure --redo-stale`: only the results expected to read at least this much lower"
    " at the batch the current search would scout next, e.g. 0.5%. Measured again on another board, a result also"
    " moves by that board's own difference, which can exceed a small expected change.",
)

_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([kKmMgGbBtT]?)\s*$")
_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}


def db_path(db: Path | None) -> Path:
    """Resolve the results database: ``--db``, then ``$JOULEBENCH_DB``, then ``./joulebench.db``."""
    if db is not None:
        return Path(db)
    env = os.environ.get(DB_ENV)
    return Path(env) if env else DEFAULT_DB


def results_file(db: Path | None) -> Path | None:
    """The results file that commands reading the dataset merge, resolved the same way for every command.

    ``--db`` must exist; otherwise ``$JOULEBENCH_DB``, else ``./joulebench.db``, joins when it exists (a
    default that is absent means "no own measurements yet", not an error).

    Raises:
        ConfigError: ``--db`` names a file that does not exist.
    """
    path = db_path(db)
    if path.exists():
        return path
    if db is not None:
        raise ConfigError(f"results file '{db}' does not exist: check --db, or run `joulebench measure` first")
    return None


def writable_file(path: Path, flag: str, make_folder: bool = False) -> Path:
    """Check that ``path`` can be written, before any work is done; ``-`` (standard output) passes.

    Args:
        path: The output file.
        flag: The option that named it, for the message.
        make_folder: Create a missing folder (as the writer would) instead of refusing it.

    Raises:
        ConfigError: The path is a folder, its folder does not exist, or it cannot be written.
    """
    p = Path(path)
    if str(path) == "-":
        return p
    if p.is_dir():
        raise ConfigError(f"{flag} {path} is a folder: name a file in it, e.g. {p / 'out'}")
    folder = p.parent
    if not folder.is_dir():
        if not make_folder:
            raise ConfigError(f"{flag} {path}: the folder '{folder}' does not exist; create it first or choose another")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"{flag} {path}: cannot create the folder '{folder}' ({e.strerror})") from None
    existed = p.exists()
    try:  # the only sure test is to open it: permissions, read-only mounts and /proc all answer here
        with open(p, "a"):
            pass
    except OSError as e:
        raise ConfigError(f"{flag} {path}: cannot write there ({e.strerror}); choose another file") from None
    if not existed:
        p.unlink()
    return p


def non_negative(value: float | None, flag: str) -> float | None:
    """``value`` unless it is negative (None passes).

    Raises:
        ConfigError: The value is negative.
    """
    if value is not None and value < 0:
        raise ConfigError(f"{flag} cannot be negative (got {value:g})")
    return value


def parse_max_energy(text: str | None) -> float | None:
    """``--max-energy`` in joules; the text must name its unit (20mJ, 0.02J), so no command guesses one.

    Raises:
        ConfigError: No unit, not an energy, or negative.
    """
    from joulebench.units import parse_energy_j

    if text is None:
        return None
    if re.fullmatch(r"\s*[-+]?[0-9.eE+-]+\s*", str(text)):
        raise ConfigError(f"--max-energy {text}: name the unit, e.g. {text}mJ or {text}J")
    value = parse_energy_j(text)
    if value < 0:
        raise ConfigError(f"--max-energy cannot be negative (got {text})")
    return value


def timm_knows(name: str) -> bool:
    """Whether timm builds ``name``: an architecture, or one of its pretrained tags, as ``measure`` accepts it."""
    try:
        import timm
    except ImportError:
        return False
    if not timm.is_model(name):
        return False
    return "." not in name or name in timm.list_pretrained(name)  # is_model ignores the tag


def parse_count(text: str | float) -> float:
    """Parse '50M', '1.5B', '300k' or '25000000' into a plain number.

    Raises:
        ConfigError: The text is not a count.
    """
    if isinstance(text, (int, float)):
        return float(text)
    m = _COUNT.match(str(text))
    if not m:
        hint = " (counts cannot be negative)" if str(text).strip().startswith("-") else ""
        raise ConfigError(f"cannot read the count '{text}': write e.g. 50M, 1.5B or 300k{hint}")
    return float(m.group(1)) * _COUNT_UNITS[m.group(2).lower()]


def parse_accuracy(text: str | float) -> float:
    """Parse '80' or '80%' into accuracy points (80.0).

    Raises:
        ConfigError: The text is not a percentage in 0-100.
    """
    s = str(text).strip().rstrip("%")
    try:
        v = float(s)
    except ValueError:
        raise ConfigError(f"cannot read the accuracy '{text}': write a percentage such as 80") from None
    if not 0 <= v <= 100:
        raise ConfigError(f"accuracy {text} is outside 0-100 (write percent, e.g. 80 for 80%)")
    return v


def parse_min_change(text: str | None, needs: str, given: bool) -> float:
    """``--min-change`` as a fraction (0 when not given), refused without the flag it refines.

    Args:
        text: The option's text, e.g. ``0.5%``, or None.
        needs: The flag it refines (``--stale`` or ``--redo-stale``), named in the error.
        given: Whether that flag was given.

    Raises:
        ConfigError: Given without ``needs``, or not a percentage from 0 up to 100.
    """
    from joulebench.units import parse_percent

    if text is None:
        return 0.0
    if not given:
        raise ConfigError(f"--min-change picks among the stale results: add {needs}")
    change = parse_percent(text)
    if not 0.0 <= change < 1.0:
        raise ConfigError(f"--min-change {text}: give a percentage from 0 up to 100, e.g. 0.5%")
    return change

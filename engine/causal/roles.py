"""Which column of an upload is what: the naming convention, or the roles the user states.

By default a column's name says its role (``date``, ``geo``, ``spend_<channel>``,
``attributed_<channel>``, ``revenue``/``conversions``, anything else a numeric control). A
file straight from a spreadsheet rarely looks like that (``date,facebook,google,revenue``),
so an upload may also say which of its columns is what with :class:`ColumnRoles`, as Robyn,
Meridian and PyMC-Marketing let the analyst name the media columns. :func:`resolve_columns`
turns a header and the roles into a :class:`ColumnLayout`: the user's columns renamed to the
canonical names, so what is validated and stored is canonical either way, and the way back, so
that every error still names the user's own column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from engine.causal.columns import (
    ATTRIBUTED_PREFIX,
    CHANNEL_NAME,
    KPI_COLUMNS,
    SPEND_PREFIX,
)
from engine.causal.data import DataError
from engine.causal.tables import MAX_COLUMNS

Kpi = Literal["revenue", "conversions"]
Kind = Literal["date", "geo", "kpi", "spend", "attributed"]

MAX_NAME = 200  # characters of one column name in a role
_LISTED = 30  # column names quoted in a "found: ..." list
_NOT_CHANNEL = re.compile(r"[^a-z0-9_]+")

# The role each kind of canonical name belongs to, and how messages call it.
_ROLE_FIELD: Mapping[Kind, str] = MappingProxyType(
    {
        "date": "date_column",
        "geo": "geo_column",
        "kpi": "kpi_column",
        "spend": "spend_columns",
        "attributed": "attributed_columns",
    }
)
_LABEL: Mapping[Kind, str] = MappingProxyType(
    {
        "date": "date",
        "geo": "geo",
        "kpi": "KPI",
        "spend": "spend",
        "attributed": "platform-attributed",
    }
)


@dataclass(frozen=True)
class ColumnRoles:
    """Which of an upload's columns is what. A role left ``None`` follows the naming convention.

    - ``date_column``: the period dates (``None``: the column ``date``).
    - ``geo_column``: the region of each row (``None``: the column ``geo`` if there is one, else
      the dataset is national).
    - ``kpi_column``: the KPI, stored as ``kpi`` (``None``: the ``revenue`` and/or
      ``conversions`` columns; ``kpi`` then has no use).
    - ``spend_columns``: channel name -> column, every media channel of the dataset (``None``:
      the ``spend_<channel>`` columns). Channel names are 1-40 characters of ``a-z0-9_``;
      :func:`channels_from_columns` derives them from a plain list of columns.
    - ``attributed_columns``: channel -> column of the value that channel's platform claims;
      every channel must be a spend channel (``None``: the ``attributed_<channel>`` columns).
    - ``control_columns``: exactly the controls, which must be numeric. ``None``: every column
      without another role is a control, so each of them has to be numeric (a text column is
      refused, naming it); with a list, a column without a role is left out of the dataset,
      numeric or not, and listed in ``CanonicalDataset.ignored_columns``.

    When a role is given, it is the whole role: a column named like it by the convention
    (``spend_tv`` next to ``spend_columns``) but not listed is refused, or left out when
    ``control_columns`` is given. Any mistake in the roles themselves is a
    :class:`~engine.causal.data.DataError` whose field names the role (``spend_columns``, ...).
    """

    date_column: str | None = None
    geo_column: str | None = None
    kpi_column: str | None = None
    kpi: Kpi = "revenue"
    spend_columns: Mapping[str, str] | None = None
    attributed_columns: Mapping[str, str] | None = None
    control_columns: Sequence[str] | None = None

    def __post_init__(self) -> None:
        for name in ("date_column", "geo_column", "kpi_column"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _column_name(value, name))
        if self.kpi not in KPI_COLUMNS:
            raise DataError("kpi", f"must be 'revenue' or 'conversions', got {self.kpi!r}")
        spend = _channel_map(self.spend_columns, "spend_columns")
        attributed = _channel_map(self.attributed_columns, "attributed_columns")
        if spend is not None:
            object.__setattr__(self, "spend_columns", MappingProxyType(spend))
            if attributed is not None:
                for channel in attributed:
                    if channel not in spend:
                        raise DataError(
                            "attributed_columns",
                            f"channel {channel!r} has no spend column: attributed channels must "
                            f"be among the spend_columns channels ({', '.join(spend)})",
                        )
        if attributed is not None:
            object.__setattr__(self, "attributed_columns", MappingProxyType(attributed))
        if self.control_columns is not None:
            object.__setattr__(self, "control_columns", _control_list(self.control_columns))
        self._check_one_role_per_column()

    def _check_one_role_per_column(self) -> None:
        roles: dict[str, str] = {}

        def take(column: str | None, role: str, field_name: str) -> None:
            if column is None:
                return
            if column in roles:
                raise DataError(
                    field_name, f"{column!r} is already the {roles[column]}; a column has one role"
                )
            roles[column] = role

        take(self.date_column, "date column (date_column)", "date_column")
        take(self.geo_column, "geo column (geo_column)", "geo_column")
        take(self.kpi_column, "KPI column (kpi_column)", "kpi_column")
        for channel, column in (self.spend_columns or {}).items():
            take(column, f"spend column of {channel!r} (spend_columns)", "spend_columns")
        for channel, column in (self.attributed_columns or {}).items():
            take(
                column,
                f"attributed column of {channel!r} (attributed_columns)",
                "attributed_columns",
            )
        for column in self.control_columns or ():
            take(column, "a control (control_columns)", "control_columns")

    def given(self, kind: Kind) -> bool:
        """Whether the role of ``kind`` is stated (else the naming convention applies)."""
        return getattr(self, _ROLE_FIELD[kind]) is not None


def channels_from_columns(columns: Sequence[str], field: str = "spend_columns") -> dict[str, str]:
    """Channel name -> column for a plain list of columns: the name lowercased, every run of
    characters other than ``a-z0-9_`` replaced by ``_`` and ``_`` trimmed from both ends
    (``"FB Spend"`` -> ``fb_spend``). A name that is not 1-40 such characters, or two columns
    giving the same name, is a DataError naming ``field``; a mapping says what to send instead.
    """
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise DataError(field, f"must be a list of column names, got {type(columns).__name__}")
    if not columns:
        raise DataError(field, "name at least one column")
    if len(columns) > MAX_COLUMNS:
        raise DataError(field, f"{len(columns)} columns; at most {MAX_COLUMNS}")
    channels: dict[str, str] = {}
    for raw in columns:
        column = _column_name(raw, field)
        channel = channel_name(column)
        if not CHANNEL_NAME.fullmatch(channel):
            example = json.dumps({"my_channel": column})
            raise DataError(
                field,
                f"{column!r} gives the channel name {channel!r}, which is not 1-40 characters of "
                f"a-z, 0-9 and _; send a mapping channel -> column instead, e.g. {example}",
            )
        if channel in channels:
            raise DataError(
                field,
                f"{channels[channel]!r} and {column!r} both become channel {channel!r}; send a "
                "mapping channel -> column to name them apart",
            )
        channels[channel] = column
    return channels


def channel_name(column: str) -> str:
    """The channel name :func:`channels_from_columns` derives from a column (maybe invalid)."""
    return _NOT_CHANNEL.sub("_", column.strip().lower()).strip("_")


@dataclass(frozen=True, eq=False)
class ColumnLayout:
    """What each column of an upload is, in canonical names, and the way back to the user's.

    ``rename`` maps every kept user column to its canonical name; ``ignored`` are the user's
    columns left out (only with ``control_columns``). ``controls_by_default`` says the controls
    are "every other column", which messages then explain.
    """

    rename: Mapping[str, str]
    channels: tuple[str, ...]
    kpis: tuple[str, ...]
    attributed: tuple[str, ...]
    controls: tuple[str, ...]
    has_geo: bool
    ignored: tuple[str, ...] = ()
    controls_by_default: bool = True

    @property
    def source(self) -> dict[str, str]:
        """Canonical name -> the user's column, in the canonical frame's column order."""
        back = {canonical: column for column, canonical in self.rename.items()}
        return {name: back[name] for name in (*self.keys, *self.numeric_columns)}

    @property
    def keys(self) -> tuple[str, ...]:
        return ("geo", "date") if self.has_geo else ("date",)

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        return (
            tuple(f"{SPEND_PREFIX}{c}" for c in self.channels)
            + self.kpis
            + tuple(f"{ATTRIBUTED_PREFIX}{c}" for c in self.attributed)
            + self.controls
        )

    def restate(self, error: DataError) -> DataError:
        """``error`` about a canonical column, restated to name the user's column."""
        column = self.source.get(error.field, error.field)
        if column == error.field:
            return error
        return DataError(column, str(error).removeprefix(f"{error.field}: "))


def resolve_columns(columns: Sequence[str], roles: ColumnRoles | None = None) -> ColumnLayout:
    """The layout of an upload whose (trimmed, unique) header is ``columns``.

    Stated roles are applied first; every other column follows the naming convention for the
    roles not stated, and is otherwise a control (or, with ``control_columns``, left out).
    """
    roles = roles or ColumnRoles()
    found = _listing(columns)
    rename: dict[str, str] = {}

    def claim(column: str, canonical: str, role_field: str) -> None:
        if column not in columns:
            raise DataError(role_field, f"{column!r} is not a column of the file (found: {found})")
        rename[column] = canonical

    if roles.date_column is not None:
        claim(roles.date_column, "date", "date_column")
    if roles.geo_column is not None:
        claim(roles.geo_column, "geo", "geo_column")
    if roles.kpi_column is not None:
        claim(roles.kpi_column, roles.kpi, "kpi_column")
    for channel, column in (roles.spend_columns or {}).items():
        claim(column, f"{SPEND_PREFIX}{channel}", "spend_columns")
    for channel, column in (roles.attributed_columns or {}).items():
        claim(column, f"{ATTRIBUTED_PREFIX}{channel}", "attributed_columns")
    for column in roles.control_columns or ():
        kind = _kind(column)
        if kind is not None:
            raise DataError(
                "control_columns",
                f"{column!r} is named like a {_LABEL[kind]} column, which a control cannot be "
                "stored as: rename it",
            )
        claim(column, column, "control_columns")

    ignored: list[str] = []
    defaulted: list[str] = []
    by_convention: list[str] = []  # in header order
    for column in columns:
        if column in rename:
            continue
        kind = _kind(column)
        if kind is None:
            (defaulted if roles.control_columns is None else ignored).append(column)
        elif not roles.given(kind):
            by_convention.append(column)
        elif roles.control_columns is not None:
            ignored.append(column)
        else:
            role_field = _ROLE_FIELD[kind]
            add = f"add it to {role_field}, " if kind in ("spend", "attributed") else ""
            raise DataError(
                column,
                f"is named like a {_LABEL[kind]} column but {role_field} does not name it: "
                f"{add}rename it, or list the controls in control_columns to leave it out",
            )
    explicit_attributed = set((roles.attributed_columns or {}).values())
    rename.update(_convention_names(by_convention, rename))

    canonical = set(rename.values())
    if "date" not in canonical:
        raise DataError(
            "date",
            f"there is no 'date' column (found: {found}); name the column of period dates "
            "'date', or send date_column=<its name>",
        )
    channels = [c.removeprefix(SPEND_PREFIX) for c in rename.values() if c.startswith(SPEND_PREFIX)]
    if not channels:
        raise DataError("spend", _no_spend_message(columns, defaulted))
    attributed: list[str] = []
    for column, name in rename.items():
        if not name.startswith(ATTRIBUTED_PREFIX):
            continue
        channel = name.removeprefix(ATTRIBUTED_PREFIX)
        if channel not in channels:
            if column in explicit_attributed:
                raise DataError(
                    "attributed_columns",
                    f"channel {channel!r} has no spend column: attributed channels must be "
                    f"among the spend channels ({', '.join(channels)})",
                )
            if roles.spend_columns is not None:
                raise DataError(
                    column,
                    f"has no matching spend column: {channel!r} is not one of the spend_columns "
                    f"channels ({', '.join(channels)})",
                )
            raise DataError(column, f"has no matching {SPEND_PREFIX}{channel} column")
        attributed.append(channel)
    kpis = tuple(k for k in KPI_COLUMNS if k in canonical)
    if not kpis:
        raise DataError(
            "kpi",
            f"no KPI column: add 'revenue' and/or 'conversions' (found: {found}), or send "
            "kpi_column=<its name>",
        )
    if roles.control_columns is not None:
        controls = tuple(roles.control_columns)
    else:
        controls = tuple(defaulted)
        rename.update({column: column for column in defaulted})
    return ColumnLayout(
        rename=MappingProxyType(rename),
        channels=tuple(channels),
        kpis=kpis,
        attributed=tuple(attributed),
        controls=controls,
        has_geo="geo" in canonical,
        ignored=tuple(ignored),
        controls_by_default=roles.control_columns is None,
    )


def _kind(column: str) -> Kind | None:
    """The role a name has by the convention, case ignored (so that ``Revenue`` is caught)."""
    lowered = column.lower()
    if lowered == "date":
        return "date"
    if lowered == "geo":
        return "geo"
    if lowered in KPI_COLUMNS:
        return "kpi"
    if lowered == "spend" or lowered.startswith(SPEND_PREFIX):
        return "spend"
    if lowered == "attributed" or lowered.startswith(ATTRIBUTED_PREFIX):
        return "attributed"
    return None


def _convention_names(columns: Sequence[str], claimed: Mapping[str, str]) -> dict[str, str]:
    """Each column named by the convention -> its canonical name.

    Spreadsheet exports write ``Date``, ``Revenue`` and ``Spend_Facebook Ads``: case and the
    channel's spelling are normalised (the channel as :func:`channel_name` derives it), and two
    columns that would become one canonical name are refused rather than one silently dropped.
    """
    owners = {canonical: column for column, canonical in claimed.items()}
    names: dict[str, str] = {}
    for column in columns:
        canonical = _convention_name(column)
        other = owners.get(canonical)
        if other is not None:
            raise DataError(
                column,
                f"both {other!r} and {column!r} would be the column {canonical!r}: "
                "rename or drop one of them",
            )
        owners[canonical] = column
        names[column] = canonical
    return names


def _convention_name(column: str) -> str:
    lowered = column.lower()
    if lowered in ("spend", "attributed"):
        raise DataError(column, f"name the channel: {lowered}_<channel>, e.g. {lowered}_search")
    for prefix in (SPEND_PREFIX, ATTRIBUTED_PREFIX):
        if lowered.startswith(prefix):
            spelled = column[len(prefix) :]
            channel = channel_name(spelled)
            if not CHANNEL_NAME.fullmatch(channel):
                raise DataError(
                    column,
                    f"channel name {spelled!r} must give 1-40 characters of a-z, 0-9 and _ "
                    "(spaces and dashes become _)",
                )
            return f"{prefix}{channel}"
    return lowered


def _no_spend_message(columns: Sequence[str], candidates: Sequence[str]) -> str:
    """Both ways to name the spend columns, with an example made of this file's columns."""
    problem = f"no spend_<channel> column (found: {_listing(columns)})"
    if not candidates:
        return (
            f"{problem}; add each channel's media spend as a column named spend_<channel> "
            "(e.g. spend_tv), or name your spend columns with spend_columns"
        )
    shown = list(candidates[:3])
    example = shown[0]
    channel = channel_name(example)
    channel = channel if CHANNEL_NAME.fullmatch(channel) else "my_channel"
    as_list = ",".join(shown) if all("," not in c for c in shown) else json.dumps(shown)
    return (
        f"{problem}. Say which columns are media spend, either way: rename them "
        f"spend_<channel> (e.g. {example!r} -> 'spend_{channel}'), or send "
        f"spend_columns={as_list} (channels named after the columns) or "
        f"spend_columns={json.dumps({channel: example})} (channel -> column)"
    )


def _listing(columns: Sequence[str]) -> str:
    if len(columns) <= _LISTED:
        return ", ".join(columns)
    return f"{', '.join(columns[:_LISTED])}, ... ({len(columns) - _LISTED} more)"


def _column_name(value: object, field_name: str) -> str:
    if not isinstance(value, str):
        raise DataError(field_name, f"column names are text, got {type(value).__name__}")
    name = value.strip()
    if not name:
        raise DataError(field_name, "a column name is empty")
    if len(name) > MAX_NAME:
        raise DataError(field_name, f"a column name is longer than {MAX_NAME} characters")
    return name


def _channel_map(value: object, field_name: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        hint = " (channels_from_columns turns a list into one)" if "spend" in field_name else ""
        raise DataError(
            field_name, f"must be a mapping channel -> column, got {type(value).__name__}{hint}"
        )
    if not value:
        raise DataError(field_name, "name at least one channel")
    if len(value) > MAX_COLUMNS:
        raise DataError(field_name, f"{len(value)} channels; at most {MAX_COLUMNS}")
    channels: dict[str, str] = {}
    for channel, column in value.items():
        if not isinstance(channel, str) or not CHANNEL_NAME.fullmatch(channel):
            raise DataError(
                field_name, f"channel name {channel!r} must be 1-40 characters of a-z, 0-9 and _"
            )
        channels[channel] = _column_name(column, field_name)
    return channels


def _control_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise DataError("control_columns", f"must be a list of columns, got {type(value).__name__}")
    if len(value) > MAX_COLUMNS:
        raise DataError("control_columns", f"{len(value)} columns; at most {MAX_COLUMNS}")
    controls = tuple(_column_name(column, "control_columns") for column in value)
    for index, column in enumerate(controls):
        if column in controls[:index]:
            raise DataError("control_columns", f"{column!r} is listed twice")
    return controls

"""What an organizer submits: a venue layout and an event, checked before anything is stored.

The parsers take decoded JSON (from an HTTP body or a file) and either return frozen specs or
raise `InvalidInput` whose message, and `field` detail, names the offending field by its path,
e.g. `sections[1].rows[0].category`. Datetimes leave here as naive UTC, which is how MariaDB's
DATETIME columns store them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidInput
from domain.geometry import SectionGeometry, Stage
from domain.text import is_blank

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

T = TypeVar("T")

MAX_SEATS: Final = 100_000
MAX_SEAT_NUMBER: Final = 100_000
MAX_PRICE_MINOR: Final = 10**9
MAX_SEATS_PER_BUYER: Final = 50
# Plans are in metres: a stadium fits well inside; the bounds keep drawing and distances sane.
MAX_COORDINATE: Final = 10_000.0
MIN_SPACING: Final = 0.1
MAX_SPACING: Final = 10.0
DEFAULT_MAX_SEATS_PER_BUYER: Final = 6
# An organizer's seat ranks (domain/seat_ranking.py): 1 is the best; more tiers than this are
# never needed, and the column is an INT.
MAX_RANK: Final = 1000

# Column widths in 0001_initial.sql; checking them here gives a clear 422 instead of a
# truncation error from MariaDB.
_VENUE_NAME_MAX: Final = 200
_EVENT_NAME_MAX: Final = 200
_CATEGORY_CODE_MAX: Final = 32
_CATEGORY_NAME_MAX: Final = 100
_SECTION_NAME_MAX: Final = 32
_ROW_LABEL_MAX: Final = 16
TIME_ZONE_MAX: Final = 64  # 0006_event_time_zone.sql
DEFAULT_TIME_ZONE: Final = "UTC"
# Letters, digits and the punctuation of zone names; no path tricks reach the zone database.
_TIME_ZONE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")
_TIME_ZONE_HINT: Final = (
    "'time_zone' is {name!r}, which is not a known IANA time zone such as 'Europe/Amsterdam'"
)

_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_EVENT_FIELDS: Final = frozenset(
    {
        "venue_id",
        "name",
        "starts_at",
        "sale_starts_at",
        "sale_ends_at",
        "currency",
        "max_seats_per_buyer",
        "prices",
        "no_single_gaps",
        "time_zone",
    }
)


@dataclass(frozen=True, slots=True)
class CategorySpec:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class RowSpec:
    label: str
    numbers: tuple[int, ...]
    category: str
    # The organizer's override of the seat order (domain/seat_ranking.py): the row's rank, and
    # (seat number, rank) pairs for seats ranked apart from their row. None and () by default:
    # then distance from the stage alone decides.
    rank: int | None = None
    seat_ranks: tuple[tuple[int, int], ...] = ()

    def rank_of(self, number: int) -> int | None:
        for seat, rank in self.seat_ranks:
            if seat == number:
                return rank
        return self.rank


@dataclass(frozen=True, slots=True)
class SectionSpec:
    name: str
    rows: tuple[RowSpec, ...]
    geometry: SectionGeometry | None = None  # None: placed by the default arrangement


@dataclass(frozen=True, slots=True)
class SeatPosition:
    section: str
    row: str
    number: int
    category: str
    rank: int | None = None


@dataclass(frozen=True, slots=True)
class VenueLayout:
    name: str
    categories: tuple[CategorySpec, ...]
    sections: tuple[SectionSpec, ...]
    stage: Stage | None = None

    @property
    def seat_count(self) -> int:
        return sum(len(row.numbers) for section in self.sections for row in section.rows)

    def seats(self) -> Iterator[SeatPosition]:
        """Every seat in layout order: section by section, row by row, as numbered."""
        for section in self.sections:
            for row in section.rows:
                for number in row.numbers:
                    yield SeatPosition(
                        section.name, row.label, number, row.category, row.rank_of(number)
                    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSpec:
    venue_id: int
    name: str
    starts_at: datetime
    sale_starts_at: datetime
    sale_ends_at: datetime
    currency: str
    max_seats_per_buyer: int = DEFAULT_MAX_SEATS_PER_BUYER
    prices: Mapping[str, int]
    # Refuse holds that strand a single free seat (engine/seat_index.py); off unless asked.
    no_single_gaps: bool = False
    # Where the event happens, as an IANA name: its times are shown in this zone.
    time_zone: str = DEFAULT_TIME_ZONE


def parse_venue_layout(obj: Any) -> VenueLayout:
    """A venue from `{"name", "categories": [{"code", "name"}], "sections": [...]}`.

    A section lists its rows, `{"name", "rows": [{"label", "seats", "category", "rank"?,
    "seat_ranks"?}]}`, where `seats` is a count (numbered 1..n) or a list of seat numbers for
    rows with gaps, and the optional ranks override the seat order of best-available holds
    (`rank` for the row, `seat_ranks` as `{"seat number": rank}`; 1 is best, see
    domain/seat_ranking.py); or it uses
    the compact form `{"name", "rows": 10, "seats": 20, "category": "A"}`: rows labelled 1..10,
    each with seats 1..20, all in one category.

    Geometry (see domain/geometry.py) is optional: `"stage": {"x", "y", "width", "depth"}` and,
    per section, `"geometry": {"x", "y", "rotation"?, "row_spacing"?, "seat_spacing"?,
    "curve"?}`, in metres. Either every section has geometry, and then the stage is required,
    or none has and the sections are arranged side by side facing the stage.
    """
    body = _object(obj, "venue")
    _only(body, "", {"name", "categories", "sections", "stage"})
    name = _text(body, "name", "name", _VENUE_NAME_MAX)
    categories = tuple(
        _category(item, f"categories[{index}]")
        for index, item in enumerate(_items(body, "categories", "categories"))
    )
    _unique([category.code for category in categories], "categories", "code")
    codes = {category.code for category in categories}
    budget = _SeatBudget()
    sections = tuple(
        _section(item, f"sections[{index}]", codes, budget)
        for index, item in enumerate(_items(body, "sections", "sections"))
    )
    _unique([section.name for section in sections], "sections", "name")
    stage = _stage(body["stage"]) if body.get("stage") is not None else None
    placed = [section.geometry is not None for section in sections]
    if any(placed) and not all(placed):
        missing = placed.index(False)
        raise InvalidInput(
            f"'sections[{missing}].geometry' is required: give every section geometry or none",
            field=f"sections[{missing}].geometry",
        )
    if all(placed) and stage is None:
        raise InvalidInput("'stage' is required when the sections have geometry", field="stage")
    return VenueLayout(name, categories, sections, stage)


def parse_geometry(obj: Any) -> tuple[Stage | None, dict[str, SectionGeometry]]:
    """Geometry as `geometry_document` stores it: the stage and each section's, by name."""
    body = _object(obj, "geometry")
    stage = _stage(body["stage"]) if body.get("stage") is not None else None
    sections = _object(body.get("sections", {}), "geometry.sections")
    return stage, {
        str(name): _section_geometry(item, f"sections.{name}.geometry")
        for name, item in sections.items()
    }


def geometry_document(layout: VenueLayout) -> dict[str, Any] | None:
    """What a venue stores of its geometry (None for none), in the input's own field names so
    `parse_geometry` reads it back with the same checks."""
    if layout.stage is None and all(section.geometry is None for section in layout.sections):
        return None
    stage = layout.stage
    return {
        "stage": None
        if stage is None
        else {"x": stage.x, "y": stage.y, "width": stage.width, "depth": stage.depth},
        "sections": {
            section.name: {
                key: value
                for key, value in (
                    ("x", section.geometry.x),
                    ("y", section.geometry.y),
                    ("rotation", section.geometry.rotation),
                    ("row_spacing", section.geometry.row_spacing),
                    ("seat_spacing", section.geometry.seat_spacing),
                    ("curve", section.geometry.curve),
                )
                if value is not None
            }
            for section in layout.sections
            if section.geometry is not None
        },
    }


def parse_event_spec(obj: Any) -> EventSpec:
    """An event from `{"venue_id", "name", "starts_at", "sale_starts_at", "sale_ends_at",
    "currency", "max_seats_per_buyer"?, "prices": {category_code: amount_minor},
    "no_single_gaps"?, "time_zone"?}` (an IANA name such as "Europe/Amsterdam"; UTC when
    left out)."""
    body = _object(obj, "event")
    _only(body, "", _EVENT_FIELDS)
    venue_id = _integer(body.get("venue_id"), "venue_id", 1, 2**63 - 1)
    name = _text(body, "name", "name", _EVENT_NAME_MAX)
    starts_at = _datetime(body, "starts_at")
    sale_starts_at = _datetime(body, "sale_starts_at")
    sale_ends_at = _datetime(body, "sale_ends_at")
    if sale_ends_at <= sale_starts_at:
        raise InvalidInput("'sale_ends_at' must be after 'sale_starts_at'", field="sale_ends_at")
    if sale_ends_at > starts_at:
        raise InvalidInput("'sale_ends_at' must not be after 'starts_at'", field="sale_ends_at")
    currency = _typed(body.get("currency"), "currency", str)
    if not _CURRENCY.fullmatch(currency):
        raise InvalidInput(
            "'currency' must be an ISO 4217 code: three upper-case letters", field="currency"
        )
    max_seats = DEFAULT_MAX_SEATS_PER_BUYER
    if body.get("max_seats_per_buyer") is not None:
        max_seats = _integer(
            body["max_seats_per_buyer"], "max_seats_per_buyer", 1, MAX_SEATS_PER_BUYER
        )
    prices_obj = _typed(body.get("prices"), "prices", dict)
    if not prices_obj:
        raise InvalidInput("'prices' must name at least one category", field="prices")
    prices = {
        code: _integer(amount, f"prices.{code}", 0, MAX_PRICE_MINOR)
        for code, amount in prices_obj.items()
    }
    no_single_gaps = False
    if body.get("no_single_gaps") is not None:
        no_single_gaps = _typed(body["no_single_gaps"], "no_single_gaps", bool)
    time_zone = DEFAULT_TIME_ZONE
    if body.get("time_zone") is not None:
        time_zone = _time_zone(body["time_zone"])
    return EventSpec(
        venue_id=venue_id,
        name=name,
        starts_at=starts_at,
        sale_starts_at=sale_starts_at,
        sale_ends_at=sale_ends_at,
        currency=currency,
        max_seats_per_buyer=max_seats,
        prices=prices,
        no_single_gaps=no_single_gaps,
        time_zone=time_zone,
    )


def _time_zone(raw: Any) -> str:
    """An IANA time zone name this machine's zone database knows."""
    name = _typed(raw, "time_zone", str)
    if len(name) > TIME_ZONE_MAX or not _TIME_ZONE_NAME.fullmatch(name):
        raise InvalidInput(_TIME_ZONE_HINT.format(name=name), field="time_zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(_TIME_ZONE_HINT.format(name=name), field="time_zone") from None
    return name


def check_prices(prices: Mapping[str, int], category_codes: set[str]) -> None:
    """Every category of the venue has exactly one price, and no price names another."""
    missing = sorted(category_codes - prices.keys())
    if missing:
        raise InvalidInput(
            f"'prices' has no amount for categories {', '.join(missing)}", field="prices"
        )
    unknown = sorted(prices.keys() - category_codes)
    if unknown:
        raise InvalidInput(
            f"'prices' names categories the venue does not have: {', '.join(unknown)}",
            field="prices",
        )


def naive_utc(moment: datetime) -> datetime:
    """An aware datetime as naive UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


class _SeatBudget:
    """Counts seats while parsing, so an oversized layout fails before it is built in memory."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_SEATS

    def take(self, count: int, path: str) -> None:
        if count > self.left:
            raise InvalidInput(
                f"'{path}' takes the venue past {MAX_SEATS} seats, the most a venue can have",
                field=path,
            )
        self.left -= count


def _category(obj: Any, path: str) -> CategorySpec:
    body = _object(obj, path)
    _only(body, path, {"code", "name"})
    return CategorySpec(
        code=_text(body, "code", f"{path}.code", _CATEGORY_CODE_MAX),
        name=_text(body, "name", f"{path}.name", _CATEGORY_NAME_MAX),
    )


def _stage(obj: Any) -> Stage:
    body = _object(obj, "stage")
    _only(body, "stage", {"x", "y", "width", "depth"})
    return Stage(
        x=_coordinate(body, "x", "stage.x"),
        y=_coordinate(body, "y", "stage.y"),
        width=_number(body.get("width"), "stage.width", MIN_SPACING, MAX_COORDINATE),
        depth=_number(body.get("depth"), "stage.depth", MIN_SPACING, MAX_COORDINATE),
    )


def _section_geometry(obj: Any, path: str) -> SectionGeometry:
    body = _object(obj, path)
    _only(body, path, {"x", "y", "rotation", "row_spacing", "seat_spacing", "curve"})
    spacing = {
        key: _number(body[key], f"{path}.{key}", MIN_SPACING, MAX_SPACING)
        for key in ("row_spacing", "seat_spacing")
        if body.get(key) is not None
    }
    return SectionGeometry(
        x=_coordinate(body, "x", f"{path}.x"),
        y=_coordinate(body, "y", f"{path}.y"),
        rotation=None
        if body.get("rotation") is None
        else _number(body["rotation"], f"{path}.rotation", -360.0, 360.0),
        curve=None
        if body.get("curve") is None
        else _number(body["curve"], f"{path}.curve", 1.0, MAX_COORDINATE),
        **spacing,
    )


def _section(obj: Any, path: str, codes: set[str], budget: _SeatBudget) -> SectionSpec:
    body = _object(obj, path)
    name = _text(body, "name", f"{path}.name", _SECTION_NAME_MAX)
    geometry = (
        _section_geometry(body["geometry"], f"{path}.geometry")
        if body.get("geometry") is not None
        else None
    )
    if isinstance(body.get("rows"), list):
        _only(body, path, {"name", "rows", "geometry"})
        rows = tuple(
            _row(item, f"{path}.rows[{index}]", codes, budget)
            for index, item in enumerate(_items(body, "rows", f"{path}.rows"))
        )
        _unique([row.label for row in rows], f"{path}.rows", "label")
        return SectionSpec(name, rows, geometry)
    _only(body, path, {"name", "rows", "seats", "category", "geometry"})
    if not isinstance(body.get("rows"), int) or isinstance(body["rows"], bool):
        raise InvalidInput(
            f"'{path}.rows' must be an array of rows or, in the compact form, a row count",
            field=f"{path}.rows",
        )
    row_count = _integer(body["rows"], f"{path}.rows", 1, MAX_SEATS)
    numbers = _numbers(body.get("seats"), f"{path}.seats")
    budget.take(row_count * len(numbers), path)
    category = _category_code(body.get("category"), f"{path}.category", codes)
    rows = tuple(RowSpec(str(label), numbers, category) for label in range(1, row_count + 1))
    return SectionSpec(name, rows, geometry)


def _row(obj: Any, path: str, codes: set[str], budget: _SeatBudget) -> RowSpec:
    body = _object(obj, path)
    _only(body, path, {"label", "seats", "category", "rank", "seat_ranks"})
    label = _text(body, "label", f"{path}.label", _ROW_LABEL_MAX)
    numbers = _numbers(body.get("seats"), f"{path}.seats")
    budget.take(len(numbers), path)
    category = _category_code(body.get("category"), f"{path}.category", codes)
    rank = None
    if body.get("rank") is not None:
        rank = _integer(body["rank"], f"{path}.rank", 1, MAX_RANK)
    return RowSpec(label, numbers, category, rank, _seat_ranks(body, path, numbers))


def _seat_ranks(
    body: dict[str, Any], path: str, numbers: tuple[int, ...]
) -> tuple[tuple[int, int], ...]:
    """`{"seat number": rank}` for seats of this row, as (number, rank) pairs by number."""
    if body.get("seat_ranks") is None:
        return ()
    ranks = _typed(body["seat_ranks"], f"{path}.seat_ranks", dict)
    known = set(numbers)
    pairs = []
    for key, value in ranks.items():
        where = f"{path}.seat_ranks.{key}"
        number = int(key) if isinstance(key, str) and key.isascii() and key.isdigit() else None
        if number is None or number not in known:
            raise InvalidInput(f"'{where}' names no seat of this row", field=where)
        pairs.append((number, _integer(value, where, 1, MAX_RANK)))
    return tuple(sorted(pairs))


def _numbers(raw: Any, path: str) -> tuple[int, ...]:
    """`seats` as a count (seats 1..n) or an explicit list of seat numbers."""
    if isinstance(raw, list):
        if not raw:
            raise InvalidInput(f"'{path}' must list at least one seat number", field=path)
        numbers = tuple(
            _integer(item, f"{path}[{index}]", 1, MAX_SEAT_NUMBER) for index, item in enumerate(raw)
        )
        _unique(list(numbers), path, "seat number")
        return numbers
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise InvalidInput(f"'{path}' must be a seat count or an array of seat numbers", field=path)
    # Bounded here, before range() is materialised; the caller charges the venue's budget.
    return tuple(range(1, _integer(raw, path, 1, MAX_SEAT_NUMBER) + 1))


def _category_code(raw: Any, path: str, codes: set[str]) -> str:
    code = _typed(raw, path, str)
    if code not in codes:
        raise InvalidInput(f"'{path}' is {code!r}, which is not one of 'categories'", field=path)
    return code


def _object(obj: Any, path: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidInput(f"'{path}' must be an object", field=path)
    return obj


def _only(body: dict[str, Any], path: str, allowed: set[str] | frozenset[str]) -> None:
    """Reject unknown keys, so a misspelt optional field is an error rather than a default."""
    unknown = sorted(str(key) for key in body.keys() - allowed)
    if unknown:
        where = f"'{path}'" if path else "the body"
        raise InvalidInput(
            f"{where} has unknown fields: {', '.join(unknown)}", field=path or unknown[0]
        )


def _typed(value: Any, path: str, kind: type[T]) -> T:
    if value is None:
        raise InvalidInput(f"'{path}' is required", field=path)
    # bool is an int in Python but never a valid JSON number here.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        noun = {str: "a string", int: "an integer", list: "an array", dict: "an object"}
        raise InvalidInput(f"'{path}' must be {noun.get(kind, kind.__name__)}", field=path)
    return value


def _items(body: dict[str, Any], key: str, path: str) -> list[Any]:
    items = _typed(body.get(key), path, list)
    if not items:
        raise InvalidInput(f"'{path}' must not be empty", field=path)
    return items


def _text(body: dict[str, Any], key: str, path: str, max_length: int) -> str:
    text = _typed(body.get(key), path, str).strip()
    if is_blank(text):
        raise InvalidInput(f"'{path}' must not be empty", field=path)
    if len(text) > max_length:
        raise InvalidInput(f"'{path}' must be at most {max_length} characters", field=path)
    return text


def _integer(value: Any, path: str, low: int, high: int) -> int:
    number = _typed(value, path, int)
    if not low <= number <= high:
        raise InvalidInput(f"'{path}' must be between {low} and {high}", field=path)
    return number


def _number(value: Any, path: str, low: float, high: float) -> float:
    """A JSON number (integer or not) within [low, high], as a float."""
    if value is None:
        raise InvalidInput(f"'{path}' is required", field=path)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"'{path}' must be a number", field=path)
    if not low <= value <= high:
        raise InvalidInput(f"'{path}' must be between {low:g} and {high:g}", field=path)
    return float(value)


def _coordinate(body: dict[str, Any], key: str, path: str) -> float:
    return _number(body.get(key), path, -MAX_COORDINATE, MAX_COORDINATE)


def _datetime(body: dict[str, Any], key: str) -> datetime:
    raw = _typed(body.get(key), key, str)
    try:
        parsed = datetime.fromisoformat(raw)
        moment = naive_utc(parsed) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        moment = None
    # DATETIME holds years 1000-9999.
    if moment is None or moment.year < 1000:
        raise InvalidInput(
            f"'{key}' must be an ISO-8601 datetime with a timezone, e.g. 2030-05-01T19:30:00Z",
            field=key,
        )
    return moment


def _unique(values: list[Any], path: str, what: str) -> None:
    seen: set[Any] = set()
    for value in values:
        key = _as_database_compares(value) if isinstance(value, str) else value
        if key in seen:
            raise InvalidInput(f"'{path}' has a duplicate {what}: {value!r}", field=path)
        seen.add(key)


def _as_database_compares(text: str) -> str:
    """Text folded the way MariaDB's utf8mb4_unicode_ci compares it: ignoring case and accents.

    The unique keys on codes, section names and row labels use that collation, so 'A' and 'a'
    (or 'Ecole' and 'École') are one value to MariaDB and must be one value here too.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))

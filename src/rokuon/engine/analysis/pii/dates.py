"""Dates: card expiry dates and dates of birth (era years, kanji numerals, 19 79年)."""

from __future__ import annotations

import datetime
import re

from rokuon.engine.analysis.pii.common import _Context, _coverage, _Item

# ---------------------------------------------------------------------------------------
# dates: expiry and birth dates

_ERA = r"(?P<era>昭和|平成|令和|大正)?\s?(?<![0-9十])"
_YEAR = r"(?P<y>[0-9]{2} [0-9]{2}|[0-9十]{1,4}|元)"  # 「19 79年」: Whisper splits years
_FULL_DATE = re.compile(_ERA + _YEAR + r"\s?年\s?の?\s?(?P<m>[0-9十]{1,3})\s?月"
                        r"\s?の?\s?(?P<d>[0-9十]{1,3})\s?日")
_NUM_DATE = re.compile(r"(?<![0-9])(?P<y>(?:19|20)[0-9]{2})\s?(?P<s>[/.-])\s?(?P<m>[0-9]{1,2})"
                       r"\s?(?P=s)\s?(?P<d>[0-9]{1,2})(?![0-9])")
_YEAR_MONTH = re.compile(_ERA + _YEAR + r"\s?年\s?の?\s?(?P<m>[0-9十]{1,3})\s?月")
_MONTH_YEAR = re.compile(r"(?<![0-9十])(?P<m>[0-9十]{1,3})\s?月\s?の?\s?(?P<y>[0-9十]{2,4})\s?年")
_SLASH_EXPIRY = re.compile(r"(?<![0-9/])(?P<m>[0-9]{1,2})\s?/\s?(?P<y>[0-9]{2}|[0-9]{4})(?![0-9/])")
_ERA_YEARS = {"昭和": 64, "平成": 31, "令和": 99, "大正": 15}
_THIS_YEAR = datetime.date.today().year


def _small_number(s: str) -> int | None:
    """28, 二十八 (2十8 in the view), 十二, 元 → int; None for anything else."""
    if s == "元":
        return 1
    s = s.replace(" ", "")
    if "十" not in s:
        return int(s) if s.isdigit() else None
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (int(tens) if tens else 1) * 10 + (int(ones) if ones else 0)


def _birth_year_ok(m: re.Match[str]) -> bool:
    y = _small_number(m.group("y"))
    era = m.groupdict().get("era")
    if y is None:
        return False
    if era:
        return 1 <= y <= _ERA_YEARS[era]
    return 1900 <= y <= 2100 or (len(m.group("y")) <= 2 and y < 100)


def _date_ok(m: re.Match[str]) -> bool:
    month, day = _small_number(m.group("m")), _small_number(m.group("d"))
    return (month is not None and day is not None and 1 <= month <= 12 and 1 <= day <= 31
            and _birth_year_ok(m))


def _expiry_ok(m: re.Match[str]) -> bool:
    month, year = _small_number(m.group("m")), _small_number(m.group("y"))
    if month is None or year is None or not 1 <= month <= 12:
        return False
    return year < 100 or 2000 <= year <= 2099


def _long_ago(m: re.Match[str], era: str | None) -> bool:
    """A full date of the 昭和 era, or a year at least 16 years back: in a service call
    that is a date of birth far more often than anything else."""
    if era in ("昭和", "大正"):
        return True
    year = _small_number(m.group("y"))
    return era is None and year is not None and 1900 <= year <= _THIS_YEAR - 16




def _dates(idx: int, view: str, ctx: _Context) -> tuple[list[_Item], list[tuple[int, int]]]:
    """Birth dates and card expiry dates in one segment, and every date-like span (the
    digits in them are no card or phone number)."""
    items: list[_Item] = []
    spans: list[tuple[int, int]] = []
    for rx in (_FULL_DATE, _NUM_DATE):
        for m in rx.finditer(view):
            spans.append(m.span())
            if not _date_ok(m):
                continue
            near = ctx.nearest(idx, m.start())
            after = view[m.end(): m.end() + 4]
            era = m.groupdict().get("era")
            if near == "birth_date" or after.lstrip().startswith(("生まれ", "生")):
                items.append(_Item("birth_date", [(idx, *m.span())], "rule", 0.9))
            elif _long_ago(m, era):  # whatever was asked before: a date is no number
                items.append(_Item("birth_date", [(idx, *m.span())], "rule", 0.6))
    covered = _coverage(len(view), spans)
    for rx in (_YEAR_MONTH, _MONTH_YEAR, _SLASH_EXPIRY):
        for m in rx.finditer(view):
            if covered[m.start()]:
                continue
            spans.append(m.span())
            near = ctx.nearest(idx, m.start())
            if near == "card_expiry" and _expiry_ok(m):
                items.append(_Item("card_expiry", [(idx, *m.span())], "rule", 0.9))
            elif near == "birth_date" and rx is _YEAR_MONTH:
                items.append(_Item("birth_date", [(idx, *m.span())], "rule", 0.7))
    return items, spans


"""How one printer prints, read in one place for every agent: the same keys in a hub.toml
``[[printers]]`` block (an agent inside the hub) and in a remote agent's TOML file.

    width = 42                 # characters per line: 42 (80 mm) or 32 (58 mm), 24-64
    profile = "TM-T88V"        # python-escpos capability profile
    encoding = "big5"          # Chinese: gb18030 | big5 (the printer's own font) |
                               # raster (drawn as an image) | codepage (= gb18030)
    cjk_font = "/usr/share/fonts/..."   # raster mode: a font instead of the known ones
    timezone = "Asia/Taipei"   # times on paper; default: the hub's store timezone

Older agent files say ``encoding_mode = "codepage" | "raster"`` and ``cjk_encoding =
"gb18030" | "big5"``; both are still read. Pure: only msgspec; the escpos profile itself is
checked when the agent builds its `PaperProfile` (`paper_profile`).
"""

from __future__ import annotations

import importlib.resources
import json
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from plumbing.settings import Settings, suggest

if TYPE_CHECKING:
    from devices.printers.agent import PrinterSettings
    from devices.printers.render import PaperProfile

Encoding = Literal["codepage", "gb18030", "big5", "raster"]


class PaperSettings(Settings, frozen=True, kw_only=True):
    """The paper and character keys shared by both files."""

    width: Annotated[int, msgspec.Meta(ge=24, le=64)] = 42
    profile: str = "TM-T88V"
    encoding: Encoding = "codepage"
    encoding_mode: Literal["codepage", "raster"] | None = None
    cjk_encoding: Literal["gb18030", "big5"] | None = None
    cjk_font: str | None = None
    timezone: str | None = None

    def __post_init__(self) -> None:
        # msgspec turns a ValueError here into a decode error at this block's path
        if self.encoding in ("gb18030", "big5", "raster") and (
            self.encoding_mode is not None or self.cjk_encoding is not None
        ):
            raise ValueError(
                f'encoding = "{self.encoding}" already says it all; '
                "leave out encoding_mode and cjk_encoding"
            )

    @property
    def mode(self) -> Literal["codepage", "raster"]:
        """codepage: the printer's own double-byte font; raster: lines drawn as images."""
        if self.encoding == "raster" or self.encoding_mode == "raster":
            return "raster"
        return "codepage"

    @property
    def cjk(self) -> Literal["gb18030", "big5"]:
        """The double-byte code of the printer's Chinese font."""
        if self.encoding in ("gb18030", "big5"):
            return self.encoding
        return self.cjk_encoding or "gb18030"


def paper_problem(paper: PaperSettings) -> tuple[str, str] | None:
    """The first key of `paper` that cannot work and why (an escpos profile python-escpos
    does not know, paper wider than it, an unknown timezone), found without importing
    python-escpos: its import writes a cache and sets up logging, which a process reading
    its config must not do."""
    if paper.timezone is not None:
        try:
            ZoneInfo(paper.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return "timezone", f"unknown timezone '{paper.timezone}'"
    try:
        data = (importlib.resources.files("escpos") / "capabilities.json").read_text("utf-8")
    except (ModuleNotFoundError, OSError):  # no printer extra here: the agent will say so
        return None
    profiles: dict[str, Any] = json.loads(data).get("profiles", {})
    if paper.profile not in profiles:
        near = suggest(paper.profile, sorted(profiles))
        return "profile", f"unknown python-escpos profile '{paper.profile}'{near}"
    pixels = profiles[paper.profile].get("media", {}).get("width", {}).get("pixels")
    dots = 384 if paper.width <= 32 else 512  # as PaperProfile.for_width
    if isinstance(pixels, int) and dots > pixels:
        return "width", f"{paper.width} columns need {dots} dots, {paper.profile} prints {pixels}"
    return None


def paper_profile(paper: PaperSettings, *, timezone: str | None = None) -> PaperProfile:
    """The renderer's `PaperProfile` for these settings (`timezone` when the file names
    none); `DeviceConfigError` for an unknown escpos profile or timezone."""
    from devices.printers.render import PaperProfile  # imports python-escpos

    return PaperProfile.for_width(
        paper.width,
        escpos_profile=paper.profile,
        cjk_encoding=paper.cjk,
        cjk_font=paper.cjk_font,
        timezone=paper.timezone or timezone,
    )


def printer_settings(
    paper: PaperSettings,
    *,
    timezone: str | None = None,
    poll_interval: float = 5.0,
    retry_interval: float = 3.0,
    max_queue: int = 500,
) -> PrinterSettings:
    """The agent's `PrinterSettings`, the one road from a config file to the driver."""
    from devices.printers.agent import PrinterSettings

    return PrinterSettings(
        profile=paper_profile(paper, timezone=timezone),
        encoding_mode=paper.mode,
        poll_interval=poll_interval,
        retry_interval=retry_interval,
        max_queue=max_queue,
    )

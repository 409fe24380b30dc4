"""Documents -> ESC/POS bytes (python-escpos `Dummy`) -> read back with the fake's decoder."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devices.errors import BadDocument, FontMissing
from devices.printers.fake import Receipt, TextLine, decode, receipt_png
from devices.printers.render import (
    PaperProfile,
    columns,
    find_cjk_font,
    format_money,
    parse_doc,
    render,
    text_width,
    wrap,
)
from tests.contract.update_goldens import CHANGE_CHIT, GOLDEN_DIR, GOLDENS, SIMPLE_CHIT, VOID_CHIT

P80 = PaperProfile.for_width(42)
P58 = PaperProfile.for_width(32)

KITCHEN: dict[str, Any] = {
    **SIMPLE_CHIT,
    "items": [
        {
            "qty": 2,
            "name": "Crispy Pork Belly",
            "modifiers": ["Hot", "Fried Egg"],
            "note": "no onion",
            "allergens": ["soy", "gluten"],
        },
        {"qty": 1, "name": "Steamed Rice"},
    ],
}

BILL: dict[str, Any] = {
    "kind": "bill",
    "copy": "ORIGINAL",
    "store": "Golden Lantern",
    "header": ["12 Harbour St", "Tel 555-0100"],
    "footer": ["Thank you!"],
    "table": "Table 4",
    "number": 42,
    "time": "2026-11-22T18:03:11Z",
    "currency": "USD",
    "lines": [
        {"qty": 2, "name": "Crispy Pork Belly", "modifiers": ["Hot"], "line_cents": 4000},
        {"qty": 1, "name": "Jasmine Tea", "modifiers": [], "line_cents": 450},
    ],
    "subtotal_cents": 4450,
    "tax_lines": [{"name": "Sales tax 8.875%", "cents": 395}],
    "total_cents": 4845,
    "qr": "https://golden-lantern.example/r/42?t=abc",
    "lang": "en",
}


def doc(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def read(d: dict[str, Any], profile: PaperProfile = P80, mode: str = "codepage") -> Receipt:
    data = render(parse_doc(d), profile=profile, encoding_mode=mode)  # type: ignore[arg-type]
    receipt = decode(data, cjk_encoding=profile.cjk_encoding)
    assert receipt.unknown == [], "the decoder met bytes render() should not emit"
    return receipt


def line_of(receipt: Receipt, text: str) -> TextLine:
    (found,) = [b for b in receipt.blocks if isinstance(b, TextLine) and b.text.strip() == text]
    return found


# ---------------------------------------------------------------- kitchen chit


def test_kitchen_chit_reads_back() -> None:
    r = read(KITCHEN)
    lines = [line.rstrip() for line in r.lines]
    assert [line.strip() for line in lines[:4]] == ["Table 4", "#42", "Round 2  18:03", "GRILL"]
    for expected in [
        "2 x Crispy Pork Belly",
        "    + Hot",
        "    + Fried Egg",
        "  !! no onion !!",
        " ALLERGY: SOY, GLUTEN",
        "1 x Steamed Rice",
        "Golden Lantern 2026-11-22 18:03",
    ]:
        assert expected in [line.strip() if expected[0] != " " else line for line in lines]
    assert (
        lines.index("    + Hot") < lines.index("    + Fried Egg") < lines.index("  !! no onion !!")
    )
    assert r.cuts == ["full"]
    assert r.complete
    assert r.banners == ["ALLERGY: SOY, GLUTEN"]  # an original has no REPRINT/BACKUP bar


def test_kitchen_chit_styles_make_the_important_parts_stand_out() -> None:
    r = read(KITCHEN)
    for big in ("Table 4", "#42"):
        style = line_of(r, big).style
        assert style.double_width
        assert style.double_height
        assert style.bold
        assert style.align == "center"
    assert line_of(r, "2 x Crispy Pork Belly").style.bold
    assert line_of(r, "!! no onion !!").style.bold
    allergy = line_of(r, "ALLERGY: SOY, GLUTEN")
    assert allergy.style.invert
    assert allergy.text == " ALLERGY: SOY, GLUTEN".ljust(42)
    assert not line_of(r, "+ Hot").style.bold


def test_reprint_and_backup_banners_top_and_bottom() -> None:
    r = read(doc(KITCHEN, copy="REPRINT", banner="BACKUP FOR grill-1"))
    assert r.banners == [
        "REPRINT",
        "BACKUP FOR grill-1",
        "ALLERGY: SOY, GLUTEN",
        "REPRINT",
        "BACKUP FOR grill-1",
    ]
    texts = [b for b in r.blocks if isinstance(b, TextLine)]
    assert texts[0].text.strip() == "REPRINT"
    assert texts[-1].text.strip() == "BACKUP FOR grill-1"
    assert all(len(t.text) == 42 for t in texts if t.style.invert)  # full-width bars
    assert r.cuts == ["full"]


def test_a_void_chit_says_void_top_and_bottom_with_the_quantity_and_reason() -> None:
    r = read(VOID_CHIT)
    lines = [line.strip() for line in r.lines]
    assert r.banners[0] == "*** VOID ***"
    assert r.banners[-1] == "*** VOID ***"
    assert lines[1:3] == ["Table 4", "#42"]
    assert "2 x Spring Rolls" in lines
    assert "Reason: Guest changed mind" in lines
    assert "+ Extra sauce" not in lines  # only what is voided, not the dish's options
    assert r.cuts == ["full"]


def test_a_change_chit_prints_only_what_changed() -> None:
    r = read(CHANGE_CHIT)
    lines = [line.strip() for line in r.lines]
    assert r.banners[0] == "*** CHANGE ***"
    assert "2 x Spring Rolls" in lines
    assert [ln for ln in lines if ln.startswith(">")] == [
        "> QTY 1 -> 2",
        "> + Extra sauce",
        "> NOTE: well done",
    ]
    assert line_of(r, "> QTY 1 -> 2").style.bold


def test_a_later_chit_strikes_off_voided_units() -> None:
    r = read(doc(KITCHEN, copy="REPRINT", items=[{"qty": 3, "name": "Gyoza", "void_qty": 2}]))
    lines = [line.strip() for line in r.lines]
    assert "1 x Gyoza" in lines
    voided = line_of(r, "VOID 2 x Gyoza")
    assert voided.style.invert


def test_long_names_wrap_with_a_hanging_indent_on_58mm() -> None:
    long = "Slow Braised Dongpo Pork Belly With Preserved Mustard Greens"
    r = read(doc(KITCHEN, items=[{"qty": 12, "name": long}]), profile=P58)
    start = r.lines.index("12 x Slow Braised Dongpo Pork")
    assert all(text_width(line) <= 32 for line in r.lines)
    assert r.lines[start + 1].startswith("     Belly With")


def test_control_characters_in_a_document_cannot_inject_commands() -> None:
    evil = doc(KITCHEN, items=[{"qty": 1, "name": "Pork\x1dV\x00\x1bp\x00\x19\x19", "note": "\n"}])
    r = read(evil)
    assert r.cuts == ["full"]
    assert r.drawer_kicks == 0
    assert "1 x Pork V  p" in [line.rstrip() for line in r.lines]


def test_bad_document_names_the_field() -> None:
    with pytest.raises(BadDocument, match="table"):
        parse_doc({"kind": "kitchen", "number": 1, "items": []})
    with pytest.raises(BadDocument, match="kind"):
        parse_doc({"kind": "menu"})
    with pytest.raises(BadDocument, match=r"items\[0\].qty"):
        parse_doc(doc(KITCHEN, items=[{"qty": "two", "name": "x"}]))
    with pytest.raises(BadDocument, match="table"):  # the JSON text as a job carries it
        parse_doc(b'{"kind": "kitchen", "number": 1, "items": []}')


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_golden_bytes(name: str) -> None:
    """The renderer's bytes equal the recorded golden file, which this test only reads. After
    an intended rendering change, record the files with
    `python -m tests.contract.update_goldens` and review the diff."""
    golden = GOLDEN_DIR / name
    assert golden.is_file(), f"{golden} is missing: python -m tests.contract.update_goldens"
    data = GOLDENS[name]()
    assert data == golden.read_bytes()
    assert data.startswith(b"\x1b@")
    assert data.endswith(b"\x1bd\x06\x1dV\x00")


def test_the_simple_chit_golden_is_the_kitchen_chit_with_one_item() -> None:
    """The golden document stays the chit the other tests read, with one item."""
    item = {"qty": 1, "name": "Spring Rolls", "modifiers": ["Extra sauce"]}
    assert doc(KITCHEN, items=[item]) == SIMPLE_CHIT


# ---------------------------------------------------------------- bill


@pytest.mark.parametrize("profile", [P80, P58], ids=["80mm", "58mm"])
def test_bill_columns_line_up(profile: PaperProfile) -> None:
    r = read(BILL, profile=profile)
    width = profile.width
    money_lines = {
        "2 Crispy Pork Belly": "40.00",
        "1 Jasmine Tea": "4.50",
        "Subtotal": "44.50",
        "Sales tax 8.875%": "3.95",
        "TOTAL USD": "48.45",
    }
    for label, amount in money_lines.items():
        (line,) = r.find(label)
        assert line.startswith(label)
        assert line.endswith(amount)
        assert len(line) == width
    assert "    Hot" in r.lines
    assert r.find("Table 4")[0].endswith("#42")
    assert "2026-11-22 18:03" in r.lines
    assert r.qr == [BILL["qr"]]
    assert r.cuts == ["full"]
    total = line_of(r, r.find("TOTAL USD")[0].strip())
    assert total.style.bold
    assert total.style.double_height
    assert not total.style.double_width
    assert r.lines.index("Thank you!") > r.lines.index(r.find("TOTAL USD")[0])


def test_bill_reprint_is_marked() -> None:
    r = read(doc(BILL, copy="REPRINT"))
    assert r.banners == ["REPRINT", "REPRINT"]


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (0, "USD", "0.00"),
        (5, "USD", "0.05"),
        (435500, "USD", "4,355.00"),
        (-250, "EUR", "-2.50"),
        (1200, "JPY", "1,200"),
        (12345, "KWD", "12.345"),
    ],
)
def test_money_from_integer_cents(cents: int, currency: str, text: str) -> None:
    assert format_money(cents, currency) == text


def test_test_page() -> None:
    r = read({"kind": "test", "printer": "grill-1", "time": "2026-11-22T18:03:11Z"})
    assert r.lines[0] == "TEST PAGE"
    assert "grill-1" in r.lines
    assert "Latin: café crème brûlée 5,00 €" in r.lines
    assert "中文: 宫保鸡丁 测试打印" in r.lines
    assert r.qr == ["tablehub-test:grill-1"]
    assert r.cuts == ["full"]


# ---------------------------------------------------------------- Chinese


ZH_KITCHEN = doc(
    KITCHEN,
    lang="zh-Hans",
    table="桌 4",
    items=[{"qty": 2, "name": "宫保鸡丁 Kung Pao", "modifiers": ["少辣"], "allergens": ["花生"]}],
)
ZH_BILL = doc(
    BILL,
    lang="zh-Hans",
    store="金灯笼",
    lines=[{"qty": 1, "name": "麻婆豆腐", "line_cents": 1250}],
    subtotal_cents=1250,
    tax_lines=[],
    total_cents=1250,
)


def test_chinese_in_codepage_mode_round_trips_as_gb18030() -> None:
    data = render(parse_doc(ZH_KITCHEN), profile=P80, encoding_mode="codepage")
    # FS ! 0x0C (double width+height for Kanji), FS &, GB18030 "桌", FS .
    assert b"\x1c\x21\x0c\x1c\x26" + "桌".encode("gb18030") + b"\x1c\x2e" in data
    r = decode(data)
    assert [x.strip() for x in r.lines[:2]] == ["桌 4", "#42"]
    assert "2 x 宫保鸡丁 Kung Pao" in r.lines
    assert "    + 少辣" in r.lines
    assert r.banners == ["ALLERGY 过敏: 花生"]
    assert "第2轮  18:03" in r.lines


def test_chinese_bill_columns_count_wide_characters_twice() -> None:
    r = read(ZH_BILL)
    (line,) = r.find("麻婆豆腐")
    assert line.endswith("12.50")
    assert text_width(line) == 42
    assert r.find("合计 USD")[0].endswith("12.50")
    assert [x.strip() for x in r.lines[:1]] == ["金灯笼"]


def test_traditional_chinese_for_a_big5_printer() -> None:
    big5 = PaperProfile.for_width(42, cjk_encoding="big5")
    zh = doc(ZH_BILL, lang="zh-Hant", lines=[{"qty": 1, "name": "牛肉麵", "line_cents": 1250}])
    data = render(parse_doc(zh), profile=big5, encoding_mode="codepage")
    assert "牛肉麵".encode("big5") in data
    r = decode(data, cjk_encoding="big5")
    assert r.find("牛肉麵")[0].endswith("12.50")
    assert r.find("合計 USD")


def test_raster_mode_draws_chinese_and_keeps_latin_as_text() -> None:
    data = render(parse_doc(ZH_KITCHEN), profile=P58, encoding_mode="raster")
    assert b"\x1c\x26" not in data  # no Chinese mode: the printer has no Chinese font
    r = decode(data)
    assert r.images, "lines with Chinese are raster images"
    for image in r.images:
        assert image.width == 384
        assert image.height in (24, 48)
        assert image.getextrema() == (0, 255)  # some ink on white paper
    assert "#42" in [x.strip() for x in r.lines]
    assert "GRILL" in [x.strip() for x in r.lines]
    assert not any("宫保" in line for line in r.lines)
    assert r.cuts == ["full"]


def test_raster_mode_without_a_cjk_font_names_the_package() -> None:
    with pytest.raises(FontMissing, match="fonts-wqy-microhei"):
        find_cjk_font(candidates=[("/nonexistent/font.ttc", 0)])
    profile = PaperProfile.for_width(42, cjk_font="/nonexistent/font.ttc")
    with pytest.raises(FontMissing, match=r"/nonexistent/font\.ttc"):
        render(parse_doc(ZH_KITCHEN), profile=profile, encoding_mode="raster")
    # Latin-only documents never need the font
    assert read(KITCHEN, profile=profile, mode="raster").images == []


def test_preview_png_is_paper_width() -> None:
    png = receipt_png(read(ZH_BILL), dots=512, cols=42)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width == 512 + 16
    assert image.height > 300


# ---------------------------------------------------------------- properties

WORDS = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzéüß宫保鸡丁麻婆豆腐"),
    min_size=1,
    max_size=12,
)


@given(words=st.lists(WORDS, min_size=1, max_size=12), cols=st.integers(24, 48))
def test_wrap_never_overflows_and_keeps_every_word(words: list[str], cols: int) -> None:
    lines = wrap(" ".join(words), cols, indent=4)
    assert all(text_width(line) <= cols for line in lines)
    assert "".join(lines).replace(" ", "") == "".join(words)


@given(left=st.lists(WORDS, min_size=1, max_size=8), cents=st.integers(-(10**7), 10**9))
def test_columns_put_the_amount_flush_right(left: list[str], cents: int) -> None:
    amount = format_money(cents, "USD")
    lines = columns(" ".join(left), amount, 32)
    assert lines[0].endswith(amount)
    assert text_width(lines[0]) == 32
    assert all(text_width(line) <= 32 for line in lines[1:])


@settings(max_examples=40, deadline=None)
@given(names=st.lists(WORDS, min_size=1, max_size=4), mode=st.sampled_from(["codepage"]))
def test_any_item_name_reads_back(names: list[str], mode: str) -> None:
    items = [{"qty": 1, "name": n} for n in names]
    r = read(doc(KITCHEN, items=items), mode=mode)
    assert [line for line in r.lines if line.startswith("1 x ")] == [f"1 x {n}" for n in names]

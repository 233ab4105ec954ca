"""Chinese first, English too: every translatable string has its zh translation."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def _extracted(tmp_path) -> set[str]:
    """The messages the code and templates mark for translation, as ``make translations-update``
    extracts them."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "_", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


def test_every_message_is_translated_to_chinese(tmp_path):
    wanted = _extracted(tmp_path)
    with CATALOG.open("rb") as handle:
        translated = {message.id for message in read_po(handle) if message.id and message.string}
    missing = sorted(str(message) for message in wanted - translated)
    assert missing == [], f"add these to {CATALOG.relative_to(ROOT)} (make translations-update)"


def test_the_catalogue_holds_only_messages_the_code_marks(tmp_path):
    """A message translated at run time from a variable (``_(meaning)``) must still be marked
    where it is defined: ``make translations-update`` drops whatever extraction does not find,
    and the page would show it untranslated."""
    with CATALOG.open("rb") as handle:
        catalogue = {message.id for message in read_po(handle) if message.id}
    unmarked = sorted(str(message) for message in catalogue - _extracted(tmp_path))
    assert unmarked == [], "mark these for extraction (_l) or remove them from the catalogue"

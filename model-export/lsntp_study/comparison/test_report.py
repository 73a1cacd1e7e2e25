"""The report's README: the committed one is exactly what its comparison.json gives (plus its part
written by hand), and the hand-written part is found, or refused when its markers are broken."""
import json
import os

import pytest

from lsntp.paths import PROJECT_ROOT

from .report import HAND_BEGIN, HAND_END, hand_written, markdown

COMPARISON = os.path.join(PROJECT_ROOT, "models", "comparison")


def test_the_committed_readme_is_what_its_json_gives():
    """Nobody edits the generated tables by hand: the README is report.markdown of comparison.json,
    with the part between the markers kept."""
    with open(os.path.join(COMPARISON, "comparison.json")) as f:
        report = json.load(f)
    with open(os.path.join(COMPARISON, "README.md")) as f:
        text = f.read()
    hand = hand_written(text)
    assert "## What the tables show" in hand
    assert markdown(report, hand) == text


def test_the_hand_written_part_is_found_or_refused():
    assert hand_written("# generated only\n") == ""
    assert hand_written(f"# t\n{HAND_BEGIN}\nmine\n\nmore\n{HAND_END}\nrest") == "mine\n\nmore"
    for broken in (f"{HAND_BEGIN}\nno end", f"{HAND_END}\n{HAND_BEGIN}", f"{HAND_BEGIN}\n{HAND_BEGIN}\n{HAND_END}"):
        with pytest.raises(ValueError, match="broken pair of markers"):
            hand_written(broken)
